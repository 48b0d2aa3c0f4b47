//! `hawq export MODEL --onnx OUT.onnx`: an integer `.hawq` model as an ONNX QDQ model (opset
//! 21, see docs/EXPORT.md), or a float model (zoo, ONNX, checkpoint) as float ONNX.

use crate::args::ModelArgs;
use crate::model::{self, Loaded};
use crate::output::Context;
use anyhow::{Context as _, Result};
use std::path::Path;

/// Runs the command.
pub fn run(args: &ModelArgs, out: &Path, opset: i64, ctx: &Context) -> Result<()> {
    let (kind, opset) = match model::load(args)? {
        Loaded::Int(m) => {
            hawq_onnx::export_qdq(&m, out)
                .with_context(|| format!("exporting {} as QDQ ONNX", args.model))?;
            ("qdq", hawq_onnx::QDQ_OPSET)
        }
        Loaded::Float(g) => {
            hawq_onnx::export_float(&g, out, opset)
                .with_context(|| format!("exporting {} as float ONNX", args.model))?;
            ("float", opset)
        }
    };
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({"output": out, "kind": kind, "opset": opset, "bytes": bytes})
        );
    } else {
        ctx.note(format!("wrote {kind} ONNX (opset {opset}, {bytes} bytes) to {}", out.display()));
    }
    Ok(())
}
