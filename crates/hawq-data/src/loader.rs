//! Epoch iteration: a seeded order over a [`Dataset`], cut into batches, optionally augmented.
//! The same dataset, configuration and seed always give the same batches, bit for bit.

use rand_chacha::ChaCha8Rng;

use crate::augment::Augment;
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::rng::{AUGMENT_STREAM, seeded_rng, shuffled_indices};

/// How an epoch is cut into batches.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    /// Images per batch (the last batch may be smaller unless `drop_last`).
    pub batch_size: usize,
    /// Visit images in a seeded random order instead of dataset order.
    pub shuffle: bool,
    /// Skip a final batch smaller than `batch_size`.
    pub drop_last: bool,
    /// Augmentation applied to each image, or `None` for the images as stored.
    pub augment: Option<Augment>,
}

impl LoaderConfig {
    /// Training: shuffled, partial last batch kept, with the given augmentation.
    pub fn train(batch_size: usize, augment: Option<Augment>) -> Self {
        LoaderConfig { batch_size, shuffle: true, drop_last: false, augment }
    }

    /// Evaluation: dataset order, no augmentation, partial last batch kept.
    pub fn eval(batch_size: usize) -> Self {
        LoaderConfig { batch_size, shuffle: false, drop_last: false, augment: None }
    }
}

/// Iterator over the batches of one epoch: each item is `(images, labels)` with `images` in
/// `N x C x H x W` order and `N = labels.len()`.
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    dataset: &'a Dataset,
    config: &'a LoaderConfig,
    order: Vec<usize>,
    next: usize,
    rng: ChaCha8Rng,
}

/// Batches of one epoch of `dataset`, ordered and augmented from `seed` (derive one per epoch
/// with [`crate::epoch_seed`]).
pub fn epoch_batches<'a>(
    dataset: &'a Dataset,
    config: &'a LoaderConfig,
    seed: u64,
) -> Result<Batches<'a>> {
    if config.batch_size == 0 {
        return Err(DataError::invalid("loader", "batch size must be positive"));
    }
    dataset.validate()?;
    if let Some(augment) = &config.augment {
        augment.check(dataset.shape[0])?;
    }
    let order = if config.shuffle {
        shuffled_indices(dataset.len(), seed)
    } else {
        (0..dataset.len()).collect()
    };
    Ok(Batches { dataset, config, order, next: 0, rng: seeded_rng(seed, AUGMENT_STREAM) })
}

impl Batches<'_> {
    /// The image indices of the whole epoch, in visiting order.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Batches left in the epoch.
    pub fn remaining(&self) -> usize {
        let left = self.order.len() - self.next;
        if self.config.drop_last {
            left / self.config.batch_size
        } else {
            left.div_ceil(self.config.batch_size)
        }
    }
}

impl Iterator for Batches<'_> {
    type Item = (Vec<f32>, Vec<u32>);

    fn next(&mut self) -> Option<Self::Item> {
        let left = self.order.len() - self.next;
        let n = left.min(self.config.batch_size);
        if n == 0 || (self.config.drop_last && n < self.config.batch_size) {
            return None;
        }
        let indices = &self.order[self.next..self.next + n];
        self.next += n;
        let ds = self.dataset;
        let len = ds.image_len();
        let mut images = vec![0.0f32; n * len];
        let mut labels = Vec::with_capacity(n);
        for (&i, dst) in indices.iter().zip(images.chunks_exact_mut(len)) {
            // `validate` in `epoch_batches` proved every index of `order` has an image.
            let src = ds.image(i)?;
            match &self.config.augment {
                // Shapes and fill were checked in `epoch_batches`, so augmentation cannot fail.
                Some(a) => {
                    if a.apply(src, ds.shape, &mut self.rng, dst).is_err() {
                        return None;
                    }
                }
                None => dst.copy_from_slice(src),
            }
            labels.push(ds.labels[i]);
        }
        Some((images, labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining();
        (n, Some(n))
    }
}

impl ExactSizeIterator for Batches<'_> {}
