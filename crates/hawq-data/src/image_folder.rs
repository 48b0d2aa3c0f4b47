//! Image-folder datasets (`root/<class>/<image>.{png,jpg,jpeg}`), as torchvision's
//! `ImageFolder`: class folders sorted by name give the class ids, files sorted by name give the
//! order inside a class.
//!
//! The evaluation transform is the usual ImageNet one: resize so the shorter side is `R`
//! (triangle, i.e. bilinear, filter), center-crop `S x S`, scale to `[0, 1]`, normalize per
//! channel. Images are decoded in parallel with rayon; the result does not depend on the
//! thread count.

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageReader};
use rayon::prelude::*;

use crate::dataset::{Dataset, Normalize};
use crate::error::{DataError, Result};
use crate::idx::IN_MEMORY;
use crate::limits::{env_limits, limit_err};

/// File extensions (compared case-insensitively) that are loaded; other files are skipped.
const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// How images of a folder are turned into tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFolderConfig {
    /// Resize so that the shorter side has this length (aspect ratio kept); `None` keeps the size.
    pub resize_shorter: Option<u32>,
    /// Center crop to `S x S`; `None` keeps the (resized) image whole, in which case every image
    /// must end up with the same size.
    pub center_crop: Option<u32>,
    /// Decode to one grey channel instead of RGB.
    pub grayscale: bool,
    /// Per-channel normalization after scaling to `[0, 1]` (1 or 3 channels to match `grayscale`).
    pub normalize: Normalize,
}

impl ImageFolderConfig {
    /// ImageNet evaluation: shorter side 256, center crop 224, RGB, ImageNet mean/std.
    pub fn imagenet() -> Self {
        ImageFolderConfig {
            resize_shorter: Some(256),
            center_crop: Some(224),
            grayscale: false,
            normalize: Normalize::imagenet(),
        }
    }

    /// Fashion-MNIST-like folders: grey, size kept, Fashion-MNIST mean/std.
    pub fn fashion_mnist() -> Self {
        ImageFolderConfig {
            resize_shorter: None,
            center_crop: None,
            grayscale: true,
            normalize: Normalize::fashion_mnist(),
        }
    }

    fn channels(&self) -> usize {
        if self.grayscale { 1 } else { 3 }
    }
}

impl Default for ImageFolderConfig {
    fn default() -> Self {
        Self::imagenet()
    }
}

impl Dataset {
    /// Loads every PNG/JPEG under `root/<class>/`; class names are the folder names.
    pub fn from_image_folder(root: impl AsRef<Path>, config: &ImageFolderConfig) -> Result<Self> {
        load_image_folder(root.as_ref(), config)
    }
}

/// Loads an image folder (see the module docs); errors name the offending file or folder.
pub fn load_image_folder(root: &Path, config: &ImageFolderConfig) -> Result<Dataset> {
    check_config(config)?;
    let FolderListing { class_names, files } = list_image_folder(root)?;
    let decoded: Vec<(Vec<f32>, [usize; 3])> =
        files.par_iter().map(|(path, _)| load_image(path, config)).collect::<Result<_>>()?;
    let shape = decoded.first().map(|(_, s)| *s).ok_or_else(|| DataError::Image {
        path: root.to_path_buf(),
        detail: "no images found".to_string(),
    })?;
    let mut images = Vec::with_capacity(decoded.len() * shape.iter().product::<usize>());
    for ((pixels, s), (path, _)) in decoded.into_iter().zip(&files) {
        if s != shape {
            return Err(DataError::Image {
                path: path.clone(),
                detail: format!(
                    "size {s:?} differs from the first image's {shape:?}; set a center crop"
                ),
            });
        }
        images.extend_from_slice(&pixels);
    }
    let labels = files.iter().map(|(_, label)| *label).collect();
    Dataset::new(images, labels, shape, class_names.len())?.with_class_names(class_names)
}

/// Normalization that fits the channel count, and positive sizes.
fn check_config(config: &ImageFolderConfig) -> Result<()> {
    config.normalize.check(config.channels())?;
    if config.resize_shorter == Some(0) || config.center_crop == Some(0) {
        return Err(DataError::invalid("image folder config", "sizes must be positive"));
    }
    Ok(())
}

/// What an image folder holds, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderListing {
    /// Class folder names, sorted; the index is the class id.
    pub class_names: Vec<String>,
    /// Every image file with its class id, class by class, files sorted by name.
    pub files: Vec<(PathBuf, u32)>,
}

/// Lists the classes and image files of an image folder without decoding anything.
pub fn list_image_folder(root: &Path) -> Result<FolderListing> {
    let mut classes = Vec::new();
    for entry in sorted_entries(root)? {
        if entry.is_dir() {
            let name =
                entry.file_name().and_then(|n| n.to_str()).ok_or_else(|| DataError::Image {
                    path: entry.clone(),
                    detail: "class folder name is not valid UTF-8".to_string(),
                })?;
            if !name.starts_with('.') {
                classes.push((name.to_string(), entry.clone()));
            }
        }
    }
    if classes.is_empty() {
        return Err(DataError::Image {
            path: root.to_path_buf(),
            detail: "no class subfolders".to_string(),
        });
    }
    let mut files = Vec::new();
    for (label, (_, dir)) in classes.iter().enumerate() {
        let before = files.len();
        for path in sorted_entries(dir)? {
            if path.is_file() && is_image_file(&path) {
                // Class ids fit u32: a folder cannot hold 2^32 subfolders in practice, and
                // Dataset::new checks labels against the class count anyway.
                files.push((path, label as u32));
            }
        }
        if files.len() == before {
            return Err(DataError::Image {
                path: dir.clone(),
                detail: "class folder has no .png/.jpg/.jpeg file".to_string(),
            });
        }
    }
    Ok(FolderListing { class_names: classes.into_iter().map(|(name, _)| name).collect(), files })
}

