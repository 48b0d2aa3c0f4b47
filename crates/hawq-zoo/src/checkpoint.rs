//! Float checkpoints: a zoo architecture plus trained weights in one safetensors file. The
//! architecture and its options live in the file's metadata, so `load` can rebuild the graph
//! and then require every parameter to be present with the right shape.

use crate::{ZooError, ZooOptions, build};
use hawq_ir::Graph;
use hawq_ir::weights::{read_metadata, save_params_with_metadata};
use std::collections::HashMap;
use std::path::Path;

const KIND: &str = "hawq.kind";
const ARCH: &str = "hawq.arch";

fn bad(path: &Path, detail: impl Into<String>) -> ZooError {
    ZooError::Checkpoint { path: path.display().to_string(), detail: detail.into() }
}

/// Saves `graph` (built by [`build`] as `arch` with `opts`) with its current parameters.
/// `extra` metadata (e.g. training figures) is stored alongside.
pub fn save(
    graph: &Graph,
    arch: &str,
    opts: &ZooOptions,
    extra: &HashMap<String, String>,
    path: &Path,
) -> Result<(), ZooError> {
    let mut meta = extra.clone();
    meta.insert(KIND.into(), "float-checkpoint".into());
    meta.insert(ARCH.into(), arch.into());
    meta.insert("hawq.in_channels".into(), opts.in_channels.to_string());
    meta.insert("hawq.height".into(), opts.height.to_string());
    meta.insert("hawq.width".into(), opts.width.to_string());
    meta.insert("hawq.num_classes".into(), opts.num_classes.to_string());
    save_params_with_metadata(&graph.params, &meta, path).map_err(|e| bad(path, e.to_string()))
}

/// The architecture name and options recorded in a checkpoint, plus all its metadata.
pub fn read_info(path: &Path) -> Result<(String, ZooOptions, HashMap<String, String>), ZooError> {
    let meta = read_metadata(path).map_err(|e| bad(path, e.to_string()))?;
    if meta.get(KIND).map(String::as_str) != Some("float-checkpoint") {
        return Err(bad(path, "not a hawq float checkpoint (metadata 'hawq.kind' is missing)"));
    }
    let arch = meta.get(ARCH).ok_or_else(|| bad(path, "metadata 'hawq.arch' is missing"))?.clone();
    let mut opts = ZooOptions::for_model(&arch)?;
    let num = |key: &str| -> Result<usize, ZooError> {
        meta.get(key)
            .ok_or_else(|| bad(path, format!("metadata '{key}' is missing")))?
            .parse::<usize>()
            .map_err(|_| bad(path, format!("metadata '{key}' is not a number")))
    };
    opts.in_channels = num("hawq.in_channels")?;
    opts.height = num("hawq.height")?;
    opts.width = num("hawq.width")?;
    opts.num_classes = num("hawq.num_classes")?;
    Ok((arch, opts, meta))
}

/// Rebuilds the graph of a checkpoint and loads its weights.
pub fn load(path: &Path) -> Result<Graph, ZooError> {
    let (arch, opts, _) = read_info(path)?;
    let mut g = build(&arch, &opts)?;
    g.load_weights(path).map_err(|e| bad(path, e.to_string()))?;
    Ok(g)
}
