//! Parameters as safetensors files (F32, little-endian).
//!
//! Writes are atomic: the bytes go to a temporary file in the destination's directory, are
//! flushed to disk, then renamed over the destination, so a crash leaves either the old file or
//! the new one, never half of one. Reads check every tensor's dtype and byte length against
//! its shape before allocating.

use crate::error::{IrError, Result};
use crate::graph::Graph;
use crate::limits::Limits;
use crate::op::Op;
use crate::tensor::{Tensor, checked_numel};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

fn weights_err(path: &Path, detail: impl Into<String>) -> IrError {
    IrError::Weights { path: path.display().to_string(), detail: detail.into() }
}

/// Saves the parameters as an F32 safetensors file, atomically.
pub fn save_params(params: &BTreeMap<String, Tensor>, path: &Path) -> Result<()> {
    save_params_with_metadata(params, &HashMap::new(), path)
}

/// Saves the parameters with string metadata (the safetensors `__metadata__` map), atomically.
pub fn save_params_with_metadata(
    params: &BTreeMap<String, Tensor>,
    metadata: &HashMap<String, String>,
    path: &Path,
) -> Result<()> {
    let bytes: Vec<(String, Vec<u8>)> = params
        .iter()
        .map(|(name, t)| (name.clone(), t.data().iter().flat_map(|v| v.to_le_bytes()).collect()))
        .collect();
    let mut views = Vec::with_capacity(bytes.len());
    for ((name, raw), t) in bytes.iter().zip(params.values()) {
        let view = TensorView::new(Dtype::F32, t.shape().to_vec(), raw)
            .map_err(|e| weights_err(path, format!("tensor '{name}': {e}")))?;
        views.push((name.as_str(), view));
    }
    let meta = (!metadata.is_empty()).then(|| metadata.clone());
    let file = safetensors::serialize(views, meta).map_err(|e| weights_err(path, e.to_string()))?;
    write_atomically(path, &file).map_err(|e| weights_err(path, format!("cannot write: {e}")))
}

/// Reads only the string metadata of a safetensors file (empty if it has none). Reads the
/// header alone, whose size the format caps, never the tensors.
pub fn read_metadata(path: &Path) -> Result<HashMap<String, String>> {
    use std::io::Read;
    let mut f = File::open(path).map_err(|e| weights_err(path, format!("cannot read: {e}")))?;
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| weights_err(path, "too short for a safetensors header"))?;
    let n = u64::from_le_bytes(len);
    const MAX_HEADER: u64 = 100 << 20;
    if n > MAX_HEADER {
        return Err(weights_err(
            path,
            format!("header of {n} bytes exceeds the {MAX_HEADER}-byte limit"),
        ));
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).map_err(|_| weights_err(path, "truncated safetensors header"))?;
    let v: serde_json::Value = serde_json::from_slice(&header)
        .map_err(|e| weights_err(path, format!("bad header: {e}")))?;
    let Some(meta) = v.get("__metadata__") else { return Ok(HashMap::new()) };
    let map = meta.as_object().ok_or_else(|| weights_err(path, "__metadata__ is not an object"))?;
    map.iter()
        .map(|(k, v)| match v.as_str() {
            Some(s) => Ok((k.clone(), s.to_string())),
            None => Err(weights_err(path, format!("metadata '{k}' is not a string"))),
        })
        .collect()
}

/// Writes `bytes` to a sibling temporary file, syncs it, renames it over `path`, then syncs the
/// directory so the rename itself is durable. The temporary file is removed on failure.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name")
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.tmp-{}-{unique}", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the temporary may not exist if creating it is what failed.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    // Directory fsync is not supported everywhere; the file itself is already durable.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Loads every tensor of an F32 safetensors file. Errors name the file and, where relevant,
/// the tensor (non-F32 dtype, byte length that does not match the shape, corrupt header, a
/// NaN or infinite value, a size above the limits of [`crate::limits`]).
pub fn load_params(path: &Path) -> Result<BTreeMap<String, Tensor>> {
    let limits = Limits::from_env().map_err(|e| weights_err(path, e.to_string()))?;
    let bytes = limits.read_file(path).map_err(|e| weights_err(path, e.to_string()))?;
    // The safetensors parser checks the header length and the data offsets against `bytes`.
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| weights_err(path, format!("not a valid safetensors file: {e}")))?;
    let mut params = BTreeMap::new();
    for (name, view) in file.iter() {
        let dims: Vec<u64> = view.shape().iter().map(|&d| d as u64).collect();
        limits
            .check_elements(&format!("tensor '{name}'"), &dims)
            .map_err(|e| weights_err(path, e.to_string()))?;
        if view.dtype() != Dtype::F32 {
            return Err(weights_err(
                path,
                format!("tensor '{name}' has dtype {:?}, only F32 is supported", view.dtype()),
            ));
        }
        let shape = view.shape().to_vec();
        let expected = checked_numel(&shape).and_then(|n| n.checked_mul(4));
        if expected != Some(view.data().len()) {
            return Err(weights_err(
                path,
                format!("tensor '{name}' has shape {shape:?} but {} data bytes", view.data().len()),
            ));
        }
        let data: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        // A NaN or infinity would flow silently into every output: refuse it here.
        if let Some(index) = data.iter().position(|v| !v.is_finite()) {
            return Err(weights_err(
                path,
                format!("tensor '{name}' holds {} at index {index}", data[index]),
            ));
        }
        let t = Tensor::new(shape, data)
            .map_err(|e| weights_err(path, format!("tensor '{name}': {e}")))?;
        params.insert(name.to_string(), t);
    }
    Ok(params)
}

