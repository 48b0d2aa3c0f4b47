//! Atomic file writes: write a sibling temporary file, then rename it over the target, so a
//! crash or a full disk never leaves a half-written dataset or array behind.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_sibling(path);
    let written = (|| -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        Ok(())
    })();
    if let Err(source) = written {
        // Best effort: the temporary file is garbage whatever the reason of the failure.
        let _ = fs::remove_file(&tmp);
        return Err(DataError::io(&tmp, source));
    }
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        DataError::io(path, source)
    })
}

/// `dir/.name.tmp-<pid>`: same folder (so the rename stays on one filesystem), hidden, and
/// distinct per process.
fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}
