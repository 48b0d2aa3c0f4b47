//! Fashion-MNIST: the balanced subset committed in the repository and the full dataset from the
//! Debian package `dataset-fashion-mnist`.

use std::path::{Path, PathBuf};

use crate::dataset::{Dataset, Normalize};
use crate::error::{DataError, Result};

/// Where the Debian package `dataset-fashion-mnist` installs the full dataset.
pub const DEFAULT_FMNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Number of Fashion-MNIST classes.
pub const FMNIST_NUM_CLASSES: usize = 10;

/// Which half of a dataset to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training split.
    Train,
    /// The test split.
    Test,
}

/// The ten Fashion-MNIST class names, in label order (0 = "T-shirt/top" ... 9 = "Ankle boot").
pub fn fashion_mnist_class_names() -> Vec<String> {
    [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    .map(String::from)
    .to_vec()
}

/// The repository's `data/fashion-mnist-subset` (5,000 train + 1,000 test images, 500 / 100 per
/// class), found relative to this crate's source folder.
pub fn default_subset_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/fashion-mnist-subset")
}

/// `(images, labels)` paths of the committed subset's `split`.
pub fn subset_files(dir: &Path, split: Split) -> (PathBuf, PathBuf) {
    let prefix = match split {
        Split::Train => "train5k",
        Split::Test => "test1k",
    };
    idx_pair(dir, prefix)
}

/// `(images, labels)` paths of the full dataset's `split` (original file names).
pub fn full_files(dir: &Path, split: Split) -> (PathBuf, PathBuf) {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    idx_pair(dir, prefix)
}

fn idx_pair(dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
        dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
    )
}

/// Loads the committed subset, normalized with [`Normalize::fashion_mnist`], class names attached.
pub fn load_fmnist_subset(split: Split) -> Result<Dataset> {
    let dir = default_subset_dir();
    let (images, labels) = subset_files(&dir, split);
    if !images.is_file() || !labels.is_file() {
        return Err(DataError::MissingDataset {
            dir,
            hint: "the committed Fashion-MNIST subset is missing; rebuild it with \
                   `python3 scripts/make_fmnist_subset.py`"
                .to_string(),
        });
    }
    load_pair(&images, &labels)
}

/// Loads the full dataset (60,000 train / 10,000 test) from `dir`, or from
/// [`DEFAULT_FMNIST_DIR`] when `None`; normalized with [`Normalize::fashion_mnist`], class names
/// attached.
pub fn load_fmnist_full(dir: Option<&Path>, split: Split) -> Result<Dataset> {
    let dir = dir.map_or_else(|| PathBuf::from(DEFAULT_FMNIST_DIR), Path::to_path_buf);
    let (images, labels) = full_files(&dir, split);
    if !images.is_file() || !labels.is_file() {
        return Err(DataError::MissingDataset {
            dir,
            hint: format!(
                "expected {} and {}; install the full Fashion-MNIST with \
                 `apt-get install dataset-fashion-mnist`",
                file_name(&images),
                file_name(&labels)
            ),
        });
    }
    load_pair(&images, &labels)
}

fn load_pair(images: &Path, labels: &Path) -> Result<Dataset> {
    let normalize = Normalize::fashion_mnist();
    Dataset::from_idx_with_classes(images, labels, FMNIST_NUM_CLASSES, &normalize)?
        .with_class_names(fashion_mnist_class_names())
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
