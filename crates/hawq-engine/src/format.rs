//! The `.hawq` file: a safetensors container. Tensors hold the integer weights (`I8`, or for
//! 4-bit layers `U8` with two weights per byte: element `2i` in the low nibble, `2i+1` in the
//! high nibble, each a two's-complement 4-bit value) and the int32 biases (`I32`); the
//! safetensors metadata key `hawq` holds the model as JSON (graph, per-layer bits, scales,
//! dyadic parameters, format version). Loading validates every size, offset, dtype and index
//! before use; saving writes a temp file and renames it, so a crash never leaves a
//! half-written model.

use crate::error::{EngineError, Result};
use crate::qmodel::{FORMAT_VERSION, QModel, QOp};
use hawq_ir::limits::{LimitError, Limits};
use safetensors::SafeTensors;
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Largest `.hawq` file accepted by default (raise with `HAWQ_MAX_FILE_BYTES` or
/// [`load_with_limit`]).
pub const DEFAULT_MAX_FILE_BYTES: u64 = hawq_ir::limits::DEFAULT_MAX_FILE_BYTES;

fn file_err(path: &Path, detail: impl Into<String>) -> EngineError {
    EngineError::File { path: path.display().to_string(), detail: detail.into() }
}

fn io_err(path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Io { path: path.display().to_string(), source }
}

/// Packs signed 4-bit values two per byte (even index → low nibble).
pub fn pack_i4(values: &[i8]) -> Vec<u8> {
    values
        .chunks(2)
        .map(|p| (p[0] as u8 & 0x0f) | ((p.get(1).copied().unwrap_or(0) as u8 & 0x0f) << 4))
        .collect()
}

/// Unpacks `n` signed 4-bit values (sign-extending each nibble).
pub fn unpack_i4(bytes: &[u8], n: usize) -> Vec<i8> {
    (0..n)
        .map(|i| {
            let nib = if i % 2 == 0 { bytes[i / 2] & 0x0f } else { bytes[i / 2] >> 4 };
            ((nib << 4) as i8) >> 4
        })
        .collect()
}

/// Serializes a model to `.hawq` bytes.
pub fn to_bytes(model: &QModel) -> Result<Vec<u8>> {
    let json = serde_json::to_string(model)
        .map_err(|e| file_err(Path::new("<memory>"), format!("cannot encode metadata: {e}")))?;
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for layer in model.layers() {
        let (dtype, bytes) = if layer.bits == 4 {
            (Dtype::U8, pack_i4(&layer.weights))
        } else {
            (Dtype::I8, layer.weights.iter().map(|&w| w as u8).collect())
        };
        owned.push((format!("{}.weight", layer.name), dtype, vec![bytes.len()], bytes));
        let bias: Vec<u8> = layer.bias.iter().flat_map(|b| b.to_le_bytes()).collect();
        owned.push((format!("{}.bias", layer.name), Dtype::I32, vec![layer.bias.len()], bias));
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| file_err(Path::new("<memory>"), format!("cannot encode tensors: {e}")))?;
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "hawq".to_string());
    meta.insert("version".to_string(), FORMAT_VERSION.to_string());
    meta.insert("hawq".to_string(), json);
    safetensors::serialize(views, Some(meta))
        .map_err(|e| file_err(Path::new("<memory>"), format!("cannot serialize: {e}")))
}

/// Writes `bytes` to `path` atomically: temp file in the same folder, fsync, rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| file_err(path, "not a file path"))?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    Ok(())
}

/// Saves a model (validated first) to a `.hawq` file atomically.
pub fn save(model: &QModel, path: &Path) -> Result<()> {
    model.validate()?;
    write_atomic(path, &to_bytes(model)?)
}

