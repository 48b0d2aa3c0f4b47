//! Turning a model argument into a float graph or an integer model.

use crate::args::ModelArgs;
use anyhow::{Context as _, Result, bail};
use hawq_engine::QModel;
use hawq_ir::Graph;
use std::path::Path;

/// A model as the user gave it.
pub enum Loaded {
    /// A float graph (ONNX import, zoo model, or float checkpoint).
    Float(Graph),
    /// An integer-only model read from a `.hawq` file.
    Int(QModel),
}

fn parse_shape(text: &str) -> Result<[usize; 3]> {
    let dims: Vec<usize> = text
        .split(['x', 'X', ','])
        .map(|d| d.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("--input-shape '{text}' is not CxHxW (e.g. 1x28x28)"))?;
    match dims[..] {
        [c, h, w] => Ok([c, h, w]),
        _ => bail!("--input-shape '{text}' must have three dimensions CxHxW"),
    }
}

/// The zoo options the command line asks for.
pub fn zoo_options(args: &ModelArgs) -> Result<hawq_zoo::ZooOptions> {
    let mut opts = hawq_zoo::ZooOptions::for_model(&args.model)?;
    if let Some(s) = &args.input_shape {
        let [c, h, w] = parse_shape(s)?;
        (opts.in_channels, opts.height, opts.width) = (c, h, w);
    }
    if let Some(k) = args.classes {
        opts.num_classes = k;
    }
    opts.seed = args.seed;
    Ok(opts)
}

/// Builds a zoo model with the options on the command line.
pub fn zoo_graph(args: &ModelArgs) -> Result<Graph> {
    Ok(hawq_zoo::build(&args.model, &zoo_options(args)?)?)
}

fn extension(path: &str) -> Option<String> {
    Path::new(path).extension().map(|e| e.to_string_lossy().to_ascii_lowercase())
}

/// Loads any model argument.
pub fn load(args: &ModelArgs) -> Result<Loaded> {
    let path = Path::new(&args.model);
    match extension(&args.model).as_deref() {
        Some("hawq") => Ok(Loaded::Int(
            hawq_engine::format::load(path)
                .with_context(|| format!("loading integer model {}", path.display()))?,
        )),
        Some("onnx") => {
            let imported = hawq_onnx::import_file(path)
                .with_context(|| format!("importing {}", path.display()))?;
            Ok(Loaded::Float(imported.graph))
        }
        Some("safetensors") => Ok(Loaded::Float(
            hawq_zoo::checkpoint::load(path)
                .with_context(|| format!("loading checkpoint {}", path.display()))?,
        )),
        _ if path.exists() => bail!(
            "{}: unknown model file type (expected .onnx, .hawq or .safetensors)",
            path.display()
        ),
        _ => Ok(Loaded::Float(zoo_graph(args)?)),
    }
}

/// Loads a model that must be float.
pub fn load_float(args: &ModelArgs) -> Result<Graph> {
    match load(args)? {
        Loaded::Float(g) => Ok(g),
        Loaded::Int(_) => {
            bail!("{} is already an integer model; this command needs a float model", args.model)
        }
    }
}
