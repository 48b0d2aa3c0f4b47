//! NumPy `.npy` files: reader and writer for the few dtypes a dataset needs.
//!
//! Format (numpy's `format.py`): the 6 bytes `\x93NUMPY`, a major and a minor version byte, the
//! header length (`u16` little-endian in v1.0, `u32` in v2.0 and v3.0), then a Python dict
//! literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces to a
//! multiple of 64 bytes and ended by `\n`, then the raw C-order data.
//!
//! Supported dtypes: `<f4`, `|u1`, `<i4`, `<i8` (little-endian only). Fortran order is rejected
//! with [`DataError::FortranOrder`]. The header length and the data size implied by the shape are
//! both checked against the file's real size before any buffer is sized from them.

use std::io::Read;
use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::{DataError, Result};
use crate::idx::IN_MEMORY;
use crate::limits::{env_limits, limit_err};
use crate::npy_header::{NpyHeader, format_header, parse_header};
use hawq_ir::limits::Limits;

/// The first six bytes of every `.npy` file.
const NPY_MAGIC: &[u8; 6] = b"\x93NUMPY";
/// numpy refuses headers above 10,000 bytes by default; allow more, but not unboundedly more.
const MAX_HEADER_LEN: u64 = 1 << 20;

/// The element types this crate reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpyDtype {
    /// 32-bit float, little-endian (`<f4`).
    F32,
    /// Unsigned byte (`|u1`).
    U8,
    /// 32-bit signed integer, little-endian (`<i4`).
    I32,
    /// 64-bit signed integer, little-endian (`<i8`).
    I64,
}

impl NpyDtype {
    /// The numpy `descr` string numpy itself writes for this type.
    pub fn descr(self) -> &'static str {
        match self {
            NpyDtype::F32 => "<f4",
            NpyDtype::U8 => "|u1",
            NpyDtype::I32 => "<i4",
            NpyDtype::I64 => "<i8",
        }
    }

    /// Bytes per element.
    pub fn item_size(self) -> u64 {
        match self {
            NpyDtype::U8 => 1,
            NpyDtype::F32 | NpyDtype::I32 => 4,
            NpyDtype::I64 => 8,
        }
    }

    /// Parses a `descr`; `None` for anything unsupported (big-endian, other widths, structs).
    pub fn from_descr(descr: &str) -> Option<Self> {
        match descr {
            "<f4" => Some(NpyDtype::F32),
            "|u1" | "<u1" => Some(NpyDtype::U8),
            "<i4" => Some(NpyDtype::I32),
            "<i8" => Some(NpyDtype::I64),
            _ => None,
        }
    }
}

/// The elements of an array, in C order.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `<f4` elements.
    F32(Vec<f32>),
    /// `|u1` elements.
    U8(Vec<u8>),
    /// `<i4` elements.
    I32(Vec<i32>),
    /// `<i8` elements.
    I64(Vec<i64>),
}