/// Entries of `dir`, sorted by file name so the order is the same on every filesystem.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .map(|entry| entry.map(|e| e.path()).map_err(|e| DataError::io(dir, e)))
        .collect::<Result<Vec<_>>>()?;
    entries.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    Ok(entries)
}

fn is_image_file(path: &Path) -> bool {
    let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    !hidden && ext.is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.as_str()))
}

/// Reads one file (size capped by the limits of the environment) and decodes it.
fn load_image(path: &Path, config: &ImageFolderConfig) -> Result<(Vec<f32>, [usize; 3])> {
    let bytes = env_limits()?.read_file(path).map_err(|e| limit_err(path, e))?;
    decode_with(&bytes, path, config)
}

/// Decodes a PNG or JPEG held in memory and applies resize, center crop, scaling and
/// normalization; returns planar `C x H x W` floats and `[C, H, W]`. The decoder's own
/// allocation limit (512 MiB) caps what a forged header can make it allocate.
pub fn decode_image(bytes: &[u8], config: &ImageFolderConfig) -> Result<(Vec<f32>, [usize; 3])> {
    decode_with(bytes, Path::new(IN_MEMORY), config)
}

/// [`decode_image`], naming `path` in errors.
fn decode_with(
    bytes: &[u8],
    path: &Path,
    config: &ImageFolderConfig,
) -> Result<(Vec<f32>, [usize; 3])> {
    let image_err = |detail: String| DataError::Image { path: path.to_path_buf(), detail };
    check_config(config)?;
    let decoded = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DataError::io(path, e))?
        .decode()
        .map_err(|e| image_err(e.to_string()))?;
    let resized = match config.resize_shorter {
        Some(r) => resize_shorter_side(&decoded, r),
        None => decoded,
    };
    let cropped = match config.center_crop {
        Some(s) => {
            let (w, h) = (resized.width(), resized.height());
            if s > w || s > h {
                return Err(image_err(format!("{w}x{h} image is smaller than the {s}x{s} crop")));
            }
            resized.crop_imm(center_offset(w - s), center_offset(h - s), s, s)
        }
        None => resized,
    };
    let (w, h) = (cropped.width() as usize, cropped.height() as usize);
    let channels = config.channels();
    // Interleaved HWC bytes → planar CHW floats.
    let interleaved = if config.grayscale {
        cropped.into_luma8().into_raw()
    } else {
        cropped.into_rgb8().into_raw()
    };
    let plane = w * h;
    let mut pixels = vec![0.0f32; channels * plane];
    for (i, px) in interleaved.chunks_exact(channels).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            pixels[c * plane + i] = f32::from(v) / 255.0;
        }
    }
    config.normalize.apply_chw(&mut pixels, plane);
    Ok((pixels, [channels, h, w]))
}

/// Resizes so the shorter side is `target`; the longer side becomes
/// `floor(target * long / short)`, as torchvision's `Resize(int)` computes it.
fn resize_shorter_side(image: &DynamicImage, target: u32) -> DynamicImage {
    let (w, h) = (u64::from(image.width()), u64::from(image.height()));
    let (short, long) = (w.min(h).max(1), w.max(h));
    let scaled = (long * u64::from(target) / short).clamp(1, u64::from(u32::MAX));
    // Clamped into u32 range just above.
    let scaled = scaled as u32;
    let (nw, nh) = if w <= h { (target, scaled) } else { (scaled, target) };
    if (nw, nh) == (image.width(), image.height()) {
        return image.clone();
    }
    match image {
        DynamicImage::ImageLuma8(img) => imageops::resize(img, nw, nh, FilterType::Triangle).into(),
        _ => imageops::resize(&image.to_rgb8(), nw, nh, FilterType::Triangle).into(),
    }
}

/// torchvision's `int(round(diff / 2))`, with Python's round-half-to-even.
fn center_offset(diff: u32) -> u32 {
    let half = diff / 2;
    if diff % 2 == 1 && half % 2 == 1 { half + 1 } else { half }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn center_offset_rounds_half_to_even_like_python() {
        // Python: round(0.5)=0, round(1.5)=2, round(2.5)=2, round(3.5)=4.
        assert_eq!([0, 1, 2, 3, 4, 5, 6, 7].map(center_offset), [0, 0, 1, 2, 2, 2, 3, 4]);
    }

    #[test]
    fn shorter_side_resize_keeps_aspect() {
        let img = DynamicImage::new_rgb8(400, 300);
        let r = resize_shorter_side(&img, 256);
        assert_eq!((r.width(), r.height()), (341, 256));
        let img = DynamicImage::new_luma8(30, 60);
        let r = resize_shorter_side(&img, 15);
        assert_eq!((r.width(), r.height()), (15, 30));
    }
}
