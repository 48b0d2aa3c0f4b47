//! An in-memory labelled image dataset (`N x C x H x W` f32, normalized) and its constructors
//! from IDX and `.npy` pairs. Image folders are built in [`crate::image_folder`].

use std::path::Path;

use crate::error::{DataError, Result};
use crate::idx::{read_idx_images, read_idx_labels};
use crate::npy::{NpyData, read_npy, read_npy_labels};

/// Per-channel normalization `x' = (x - mean[c]) / std[c]`, applied to pixels already scaled
/// to `[0, 1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalize {
    /// Mean of each channel.
    pub mean: Vec<f32>,
    /// Standard deviation of each channel (must be positive).
    pub std: Vec<f32>,
}

impl Normalize {
    /// Fashion-MNIST training-set statistics: mean 0.2860, std 0.3530 (one channel).
    pub fn fashion_mnist() -> Self {
        Normalize { mean: vec![0.2860], std: vec![0.3530] }
    }

    /// ImageNet RGB statistics (mean 0.485/0.456/0.406, std 0.229/0.224/0.225).
    pub fn imagenet() -> Self {
        Normalize { mean: vec![0.485, 0.456, 0.406], std: vec![0.229, 0.224, 0.225] }
    }

    /// The identity for `channels` channels: pixels stay in `[0, 1]`.
    pub fn identity(channels: usize) -> Self {
        Normalize { mean: vec![0.0; channels], std: vec![1.0; channels] }
    }

    /// Checks that there is one positive, finite std and one finite mean per channel.
    pub fn check(&self, channels: usize) -> Result<()> {
        let context = "normalization";
        if self.mean.len() != channels || self.std.len() != channels {
            return Err(DataError::invalid(
                context,
                format!(
                    "{} mean(s) and {} std(s) for {channels} channel(s)",
                    self.mean.len(),
                    self.std.len()
                ),
            ));
        }
        if self.mean.iter().any(|m| !m.is_finite())
            || self.std.iter().any(|s| !s.is_finite() || *s <= 0.0)
        {
            return Err(DataError::invalid(
                context,
                format!("mean {:?} / std {:?} must be finite, std > 0", self.mean, self.std),
            ));
        }
        Ok(())
    }

    /// The normalized value of a black (zero) pixel per channel: what torchvision's zero padding
    /// before `Normalize` turns into.
    pub fn black(&self) -> Vec<f32> {
        self.mean.iter().zip(&self.std).map(|(m, s)| -m / s).collect()
    }

    /// Normalizes CHW pixels in place; `plane` is `H * W`.
    pub(crate) fn apply_chw(&self, pixels: &mut [f32], plane: usize) {
        for (c, channel) in pixels.chunks_mut(plane).enumerate() {
            let (mean, std) = (self.mean[c % self.mean.len()], self.std[c % self.std.len()]);
            for x in channel {
                *x = (*x - mean) / std;
            }
        }
    }
}

/// Labelled images held in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `N * C * H * W` pixels, image after image in CHW order, already normalized.
    pub images: Vec<f32>,
    /// One class id per image, each `< num_classes`.
    pub labels: Vec<u32>,
    /// `[C, H, W]` of every image.
    pub shape: [usize; 3],
    /// Number of classes.
    pub num_classes: usize,
    /// Optional human-readable name of each class (`num_classes` entries).
    pub class_names: Option<Vec<String>>,
}

impl Dataset {
    /// Builds a dataset after checking that sizes, labels and class count agree.
    pub fn new(
        images: Vec<f32>,
        labels: Vec<u32>,
        shape: [usize; 3],
        num_classes: usize,
    ) -> Result<Self> {
        let dataset = Dataset { images, labels, shape, num_classes, class_names: None };
        dataset.validate()?;
        Ok(dataset)
    }

