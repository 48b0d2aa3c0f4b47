//! IDX files, the container of MNIST and Fashion-MNIST, plain or gzipped.
//!
//! Layout: a big-endian `u32` magic `0x0000_TTRR` (`TT` the element type, `0x08` = u8; `RR` the
//! rank), then `RR` big-endian `u32` dimensions, then the row-major payload. Images are rank 3
//! (`[n, rows, cols]`, magic `0x803`), labels rank 1 (`[n]`, magic `0x801`).
//!
//! The header is untrusted: the payload size it declares is checked against a limit before any
//! buffer is sized from it, and decompression is capped at the declared size, so a 100-byte file
//! claiming 2^31 images fails at once without allocating.

use std::io::Read;
use std::path::Path;

use flate2::Compression;
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::limits::{env_limits, limit_err};

/// Magic number of a u8 rank-3 IDX file (images `[n, rows, cols]`).
pub const IDX_IMAGES_MAGIC: u32 = 0x0803;
/// Magic number of a u8 rank-1 IDX file (labels `[n]`).
pub const IDX_LABELS_MAGIC: u32 = 0x0801;
/// Default cap on the payload an IDX header may declare: 2 GiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: u64 = 2 << 30;

/// The name parse errors give to bytes that came from no file.
pub(crate) const IN_MEMORY: &str = "<memory>";
/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Deflate cannot expand data by more than about 1032:1; used only to size the first buffer.
const DEFLATE_MAX_RATIO: u64 = 1032;

/// Limits applied while reading untrusted IDX headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxLimits {
    /// Largest payload (in bytes) a header may declare before the file is rejected.
    pub max_payload_bytes: u64,
}

impl Default for IdxLimits {
    fn default() -> Self {
        IdxLimits { max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES }
    }
}

impl IdxLimits {
    /// The default payload cap, lowered to `HAWQ_MAX_TENSOR_ELEMENTS` when that is smaller
    /// (an IDX element is one byte); see [`hawq_ir::limits`].
    pub fn from_env() -> Result<Self> {
        let elements = env_limits()?.max_tensor_elements;
        Ok(IdxLimits { max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES.min(elements) })
    }
}

/// A stack of greyscale u8 images read from an IDX file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Height of every image.
    pub rows: usize,
    /// Width of every image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image after image, row-major.
    pub pixels: Vec<u8>,
}

/// Reads an images file (`0x803`) with the limits of the environment ([`IdxLimits::from_env`]).
pub fn read_idx_images(path: impl AsRef<Path>) -> Result<IdxImages> {
    read_idx_images_with(path, IdxLimits::from_env()?)
}

/// Reads an images file (`0x803`) with explicit limits.
pub fn read_idx_images_with(path: impl AsRef<Path>, limits: IdxLimits) -> Result<IdxImages> {
    let path = path.as_ref();
    let (dims, pixels) = read_idx(path, IDX_IMAGES_MAGIC, limits)?;
    Ok(IdxImages { count: dims[0], rows: dims[1], cols: dims[2], pixels })
}

/// Parses the bytes of an images file (`0x803`, plain or gzipped) with explicit limits.
pub fn parse_idx_images(bytes: &[u8], limits: IdxLimits) -> Result<IdxImages> {
    let (dims, pixels) = parse_idx(bytes, Path::new(IN_MEMORY), IDX_IMAGES_MAGIC, limits)?;
    Ok(IdxImages { count: dims[0], rows: dims[1], cols: dims[2], pixels })
}

/// Reads a labels file (`0x801`) with the limits of the environment; every label must be
/// `< num_classes`.
pub fn read_idx_labels(path: impl AsRef<Path>, num_classes: usize) -> Result<Vec<u8>> {
    read_idx_labels_with(path, num_classes, IdxLimits::from_env()?)
}