impl NpyData {
    /// The dtype of the elements.
    pub fn dtype(&self) -> NpyDtype {
        match self {
            NpyData::F32(_) => NpyDtype::F32,
            NpyData::U8(_) => NpyDtype::U8,
            NpyData::I32(_) => NpyDtype::I32,
            NpyData::I64(_) => NpyDtype::I64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyData::F32(v) => v.len(),
            NpyData::U8(v) => v.len(),
            NpyData::I32(v) => v.len(),
            NpyData::I64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as little-endian bytes, as they are stored in a file.
    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            NpyData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            NpyData::U8(v) => v.clone(),
            NpyData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            NpyData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    /// Decodes little-endian bytes whose length is a multiple of the item size.
    fn from_le_bytes(dtype: NpyDtype, bytes: Vec<u8>) -> Self {
        match dtype {
            NpyDtype::F32 => NpyData::F32(decode(&bytes, f32::from_le_bytes)),
            NpyDtype::U8 => NpyData::U8(bytes),
            NpyDtype::I32 => NpyData::I32(decode(&bytes, i32::from_le_bytes)),
            NpyDtype::I64 => NpyData::I64(decode(&bytes, i64::from_le_bytes)),
        }
    }
}

/// Decodes fixed-size little-endian elements (`chunks_exact` guarantees the width).
fn decode<const W: usize, T>(bytes: &[u8], from: fn([u8; W]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(W)
        .map(|c| {
            let mut word = [0u8; W];
            word.copy_from_slice(c);
            from(word)
        })
        .collect()
}

/// An n-dimensional array read from or written to a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions, outermost first (an empty shape is a scalar with one element).
    pub shape: Vec<usize>,
    /// The elements in C (row-major) order.
    pub data: NpyData,
}

/// Reads any supported `.npy` file; the file size and the element count are capped by the
/// limits of the environment ([`hawq_ir::limits`]).
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray> {
    let path = path.as_ref();
    let limits = env_limits()?;
    let bytes = limits.read_file(path).map_err(|e| limit_err(path, e))?;
    decode_npy(&bytes, path, &limits)
}

/// Parses the bytes of a `.npy` file with the default [`Limits`].
pub fn parse_npy(bytes: &[u8]) -> Result<NpyArray> {
    decode_npy(bytes, Path::new(IN_MEMORY), &Limits::default())
}

/// Parses `.npy` bytes (`path` only names them in errors).
fn decode_npy(bytes: &[u8], path: &Path, limits: &Limits) -> Result<NpyArray> {
    let file_len = bytes.len() as u64;
    let mut reader = bytes;
    let header_err = |detail: String| DataError::Header { path: path.to_path_buf(), detail };

    let mut preamble = [0u8; 10];
    read_exact(&mut reader, &mut preamble, path, "the 10-byte preamble")?;
    if &preamble[..6] != NPY_MAGIC {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: format!("{:02x?}", &preamble[..6]),
            expected: "\\x93NUMPY".to_string(),
        });
    }
    let (major, minor) = (preamble[6], preamble[7]);
    let (header_len, data_offset) = match major {
        1 => (u64::from(u16::from_le_bytes([preamble[8], preamble[9]])), 10),
        2 | 3 => {
            let mut rest = [0u8; 2];
            read_exact(&mut reader, &mut rest, path, "the 4-byte header length")?;
            let len = u32::from_le_bytes([preamble[8], preamble[9], rest[0], rest[1]]);
            (u64::from(len), 12)
        }
        _ => {
            return Err(DataError::Unsupported {
                path: path.to_path_buf(),
                what: format!("format version {major}.{minor}"),
            });
        }
    };
    if header_len > MAX_HEADER_LEN {
        return Err(header_err(format!("header length {header_len} above {MAX_HEADER_LEN}")));
    }
    let data_offset = data_offset + header_len;
    if data_offset > file_len {
        return Err(header_err(format!(
            "header length {header_len} runs past the end of the {file_len}-byte file"
        )));
    }
    // Bounded by MAX_HEADER_LEN and by the file size, both checked just above.
    let mut header_bytes = vec![0u8; header_len as usize];
    read_exact(&mut reader, &mut header_bytes, path, "the header")?;
    let header_text = if major == 3 {
        String::from_utf8(header_bytes).map_err(|_| header_err("header is not UTF-8".into()))?
    } else {
        if !header_bytes.is_ascii() {
            return Err(header_err(format!("v{major}.{minor} header is not ASCII")));
        }
        String::from_utf8_lossy(&header_bytes).into_owned()
    };
    let NpyHeader { descr, fortran_order, shape } =
        parse_header(&header_text).map_err(header_err)?;
    if fortran_order {
        return Err(DataError::FortranOrder { path: path.to_path_buf() });
    }
    let dtype = NpyDtype::from_descr(&descr).ok_or_else(|| DataError::Unsupported {
        path: path.to_path_buf(),
        what: format!("dtype '{descr}' (supported: '<f4', '|u1', '<i4', '<i8')"),
    })?;
    let dims: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
    limits
        .check_elements(&format!("array of shape {shape:?}"), &dims)
        .map_err(|e| header_err(e.to_string()))?;

