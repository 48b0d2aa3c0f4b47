//! Executes a whole [`QModel`] with the reference ops.

use super::{QTensor, layer_forward, ops};
use crate::error::{EngineError, Result};
use crate::qmodel::{Dequant, QModel, QOp};
use hawq_ir::Tensor;

/// Result of a reference run.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Dequantized float output (e.g. logits).
    pub logits: Tensor,
    /// The integer output before dequantization.
    pub int_output: QTensor,
}

/// Quantizes a float NCHW input into the model's input value: `clamp(round_half_even(x / s))`.
pub fn quantize_input(model: &QModel, x: &Tensor) -> Result<QTensor> {
    let v = &model.values[model.input];
    if v.shape.matches(x.shape()).is_none() {
        return Err(EngineError::InputShape {
            expected: v.shape.to_string(),
            got: x.shape().to_vec(),
        });
    }
    if let Some(index) = x.data().iter().position(|f| !f.is_finite()) {
        return Err(EngineError::NonFiniteInput { index });
    }
    let data = x.data().iter().map(|&f| v.format.quantize(f, v.scale)).collect();
    Ok(QTensor { shape: x.shape().to_vec(), data })
}

fn invalid(node: &str, detail: &str) -> EngineError {
    EngineError::InvalidModel { node: node.to_string(), detail: detail.to_string() }
}

/// Runs the model and returns every value (`None` for values not computed).
pub fn run_all(model: &QModel, x: &Tensor) -> Result<Vec<Option<QTensor>>> {
    let mut vals: Vec<Option<QTensor>> = vec![None; model.values.len()];
    vals[model.input] = Some(quantize_input(model, x)?);
    for node in &model.nodes {
        let get = |i: usize| -> Result<&QTensor> {
            node.inputs
                .get(i)
                .and_then(|&v| vals.get(v))
                .and_then(|v| v.as_ref())
                .ok_or_else(|| invalid(&node.name, "reads a value that is not computed yet"))
        };
        let out = match &node.op {
            QOp::Layer(l) => {
                let residual = if node.inputs.len() > 1 { Some(get(1)?) } else { None };
                layer_forward(l, get(0)?, residual)?
            }
            QOp::Requant { dyadic, lo, hi } => ops::requant(get(0)?, *dyadic, *lo, *hi),
            QOp::Add { a, b, lo, hi } => ops::add(get(0)?, get(1)?, *a, *b, *lo, *hi),
            QOp::Clamp { lo, hi } => ops::clamp(get(0)?, *lo, *hi),
            QOp::MaxPool(p) => ops::max_pool(get(0)?, p),
            QOp::AvgPool(p) => ops::avg_pool(get(0)?, p),
            QOp::GlobalAvgPool => ops::global_avg_pool(get(0)?),
            QOp::Concat { dyadics, lo, hi } => {
                let xs = (0..node.inputs.len()).map(get).collect::<Result<Vec<_>>>()?;
                ops::concat(&xs, dyadics, *lo, *hi)
            }
            QOp::Flatten => {
                let x = get(0)?;
                let n = x.shape[0];
                QTensor { shape: vec![n, x.data.len() / n.max(1)], data: x.data.clone() }
            }
        };
        let slot = vals
            .get_mut(node.output)
            .ok_or_else(|| invalid(&node.name, "output value out of range"))?;
        *slot = Some(out);
    }
    Ok(vals)
}

/// Runs the model on a float input and dequantizes its output.
pub fn run(model: &QModel, x: &Tensor) -> Result<RunOutput> {
    let mut vals = run_all(model, x)?;
    let out = vals
        .get_mut(model.output)
        .and_then(Option::take)
        .ok_or_else(|| invalid("output", "the output value is never computed"))?;
    let logits = dequantize(model, &out)?;
    Ok(RunOutput { logits, int_output: out })
}

/// Integer output → float, per tensor or per channel (axis 1).
pub fn dequantize(model: &QModel, out: &QTensor) -> Result<Tensor> {
    let data: Vec<f32> = match &model.dequant {
        Dequant::PerTensor => {
            let s = model.values[model.output].scale;
            out.data.iter().map(|&v| v as f32 * s).collect()
        }
        Dequant::PerChannel(scales) => {
            let c = out.shape.get(1).copied().unwrap_or(0);
            if c != scales.len() {
                return Err(invalid(
                    "output",
                    "per-channel dequantization scales do not match the output channels",
                ));
            }
            let inner: usize = out.shape[2..].iter().product();
            out.data.iter().enumerate().map(|(i, &v)| v as f32 * scales[(i / inner) % c]).collect()
        }
    };
    Tensor::new(out.shape.clone(), data).map_err(EngineError::from)
}
