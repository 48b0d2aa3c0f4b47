//! # hawq-data
//!
//! Datasets for training, calibrating and evaluating hawq's CNNs, read entirely offline:
//!
//! - [`idx`]: MNIST-style IDX files, plain or gzipped, with headers checked before allocating;
//! - [`npy`]: NumPy `.npy` arrays (`<f4`, `|u1`, `<i4`, `<i8`, C order), read and written;
//! - [`Dataset`]: `N x C x H x W` f32 images, normalized, with labels, from IDX or `.npy` pairs
//!   or from an image folder ([`image_folder`], ImageNet-style evaluation transform);
//! - [`fmnist`]: the Fashion-MNIST subset committed in `data/fashion-mnist-subset` and the full
//!   set from the Debian package `dataset-fashion-mnist`;
//! - [`loader`] + [`augment`]: seeded epoch order, random crop with padding and flip, batches.
//!
//! Everything is deterministic: the same seed gives the same order and the same augmentations on
//! every machine and thread count.
//!
//! ```no_run
//! use hawq_data::{Augment, LoaderConfig, Split, epoch_batches, epoch_seed, load_fmnist_subset};
//!
//! let train = load_fmnist_subset(Split::Train)?;
//! assert_eq!((train.len(), train.shape), (5_000, [1, 28, 28]));
//! let config = LoaderConfig::train(64, Some(Augment::fashion_mnist()));
//! for (images, labels) in epoch_batches(&train, &config, epoch_seed(42, 0))? {
//!     assert_eq!(images.len(), labels.len() * 28 * 28);
//! }
//! # Ok::<(), hawq_data::DataError>(())
//! ```

mod atomic;
pub mod augment;
pub mod dataset;
pub mod error;
pub mod fmnist;
pub mod idx;
pub mod image_folder;
mod limits;
pub mod loader;
pub mod npy;
mod npy_header;
pub mod rng;

pub use augment::Augment;
pub use dataset::{Dataset, Normalize};
pub use error::{DataError, Result};
pub use fmnist::{
    DEFAULT_FMNIST_DIR, FMNIST_NUM_CLASSES, Split, default_subset_dir, fashion_mnist_class_names,
    load_fmnist_full, load_fmnist_subset,
};
pub use idx::{
    IdxImages, IdxLimits, parse_idx_images, parse_idx_labels, read_idx_images,
    read_idx_images_with, read_idx_labels, read_idx_labels_with, write_idx_images,
    write_idx_labels,
};
pub use image_folder::{
    FolderListing, ImageFolderConfig, decode_image, list_image_folder, load_image_folder,
};
pub use loader::{Batches, LoaderConfig, epoch_batches};
pub use npy::{
    NpyArray, NpyData, NpyDtype, parse_npy, read_npy, read_npy_f32, read_npy_labels, write_npy,
    write_npy_f32,
};
pub use rng::{epoch_seed, seeded_rng, shuffled_indices};
