//! Ops that move or pass data: `Concat`, `Flatten`, `Reshape`, `Dropout` (inference) and
//! `Identity`. `Concat` of integer constants is folded (see `shape_fold`).

use super::shape_fold;
use crate::error::Result;
use crate::fold::{SymInt, normalize_axis};
use crate::import::context::{Importer, NodeView};
use crate::tensor_data::MAX_ELEMENTS;
use hawq_ir::{Op, Reshape};

/// `Concat` of activations along a non-batch axis, or of integer constants (folded).
pub(crate) fn concat(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    if v.proto.input.is_empty() {
        return Err(v.err("has no inputs"));
    }
    let out = ctx.main_output(v)?;
    let axis = v.attrs.int_opt("axis")?.ok_or_else(|| v.at.attr_err("axis", "is required"))?;
    let n = v.proto.input.len();
    let acts: Vec<bool> = (0..n).map(|i| ctx.is_act(v, i)).collect::<Result<_>>()?;
    if acts.iter().all(|a| !a) {
        return shape_fold::concat_ints(ctx, v, axis, out);
    }
    if acts.iter().any(|a| !a) {
        return Err(v.err("mixes activations and constants; hawq concatenates activations only"));
    }
    let ins: Vec<(String, hawq_ir::Shape)> =
        (0..n).map(|i| ctx.act(v, i)).collect::<Result<_>>()?;
    let axis = normalize_axis(axis, ins[0].1.rank()).map_err(|e| v.at.attr_err("axis", e))?;
    if axis == 0 {
        return Err(v.at.attr_err("axis", "concatenating along the batch axis is not supported"));
    }
    ctx.push(v, Op::Concat { axis }, ins.into_iter().map(|(n, _)| n).collect(), out)
}

/// `Flatten` with `axis = 1` (ONNX always yields 2-D; other axes would merge the batch).
pub(crate) fn flatten(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    let (x, xs) = ctx.act(v, 0)?;
    let axis = v.attrs.int("axis", 1)?;
    let axis = if axis < 0 { axis + xs.rank() as i64 } else { axis };
    if axis != 1 {
        return Err(v.at.attr_err(
            "axis",
            format!("only axis 1 ([N, rest]) is supported for input {xs}, got {axis}"),
        ));
    }
    ctx.push(v, Op::Flatten { axis: 1 }, vec![x], out)
}

/// `Reshape` of an activation to a constant (possibly folded) target. The symbolic batch may
/// appear only first, where it becomes `0` (copy the input's batch dim).
pub(crate) fn reshape(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(2, 2)?;
    let out = ctx.main_output(v)?;
    let (x, _) = ctx.act(v, 0)?;
    let target = ctx.int_const(v, 1)?;
    if target.shape().len() != 1 {
        return Err(v.err(format!("shape input must be 1-D, got shape {:?}", target.shape())));
    }
    let allow_zero = v.attrs.int("allowzero", 0)? != 0;
    let mut shape = Vec::with_capacity(target.data().len());
    for (i, d) in target.data().iter().enumerate() {
        shape.push(match *d {
            SymInt::Batch if i == 0 => 0,
            SymInt::Batch => {
                return Err(v.err(format!("batch size appears at position {i} of the target")));
            }
            SymInt::Known(0) if allow_zero => {
                return Err(v.at.attr_err("allowzero", "zero-sized dims are not supported"));
            }
            SymInt::Known(k) => k,
        });
    }
    // The IR multiplies the target's dims: keep that product in range.
    let product =
        shape.iter().filter(|&&d| d > 0).try_fold(1usize, |a, &d| a.checked_mul(d as usize));
    if product.is_none_or(|p| p > MAX_ELEMENTS) {
        return Err(v.err(format!("target shape {shape:?} is implausibly large")));
    }
    ctx.push(v, Op::Reshape(Reshape { shape }), vec![x], out)
}

/// `Dropout` at inference: identity. `training_mode` (opset ≥ 12) must be absent or false.
pub(crate) fn dropout(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 3)?;
    let out = ctx.main_output(v)?;
    let (x, _) = ctx.act(v, 0)?;
    if ctx.opset >= 12 {
        v.attrs.int_opt("seed")?;
        if v.input(2).is_some() && ctx.known_ints(v, 2)?.iter().any(|&t| t != 0) {
            return Err(v.err("training_mode = true is not supported"));
        }
    } else {
        v.attrs.float_opt("ratio")?;
    }
    ctx.push(v, Op::Dropout, vec![x], out)
}

/// `Identity` of an activation (kept as an IR node) or of a constant (an alias).
pub(crate) fn identity(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    if !ctx.is_act(v, 0)? {
        return ctx.alias_const(v, 0, out);
    }
    let (x, _) = ctx.act(v, 0)?;
    ctx.push(v, Op::Identity, vec![x], out)
}