/// The shape each parameter of `op` must have, derived from its config.
fn expected_shapes(op: &Op) -> Vec<(&str, Vec<usize>)> {
    match op {
        Op::Conv2d(c) => {
            let mut v = vec![(c.weight.as_str(), c.weight_shape())];
            v.extend(c.bias.as_deref().map(|b| (b, vec![c.out_channels])));
            v
        }
        Op::Linear(l) => {
            let mut v = vec![(l.weight.as_str(), vec![l.out_features, l.in_features])];
            v.extend(l.bias.as_deref().map(|b| (b, vec![l.out_features])));
            v
        }
        Op::BatchNorm(b) => {
            [&b.scale, &b.bias, &b.mean, &b.var].map(|p| (p.as_str(), vec![b.channels])).into()
        }
        _ => Vec::new(),
    }
}

impl Graph {
    /// Replaces the graph's parameters with those of a safetensors file. Every parameter the
    /// nodes name (and every one the graph already holds) must be present with the shape the op
    /// config implies (or, for parameters no node names, the shape already held); missing,
    /// mis-shaped and extra tensors are errors naming them. On error the graph is unchanged.
    pub fn load_weights(&mut self, path: &Path) -> Result<()> {
        let loaded = load_params(path)?;
        let mut want: BTreeMap<&str, Vec<usize>> =
            self.params.iter().map(|(k, t)| (k.as_str(), t.shape().to_vec())).collect();
        for node in &self.nodes {
            for (name, shape) in expected_shapes(&node.op) {
                want.insert(name, shape);
            }
        }
        let missing: Vec<&str> =
            want.keys().copied().filter(|k| !loaded.contains_key(*k)).collect();
        if !missing.is_empty() {
            return Err(weights_err(path, format!("missing tensors {missing:?}")));
        }
        let extra: BTreeSet<&str> =
            loaded.keys().map(String::as_str).filter(|k| !want.contains_key(k)).collect();
        if !extra.is_empty() {
            return Err(weights_err(path, format!("tensors the graph does not use: {extra:?}")));
        }
        for (name, shape) in &want {
            let got = loaded.get(*name).map(Tensor::shape).unwrap_or_default();
            if got != shape.as_slice() {
                return Err(weights_err(
                    path,
                    format!("tensor '{name}' has shape {got:?}, the graph expects {shape:?}"),
                ));
            }
        }
        self.params = loaded;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh path in the system temp dir, unique per test.
    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("hawq-ir-weights-{}-{tag}.safetensors", std::process::id()))
    }

    #[test]
    fn round_trip_is_bit_exact() {
        let mut params = BTreeMap::new();
        let odd = vec![1.5, -0.0, f32::MIN_POSITIVE, f32::MAX, 1e-40, -3.25];
        params.insert("a.weight".to_string(), Tensor::new(vec![2, 3], odd).unwrap());
        params.insert("a.bias".to_string(), Tensor::from_vec(vec![7.0]));
        params.insert("scalar".to_string(), Tensor::new(vec![], vec![2.0]).unwrap());
        let path = temp_path("roundtrip");
        save_params(&params, &path).unwrap();
        let back = load_params(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert_eq!(back.len(), 3);
        for (k, t) in &params {
            assert_eq!(back[k].shape(), t.shape(), "{k}");
            let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&back[k]), bits(t), "{k}");
        }
    }

    #[test]
    fn overwrite_leaves_no_temporary_files() {
        let path = temp_path("overwrite");
        let mut params = BTreeMap::new();
        params.insert("w".to_string(), Tensor::from_vec(vec![1.0]));
        save_params(&params, &path).unwrap();
        params.insert("w".to_string(), Tensor::from_vec(vec![2.0, 3.0]));
        save_params(&params, &path).unwrap();
        assert_eq!(load_params(&path).unwrap()["w"].data(), &[2.0, 3.0]);
        fs::remove_file(&path).unwrap();
        let stem = path.file_name().unwrap().to_string_lossy().to_string();
        let leftovers = fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(&format!(".{stem}.tmp")))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn unwritable_destination_is_a_typed_error() {
        let dir = temp_path("no-such-dir");
        let e = save_params(&BTreeMap::new(), &dir.join("w.safetensors")).unwrap_err();
        assert!(matches!(e, IrError::Weights { .. }), "{e}");
    }
}
