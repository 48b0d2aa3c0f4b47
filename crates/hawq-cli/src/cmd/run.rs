//! `hawq run MODEL --input X.npy --output Y.npy`: float outputs of a model on a batch.

use crate::args::{EngineKind, ModelArgs};
use crate::model::{self, Loaded};
use crate::output::Context;
use anyhow::{Context as _, Result, bail};
use hawq_ir::Tensor;
use std::path::Path;

/// Runs the command.
pub fn run(
    args: &ModelArgs,
    input: &Path,
    output: &Path,
    precision: &str,
    engine: EngineKind,
    ctx: &Context,
) -> Result<()> {
    let loaded = model::load(args)?;
    let (shape, data) =
        hawq_data::read_npy_f32(input).with_context(|| format!("reading {}", input.display()))?;
    let x = Tensor::new(shape.clone(), data)
        .with_context(|| format!("{}: shape {shape:?}", input.display()))?;
    let (y, how) = match (loaded, precision) {
        (Loaded::Float(g), "auto" | "fp32") => {
            let mut out = hawq_ir::interp::run(&g, &[x])?;
            (out.remove(0), "fp32 reference interpreter")
        }
        (Loaded::Float(_), p) => bail!(
            "--precision {p}: a float model runs only at fp32 (quantize it first: hawq quantize)"
        ),
        (Loaded::Int(m), "auto" | "int") => match engine {
            EngineKind::Reference => (
                hawq_engine::reference::run(&m, &x)?.logits,
                "integer reference engine (dequantized output)",
            ),
            EngineKind::Fast => {
                let plan = hawq_engine::fast::Plan::new(&m, hawq_kernels::isa()?)?;
                (plan.run(&x, 0)?.logits, "fast integer engine (dequantized output)")
            }
        },
        (Loaded::Int(_), p) => {
            bail!("--precision {p}: a .hawq model holds only integer weights; use --precision int")
        }
    };
    hawq_data::write_npy_f32(output, y.shape(), y.data())
        .with_context(|| format!("writing {}", output.display()))?;
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({"output": output, "shape": y.shape(), "engine": how})
        );
    } else {
        ctx.note(format!("wrote {:?} to {} ({how})", y.shape(), output.display()));
    }
    Ok(())
}