    /// Checks the invariants the public fields must keep: a non-empty image shape, pixels for
    /// exactly one image per label, labels below `num_classes`, and `num_classes` names if any.
    pub fn validate(&self) -> Result<()> {
        let context = "dataset";
        let shape = self.shape;
        let per_image = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).unwrap_or(0);
        if per_image == 0 {
            return Err(DataError::invalid(context, format!("image shape {shape:?} is empty")));
        }
        let (n_pixels, n_labels) = (self.images.len(), self.labels.len());
        if Some(n_pixels) != n_labels.checked_mul(per_image) {
            return Err(DataError::invalid(
                context,
                format!(
                    "{n_labels} labels of {shape:?} images need {} pixels, got {n_pixels}",
                    n_labels.saturating_mul(per_image)
                ),
            ));
        }
        let num_classes = self.num_classes;
        if let Some((i, l)) =
            self.labels.iter().enumerate().find(|(_, l)| **l as usize >= num_classes)
        {
            return Err(DataError::invalid(
                context,
                format!("label {l} at index {i} is outside 0..{num_classes}"),
            ));
        }
        if let Some(names) = &self.class_names
            && names.len() != num_classes
        {
            return Err(DataError::invalid(
                context,
                format!("{} class names for {num_classes} classes", names.len()),
            ));
        }
        Ok(())
    }

    /// Reads a u8 IDX image file and its label file; the class count is the largest label + 1.
    pub fn from_idx(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
        normalize: &Normalize,
    ) -> Result<Self> {
        Self::read_idx_pair(images_path.as_ref(), labels_path.as_ref(), None, normalize)
    }

    /// Like [`Dataset::from_idx`] with a known class count; any label `>= num_classes` is an
    /// error naming the label file.
    pub fn from_idx_with_classes(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
        num_classes: usize,
        normalize: &Normalize,
    ) -> Result<Self> {
        let (images, labels) = (images_path.as_ref(), labels_path.as_ref());
        Self::read_idx_pair(images, labels, Some(num_classes), normalize)
    }

    fn read_idx_pair(
        images_path: &Path,
        labels_path: &Path,
        num_classes: Option<usize>,
        normalize: &Normalize,
    ) -> Result<Self> {
        normalize.check(1)?;
        let images = read_idx_images(images_path)?;
        let labels = read_idx_labels(labels_path, num_classes.unwrap_or(256))?;
        if labels.len() != images.count {
            return Err(count_mismatch(images_path, images.count, labels_path, labels.len()));
        }
        let shape = [1, images.rows, images.cols];
        let pixels = to_normalized(&images.pixels, normalize, shape);
        let labels: Vec<u32> = labels.into_iter().map(u32::from).collect();
        let num_classes = num_classes.unwrap_or_else(|| inferred_classes(&labels));
        Self::new(pixels, labels, shape, num_classes)
    }

    /// Reads images from a `.npy` file of shape `[N, H, W]` (one channel) or `[N, C, H, W]` and
    /// labels from a rank-1 `.npy` (`<i8`, `<i4` or `|u1`). `|u1` pixels are scaled to `[0, 1]`
    /// before `normalize`; `<f4` pixels are normalized as they are (pass
    /// [`Normalize::identity`] to keep them). The class count is the largest label + 1.
    pub fn from_npy(
        images_path: impl AsRef<Path>,
        labels_path: impl AsRef<Path>,
        normalize: &Normalize,
    ) -> Result<Self> {
        let (images_path, labels_path) = (images_path.as_ref(), labels_path.as_ref());
        let array = read_npy(images_path)?;
        let (n, shape) = match array.shape[..] {
            [n, h, w] => (n, [1, h, w]),
            [n, c, h, w] => (n, [c, h, w]),
            _ => {
                return Err(DataError::Header {
                    path: images_path.to_path_buf(),
                    detail: format!(
                        "images must be [N, H, W] or [N, C, H, W], got {:?}",
                        array.shape
                    ),
                });
            }
        };
        normalize.check(shape[0])?;
        let pixels = match array.data {
            NpyData::U8(bytes) => to_normalized(&bytes, normalize, shape),
            NpyData::F32(mut values) => {
                values.chunks_mut(shape.iter().product::<usize>().max(1)).for_each(|image| {
                    normalize.apply_chw(image, shape[1] * shape[2]);
                });
                values
            }
            other => {
                return Err(DataError::Unsupported {
                    path: images_path.to_path_buf(),
                    what: format!("image dtype '{}' (use '<f4' or '|u1')", other.dtype().descr()),
                });
            }
        };
        let labels = read_npy_labels(labels_path)?;
        if labels.len() != n {
            return Err(count_mismatch(images_path, n, labels_path, labels.len()));
        }
        let num_classes = inferred_classes(&labels);
        Self::new(pixels, labels, shape, num_classes)
    }

    /// Attaches class names; there must be exactly `num_classes` of them.
    pub fn with_class_names(mut self, names: Vec<String>) -> Result<Self> {
        if names.len() != self.num_classes {
            return Err(DataError::invalid(
                "class names",
                format!("{} names for {} classes", names.len(), self.num_classes),
            ));
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the dataset holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Number of f32 values per image (`C * H * W`).
    pub fn image_len(&self) -> usize {
        self.shape.iter().product()
    }

    /// The CHW pixels of image `index`, or `None` past the end.
    pub fn image(&self, index: usize) -> Option<&[f32]> {
        let len = self.image_len();
        self.images.get(index * len..(index + 1) * len)
    }

    /// How many images each class has (labels outside `0..num_classes`, which only editing the
    /// public fields can produce, are not counted).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes];
        for &l in &self.labels {
            if let Some(c) = counts.get_mut(l as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// A new dataset made of the images at `indices`, in that order (repeats allowed).
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        let len = self.image_len();
        let mut images = Vec::with_capacity(indices.len() * len);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let image = self.image(i).ok_or_else(|| {
                DataError::invalid("subset", format!("index {i} out of 0..{}", self.len()))
            })?;
            images.extend_from_slice(image);
            labels.push(self.labels[i]);
        }
        Ok(Dataset { images, labels, class_names: self.class_names.clone(), ..*self })
    }
}

/// u8 pixels of CHW images to `[0, 1]` and then through `normalize`.
fn to_normalized(bytes: &[u8], normalize: &Normalize, shape: [usize; 3]) -> Vec<f32> {
    let mut pixels: Vec<f32> = bytes.iter().map(|&b| f32::from(b) / 255.0).collect();
    let per_image = shape.iter().product::<usize>().max(1);
    for image in pixels.chunks_mut(per_image) {
        normalize.apply_chw(image, shape[1] * shape[2]);
    }
    pixels
}

/// Largest label + 1 (0 for no labels).
fn inferred_classes(labels: &[u32]) -> usize {
    labels.iter().max().map_or(0, |&m| m as usize + 1)
}

fn count_mismatch(images: &Path, n_images: usize, labels: &Path, n_labels: usize) -> DataError {
    DataError::invalid(
        format!("{} + {}", images.display(), labels.display()),
        format!("{n_images} images but {n_labels} labels"),
    )
}
