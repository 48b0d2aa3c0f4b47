//! `Relu` and `Clip` (bounds as optional constant inputs, the opset ≥ 11 form; ReLU6 is
//! `Clip(0, 6)`).

use crate::error::Result;
use crate::import::context::{Importer, NodeView};
use hawq_ir::Op;

/// `Relu`.
pub(crate) fn relu(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    let (x, _) = ctx.act(v, 0)?;
    ctx.push(v, Op::Relu, vec![x], out)
}

/// Optional scalar bound at input `i`.
fn bound(ctx: &Importer, v: &NodeView, i: usize, absent: f32) -> Result<f32> {
    if v.input(i).is_none() {
        return Ok(absent);
    }
    let t = ctx.float_const(v, i)?;
    match t.data() {
        [b] if !b.is_nan() => Ok(*b),
        _ => Err(v.err(format!("bound input {i} must be one number, got shape {:?}", t.shape()))),
    }
}

/// `Clip`: min and max are optional inputs that must be constants. (Opsets below 11, where they
/// were attributes, are rejected at the model level.)
pub(crate) fn clip(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 3)?;
    let out = ctx.main_output(v)?;
    let (x, _) = ctx.act(v, 0)?;
    let min = bound(ctx, v, 1, f32::NEG_INFINITY)?;
    let max = bound(ctx, v, 2, f32::INFINITY)?;
    ctx.push(v, Op::Clip { min, max }, vec![x], out)
}
