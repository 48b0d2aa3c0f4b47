//! Resource limits for untrusted model and data files.
//!
//! Every loader in hawq (`.hawq`, `.onnx`, safetensors checkpoints, `.npy`, IDX) checks the size
//! of the file it is given and the element count of every tensor a header declares against
//! these limits before allocating. The defaults are far above any model or dataset hawq
//! targets; a user with a bigger file raises them through two environment variables, read here
//! and nowhere else:
//!
//! - `HAWQ_MAX_FILE_BYTES` (default [`DEFAULT_MAX_FILE_BYTES`], 4 GiB);
//! - `HAWQ_MAX_TENSOR_ELEMENTS` (default [`DEFAULT_MAX_TENSOR_ELEMENTS`], 2^30).
//!
//! A value that is not a positive whole number is an error, never silently replaced by the
//! default.

use std::io::Read;
use std::path::Path;

use thiserror::Error;

/// Environment variable that raises (or lowers) the largest model or data file accepted.
pub const MAX_FILE_BYTES_ENV: &str = "HAWQ_MAX_FILE_BYTES";
/// Environment variable that raises (or lowers) the largest tensor element count accepted.
pub const MAX_TENSOR_ELEMENTS_ENV: &str = "HAWQ_MAX_TENSOR_ELEMENTS";
/// Default largest file: 4 GiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 4 << 30;
/// Default largest tensor: 2^30 elements (4 GiB of f32).
pub const DEFAULT_MAX_TENSOR_ELEMENTS: u64 = 1 << 30;

/// A limit was broken, or the environment sets one to nonsense.
#[derive(Debug, Error)]
pub enum LimitError {
    /// An environment variable does not hold a positive whole number.
    #[error("environment variable {var}='{value}' is not a positive whole number")]
    BadEnv {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
    },
    /// A file is larger than the file-size limit.
    #[error(
        "{what} is {size} bytes, above the limit of {limit} bytes (raise it with {MAX_FILE_BYTES_ENV})"
    )]
    FileTooLarge {
        /// The file.
        what: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// A tensor declares more elements than the element limit.
    #[error(
        "{what} declares {count} elements, above the limit of {limit} (raise it with {MAX_TENSOR_ELEMENTS_ENV})"
    )]
    TooManyElements {
        /// The tensor and where it is.
        what: String,
        /// The declared element count (`u64::MAX` when the product overflows).
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// The limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest model or data file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Largest element count of any one tensor.
    pub max_tensor_elements: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_tensor_elements: DEFAULT_MAX_TENSOR_ELEMENTS,
        }
    }
}

/// Reads one limit variable; unset means the default.
fn env_limit(var: &'static str, default: u64) -> Result<u64, LimitError> {
    match std::env::var(var) {
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(LimitError::BadEnv { var, value: v.to_string_lossy().into_owned() })
        }
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(LimitError::BadEnv { var, value }),
        },
    }
}

impl Limits {
    /// The defaults, overridden by `HAWQ_MAX_FILE_BYTES` and `HAWQ_MAX_TENSOR_ELEMENTS`.
    pub fn from_env() -> Result<Limits, LimitError> {
        Ok(Limits {
            max_file_bytes: env_limit(MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES)?,
            max_tensor_elements: env_limit(MAX_TENSOR_ELEMENTS_ENV, DEFAULT_MAX_TENSOR_ELEMENTS)?,
        })
    }

    /// Checks a file size (`what` names the file in the error).
    pub fn check_file_size(&self, what: &str, size: u64) -> Result<(), LimitError> {
        if size > self.max_file_bytes {
            return Err(LimitError::FileTooLarge {
                what: what.to_string(),
                size,
                limit: self.max_file_bytes,
            });
        }
        Ok(())
    }

    /// Checks the element count of a tensor of `dims` (`what` names the tensor and file).
    /// Returns the count, which then fits `usize` and the limit.
    pub fn check_elements(&self, what: &str, dims: &[u64]) -> Result<usize, LimitError> {
        let count = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).unwrap_or(u64::MAX);
        if count > self.max_tensor_elements {
            return Err(LimitError::TooManyElements {
                what: what.to_string(),
                count,
                limit: self.max_tensor_elements,
            });
        }
        usize::try_from(count).map_err(|_| LimitError::TooManyElements {
            what: what.to_string(),
            count,
            limit: usize::MAX as u64,
        })
    }

    /// Reads a whole file of at most `max_file_bytes`. The size is checked before reading and
    /// the read itself is capped, so a file that grows, or a device that never ends, cannot make
    /// it read more.
    pub fn read_file(&self, path: &Path) -> Result<Vec<u8>, LimitError> {
        let io = |source| LimitError::Io { path: path.display().to_string(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let what = path.display().to_string();
        self.check_file_size(&what, len)?;
        // `len` is at most the limit, itself a u64; a capacity hint only, so clamp on 32-bit.
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(self.max_file_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
        let read = bytes.len() as u64;
        self.check_file_size(&what, read)?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_counts_are_checked_without_overflow() {
        let l = Limits { max_file_bytes: 10, max_tensor_elements: 100 };
        assert_eq!(l.check_elements("t", &[10, 10]).unwrap(), 100);
        assert_eq!(l.check_elements("t", &[]).unwrap(), 1);
        let err = l.check_elements("t", &[u64::MAX, 3]).unwrap_err();
        assert!(matches!(err, LimitError::TooManyElements { count: u64::MAX, .. }), "{err}");
        assert!(l.check_elements("t", &[11, 10]).is_err());
    }

    #[test]
    fn file_reads_are_capped() {
        let dir = std::env::temp_dir().join(format!("hawq-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("eleven.bin");
        std::fs::write(&path, [7u8; 11]).unwrap();
        let small = Limits { max_file_bytes: 10, max_tensor_elements: 1 };
        let err = small.read_file(&path).unwrap_err();
        assert!(err.to_string().contains("11 bytes") && err.to_string().contains("eleven.bin"));
        assert_eq!(Limits::default().read_file(&path).unwrap(), vec![7u8; 11]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