/// Reads a labels file (`0x801`) with explicit limits; every label must be `< num_classes`.
pub fn read_idx_labels_with(
    path: impl AsRef<Path>,
    num_classes: usize,
    limits: IdxLimits,
) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let (_, labels) = read_idx(path, IDX_LABELS_MAGIC, limits)?;
    check_labels(path, labels, num_classes)
}

/// Parses the bytes of a labels file (`0x801`, plain or gzipped) with explicit limits; every
/// label must be `< num_classes`.
pub fn parse_idx_labels(bytes: &[u8], num_classes: usize, limits: IdxLimits) -> Result<Vec<u8>> {
    let path = Path::new(IN_MEMORY);
    let (_, labels) = parse_idx(bytes, path, IDX_LABELS_MAGIC, limits)?;
    check_labels(path, labels, num_classes)
}

/// Every label must be a class id below `num_classes`.
fn check_labels(path: &Path, labels: Vec<u8>, num_classes: usize) -> Result<Vec<u8>> {
    if let Some((index, &label)) =
        labels.iter().enumerate().find(|&(_, &l)| usize::from(l) >= num_classes)
    {
        return Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: i64::from(label),
            num_classes,
        });
    }
    Ok(labels)
}

/// Writes an images file (`0x803`), gzipped when `gzip` is true; atomic (temp file + rename).
pub fn write_idx_images(path: impl AsRef<Path>, images: &IdxImages, gzip: bool) -> Result<()> {
    let path = path.as_ref();
    let expected = images.count.checked_mul(images.rows).and_then(|n| n.checked_mul(images.cols));
    if expected != Some(images.pixels.len()) {
        return Err(DataError::invalid(
            format!("writing {}", path.display()),
            format!(
                "{} x {} x {} images need {expected:?} pixels, got {}",
                images.count,
                images.rows,
                images.cols,
                images.pixels.len()
            ),
        ));
    }
    let dims = [images.count, images.rows, images.cols];
    write_idx(path, IDX_IMAGES_MAGIC, &dims, &images.pixels, gzip)
}

/// Writes a labels file (`0x801`), gzipped when `gzip` is true; atomic (temp file + rename).
pub fn write_idx_labels(path: impl AsRef<Path>, labels: &[u8], gzip: bool) -> Result<()> {
    write_idx(path.as_ref(), IDX_LABELS_MAGIC, &[labels.len()], labels, gzip)
}

/// Reads one IDX file of u8 elements whose magic must be `magic`; returns dims and payload.
/// The file size is capped by [`Limits`] before it is read.
fn read_idx(path: &Path, magic: u32, limits: IdxLimits) -> Result<(Vec<usize>, Vec<u8>)> {
    let bytes = env_limits()?.read_file(path).map_err(|e| limit_err(path, e))?;
    parse_idx(&bytes, path, magic, limits)
}

