//! Integration tests of hawq-data (one binary, ripgrep-style): file formats, the committed
//! Fashion-MNIST subset, image folders, shuffling, augmentation and batching.

mod bytes;
mod fmnist;
mod folder;
mod idx;
mod loader;
mod npy;

use std::path::{Path, PathBuf};

/// A fresh temporary folder, removed when dropped.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create temporary folder")
}

/// `dir/name` as an owned path.
pub fn file(dir: &Path, name: &str) -> PathBuf {
    dir.join(name)
}