/// Loads and validates a `.hawq` file of at most `HAWQ_MAX_FILE_BYTES` (default
/// [`DEFAULT_MAX_FILE_BYTES`]; see [`hawq_ir::limits`]).
pub fn load(path: &Path) -> Result<QModel> {
    let limits = Limits::from_env().map_err(|e| file_err(path, e.to_string()))?;
    load_with_limit(path, limits.max_file_bytes)
}

/// Loads and validates a `.hawq` file of at most `max_bytes`.
pub fn load_with_limit(path: &Path, max_bytes: u64) -> Result<QModel> {
    let limits = Limits { max_file_bytes: max_bytes, ..Limits::default() };
    let bytes = limits.read_file(path).map_err(|e| match e {
        LimitError::Io { source, .. } => io_err(path, source),
        other => file_err(path, other.to_string()),
    })?;
    from_bytes(&bytes).map_err(|e| match e {
        EngineError::File { detail, .. } => file_err(path, detail),
        EngineError::InvalidModel { node, detail } => {
            file_err(path, format!("node '{node}': {detail}"))
        }
        other => other,
    })
}

fn tensor<'a>(st: &'a SafeTensors, name: &str, dtype: Dtype, len: usize) -> Result<TensorView<'a>> {
    let here = Path::new("<memory>");
    let t = st.tensor(name).map_err(|_| file_err(here, format!("tensor '{name}' is missing")))?;
    if t.dtype() != dtype || t.shape() != [len] {
        return Err(file_err(
            here,
            format!(
                "tensor '{name}' is {:?} {:?}, expected {dtype:?} [{len}]",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    Ok(t)
}

/// Parses and validates `.hawq` bytes.
pub fn from_bytes(bytes: &[u8]) -> Result<QModel> {
    let here = Path::new("<memory>");
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| file_err(here, format!("not a safetensors container: {e}")))?;
    let meta = header
        .metadata()
        .as_ref()
        .ok_or_else(|| file_err(here, "no hawq metadata (is this a .hawq file?)"))?;
    if meta.get("format").map(String::as_str) != Some("hawq") {
        return Err(file_err(here, "metadata does not mark this as a hawq model"));
    }
    let version = meta.get("version").and_then(|v| v.parse::<u32>().ok());
    if version != Some(FORMAT_VERSION) {
        return Err(file_err(
            here,
            format!(
                "format version {version:?} is not supported (this hawq reads version {FORMAT_VERSION})"
            ),
        ));
    }
    let json = meta.get("hawq").ok_or_else(|| file_err(here, "metadata key 'hawq' is missing"))?;
    let mut model: QModel = serde_json::from_str(json)
        .map_err(|e| file_err(here, format!("bad model metadata: {e}")))?;
    if model.version != FORMAT_VERSION {
        return Err(file_err(here, format!("model version {} is not supported", model.version)));
    }
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| file_err(here, format!("bad tensor table: {e}")))?;
    for node in &mut model.nodes {
        let QOp::Layer(layer) = &mut node.op else { continue };
        let g = &layer.geom;
        let numel = (g.in_channels / g.groups.max(1))
            .checked_mul(g.kernel[0])
            .and_then(|v| v.checked_mul(g.kernel[1]))
            .and_then(|v| v.checked_mul(g.out_channels))
            .ok_or_else(|| {
                file_err(here, format!("layer '{}': weight size overflows", layer.name))
            })?;
        let wname = format!("{}.weight", layer.name);
        layer.weights = match layer.bits {
            4 => unpack_i4(tensor(&st, &wname, Dtype::U8, numel.div_ceil(2))?.data(), numel),
            8 => tensor(&st, &wname, Dtype::I8, numel)?.data().iter().map(|&b| b as i8).collect(),
            b => {
                return Err(file_err(
                    here,
                    format!("layer '{}': unsupported bit width {b}", layer.name),
                ));
            }
        };
        let bias = tensor(&st, &format!("{}.bias", layer.name), Dtype::I32, g.out_channels)?;
        layer.bias = bias
            .data()
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
    }
    model.validate()?;
    Ok(model)
}
