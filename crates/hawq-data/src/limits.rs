//! The resource limits of [`hawq_ir::limits`] as data errors, shared by the IDX and `.npy`
//! readers.

use std::path::Path;

use hawq_ir::limits::{LimitError, Limits};

use crate::error::{DataError, Result};

/// The limits of the environment (`HAWQ_MAX_FILE_BYTES`, `HAWQ_MAX_TENSOR_ELEMENTS`).
pub(crate) fn env_limits() -> Result<Limits> {
    Limits::from_env().map_err(|e| DataError::invalid("resource limits", e.to_string()))
}

/// A limit broken while reading `path`, as the data error that describes it.
pub(crate) fn limit_err(path: &Path, e: LimitError) -> DataError {
    match e {
        LimitError::Io { source, .. } => DataError::io(path, source),
        LimitError::FileTooLarge { size, limit, .. } => {
            DataError::TooLarge { path: path.to_path_buf(), declared: size, limit }
        }
        other => DataError::invalid(path.display().to_string(), other.to_string()),
    }
}