/// Parses the bytes of one IDX file (`path` only names it in errors).
fn parse_idx(
    bytes: &[u8],
    path: &Path,
    magic: u32,
    limits: IdxLimits,
) -> Result<(Vec<usize>, Vec<u8>)> {
    let file_len = bytes.len() as u64;
    let gzipped = bytes.starts_with(&GZIP_MAGIC);
    let mut reader: Box<dyn Read + '_> =
        if gzipped { Box::new(MultiGzDecoder::new(bytes)) } else { Box::new(bytes) };

    let rank = (magic & 0xff) as usize;
    let header_len = 4 * (1 + rank) as u64;
    let found = read_u32(&mut reader, path, header_len)?;
    if found != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: describe_magic(found),
            expected: describe_magic(magic),
        });
    }
    let mut dims = Vec::with_capacity(rank);
    for _ in 0..rank {
        dims.push(read_u32(&mut reader, path, header_len)?);
    }
    let declared =
        dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d))).unwrap_or(u64::MAX);
    if declared > limits.max_payload_bytes {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            declared,
            limit: limits.max_payload_bytes,
        });
    }
    // The real data bounds the first allocation: the rest of the file for a plain file, the
    // deflate expansion limit for a gzipped one.
    let available = file_len.saturating_sub(header_len);
    if !gzipped && declared != available {
        return Err(if declared > available {
            DataError::Truncated { path: path.to_path_buf(), expected: declared, got: available }
        } else {
            DataError::TrailingData { path: path.to_path_buf(), expected: declared }
        });
    }
    let bound = if gzipped { file_len.saturating_mul(DEFLATE_MAX_RATIO) } else { available };
    let capacity = usize::try_from(declared.min(bound)).map_err(|_| DataError::TooLarge {
        path: path.to_path_buf(),
        declared,
        limit: usize::MAX as u64,
    })?;
    let mut payload = Vec::with_capacity(capacity);
    // One byte past the declared size is enough to detect trailing data.
    let read = reader.take(declared.saturating_add(1)).read_to_end(&mut payload);
    let got = payload.len() as u64;
    match read {
        Ok(_) => {}
        // A gzip stream cut short ends this way: report it as the truncation it is.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(DataError::Truncated { path: path.to_path_buf(), expected: declared, got });
        }
        Err(e) => return Err(DataError::io(path, e)),
    }
    if got < declared {
        return Err(DataError::Truncated { path: path.to_path_buf(), expected: declared, got });
    }
    if got > declared {
        return Err(DataError::TrailingData { path: path.to_path_buf(), expected: declared });
    }
    // Every dim fits in usize: their product (`declared`) was converted to usize above.
    Ok((dims.into_iter().map(|d| d as usize).collect(), payload))
}

/// Reads one big-endian `u32` of the header; end of data there means a truncated header.
fn read_u32(reader: &mut dyn Read, path: &Path, header_len: u64) -> Result<u32> {
    let mut word = [0u8; 4];
    reader.read_exact(&mut word).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => DataError::Header {
            path: path.to_path_buf(),
            detail: format!("file ends inside the {header_len}-byte header"),
        },
        _ => DataError::io(path, e),
    })?;
    Ok(u32::from_be_bytes(word))
}

/// `0x00000803 (u8, rank 3)`: the magic with the element type and rank it encodes.
fn describe_magic(magic: u32) -> String {
    let [zero_a, zero_b, ty, rank] = magic.to_be_bytes();
    let ty = match ty {
        0x08 => "u8",
        0x09 => "i8",
        0x0b => "i16",
        0x0c => "i32",
        0x0d => "f32",
        0x0e => "f64",
        _ => "unknown type",
    };
    if zero_a != 0 || zero_b != 0 {
        return format!("{magic:#010x} (not an IDX file)");
    }
    format!("{magic:#010x} ({ty}, rank {rank})")
}

/// Serialises header and payload, optionally gzips, and writes atomically.
fn write_idx(path: &Path, magic: u32, dims: &[usize], payload: &[u8], gzip: bool) -> Result<()> {
    let mut bytes = Vec::with_capacity(4 * (1 + dims.len()) + payload.len());
    bytes.extend_from_slice(&magic.to_be_bytes());
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| {
            DataError::invalid(
                format!("writing {}", path.display()),
                format!("dimension {d} does not fit the u32 of an IDX header"),
            )
        })?;
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(payload);
    if gzip {
        // flate2 writes mtime 0 and no file name, so the output is reproducible.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        std::io::Write::write_all(&mut encoder, &bytes).map_err(|e| DataError::io(path, e))?;
        bytes = encoder.finish().map_err(|e| DataError::io(path, e))?;
    }
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_descriptions_name_type_and_rank() {
        assert_eq!(describe_magic(0x803), "0x00000803 (u8, rank 3)");
        assert_eq!(describe_magic(0xd01), "0x00000d01 (f32, rank 1)");
        assert_eq!(describe_magic(0x1f8b_0800), "0x1f8b0800 (not an IDX file)");
    }
}
