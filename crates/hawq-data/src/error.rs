//! Typed errors of the data crate: every variant names the file (or folder) it is about and what
//! is wrong with it.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong while reading, writing or batching a dataset.
#[allow(missing_docs)] // each variant's message describes its fields
#[derive(Debug, Error)]
pub enum DataError {
    /// The operating system refused a read or write.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file does not start with the magic number of the expected format.
    #[error("{}: bad magic {found}, expected {expected}", path.display())]
    BadMagic { path: PathBuf, found: String, expected: String },
    /// A header field is malformed or inconsistent.
    #[error("{}: malformed header: {detail}", path.display())]
    Header { path: PathBuf, detail: String },
    /// The file holds less data than its header declares.
    #[error("{}: truncated: header declares {expected} bytes of data, file has {got}", path.display())]
    Truncated { path: PathBuf, expected: u64, got: u64 },
    /// The file holds more data than its header declares.
    #[error("{}: unexpected data after the {expected} bytes the header declares", path.display())]
    TrailingData { path: PathBuf, expected: u64 },
    /// The header declares more data than the configured limit allows.
    #[error("{}: header declares {declared} bytes of data, above the limit of {limit}", path.display())]
    TooLarge { path: PathBuf, declared: u64, limit: u64 },
    /// The element type or storage order is one this crate does not read.
    #[error("{}: unsupported {what}", path.display())]
    Unsupported { path: PathBuf, what: String },
    /// A `.npy` array is stored in Fortran (column-major) order.
    #[error("{}: fortran_order is True; only C-order arrays are supported", path.display())]
    FortranOrder { path: PathBuf },
    /// A label is not a valid class id.
    #[error("{}: label {label} at index {index} is outside 0..{num_classes}", path.display())]
    LabelOutOfRange { path: PathBuf, index: usize, label: i64, num_classes: usize },
    /// An image could not be decoded or does not fit the requested transform.
    #[error("{}: {detail}", path.display())]
    Image { path: PathBuf, detail: String },
    /// A dataset that should be installed on this machine is missing.
    #[error("dataset not found in {}: {hint}", dir.display())]
    MissingDataset { dir: PathBuf, hint: String },
    /// Arguments or in-memory data do not fit together (sizes, counts, configuration).
    #[error("{context}: {detail}")]
    Invalid { context: String, detail: String },
}

impl DataError {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io { path: path.into(), source }
    }

    /// Builds an [`DataError::Invalid`] from two displayable parts.
    pub(crate) fn invalid(context: impl Into<String>, detail: impl Into<String>) -> Self {
        DataError::Invalid { context: context.into(), detail: detail.into() }
    }
}

/// Result alias of the data crate.
pub type Result<T> = std::result::Result<T, DataError>;
