//! `BatchNormalization` in inference form (running statistics as constants).

use crate::error::Result;
use crate::import::context::{Importer, NodeView};
use hawq_ir::{BatchNorm, Op};

/// `BatchNormalization`: inputs X, scale, B, mean, var; `training_mode = 1` is rejected and
/// `momentum` (a training-only setting) is accepted and ignored.
pub(crate) fn batch_norm(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(5, 5)?;
    let out = ctx.main_output(v)?;
    let (x, xs) = ctx.act(v, 0)?;
    let eps = v.attrs.float("epsilon", 1e-5)?;
    if !(eps.is_finite() && eps >= 0.0) {
        return Err(v
            .at
            .attr_err("epsilon", format!("must be finite and non-negative, got {eps}")));
    }
    v.attrs.float_opt("momentum")?;
    if ctx.opset >= 14 && v.attrs.int("training_mode", 0)? != 0 {
        return Err(v.at.attr_err("training_mode", "training-mode batch norm is not supported"));
    }
    let channels =
        xs.fixed_dim(1).ok_or_else(|| v.err(format!("channel dimension of {xs} must be known")))?;
    let scale = ctx.param(v, 1)?.0;
    let bias = ctx.param(v, 2)?.0;
    let mean = ctx.param(v, 3)?.0;
    let var = ctx.param(v, 4)?.0;
    let cfg = BatchNorm { scale, bias, mean, var, eps, channels };
    ctx.push(v, Op::BatchNorm(cfg), vec![x], out)
}