    let available = file_len - data_offset;
    let declared = shape
        .iter()
        .try_fold(dtype.item_size(), |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    if declared > available {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: declared,
            got: available,
        });
    }
    if declared < available {
        return Err(DataError::TrailingData { path: path.to_path_buf(), expected: declared });
    }
    // `declared` equals the real remaining data, so this copy is backed by data.
    Ok(NpyArray { shape, data: NpyData::from_le_bytes(dtype, reader.to_vec()) })
}

/// Reads an `<f4` file; any other dtype is an [`DataError::Unsupported`] error.
pub fn read_npy_f32(path: impl AsRef<Path>) -> Result<(Vec<usize>, Vec<f32>)> {
    let path = path.as_ref();
    let array = read_npy(path)?;
    match array.data {
        NpyData::F32(v) => Ok((array.shape, v)),
        other => Err(DataError::Unsupported {
            path: path.to_path_buf(),
            what: format!("dtype '{}' where '<f4' is required", other.dtype().descr()),
        }),
    }
}

/// Reads a rank-1 array of class labels stored as `<i8`, `<i4` or `|u1`; negative labels and
/// labels above `u32::MAX` are errors.
pub fn read_npy_labels(path: impl AsRef<Path>) -> Result<Vec<u32>> {
    let path = path.as_ref();
    let array = read_npy(path)?;
    if array.shape.len() != 1 {
        return Err(DataError::Header {
            path: path.to_path_buf(),
            detail: format!("labels must have rank 1, shape is {:?}", array.shape),
        });
    }
    let wide: Vec<i64> = match array.data {
        NpyData::U8(v) => return Ok(v.into_iter().map(u32::from).collect()),
        NpyData::I32(v) => v.into_iter().map(i64::from).collect(),
        NpyData::I64(v) => v,
        NpyData::F32(_) => {
            return Err(DataError::Unsupported {
                path: path.to_path_buf(),
                what: "dtype '<f4' for labels (use '<i8', '<i4' or '|u1')".to_string(),
            });
        }
    };
    wide.iter()
        .enumerate()
        .map(|(index, &label)| {
            u32::try_from(label).map_err(|_| DataError::LabelOutOfRange {
                path: path.to_path_buf(),
                index,
                label,
                num_classes: 1 << 32,
            })
        })
        .collect()
}

/// Writes an array (v1.0 header, or v2.0 when the header needs more than 64 KiB); atomic.
pub fn write_npy(path: impl AsRef<Path>, array: &NpyArray) -> Result<()> {
    let dtype = array.data.dtype();
    write_encoded(path.as_ref(), dtype, &array.shape, array.data.len(), &array.data.to_le_bytes())
}

/// Writes an `<f4` array; atomic (temp file + rename).
pub fn write_npy_f32(path: impl AsRef<Path>, shape: &[usize], data: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    write_encoded(path.as_ref(), NpyDtype::F32, shape, data.len(), &bytes)
}

/// Checks that `shape` holds `len` elements, then writes header and little-endian payload.
fn write_encoded(
    path: &Path,
    dtype: NpyDtype,
    shape: &[usize],
    len: usize,
    payload: &[u8],
) -> Result<()> {
    let expected = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    if expected != Some(len) {
        return Err(DataError::invalid(
            format!("writing {}", path.display()),
            format!("shape {shape:?} does not fit {len} elements"),
        ));
    }
    let header = format_header(dtype.descr(), shape);
    let mut bytes = Vec::with_capacity(header.len() + payload.len());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(payload);
    write_atomic(path, &bytes)
}

/// `read_exact` whose early end of file is reported as a malformed header (naming the part).
fn read_exact(reader: &mut impl Read, buf: &mut [u8], path: &Path, part: &str) -> Result<()> {
    reader.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => DataError::Header {
            path: path.to_path_buf(),
            detail: format!("file ends inside {part}"),
        },
        _ => DataError::io(path, e),
    })
}
