//! Constant folding of the integer "shape chains" exporters emit around `Reshape`:
//! `Constant`, `Shape`, `Gather`, `Unsqueeze`, `Squeeze`, `Cast`, `Slice` and `Concat` of
//! integer constants. Results stay constants (possibly holding the symbolic batch) and never
//! become IR nodes; an activation reaching these ops (other than `Shape`) is an error.

use crate::error::Result;
use crate::fold::{self, IntTensor, SymInt};
use crate::import::context::{Importer, NodeView, Value};
use crate::pb::tensor_proto::DataType;
use hawq_ir::Tensor;

fn define_int(ctx: &mut Importer, out: &str, t: IntTensor) -> Result<()> {
    ctx.define(out, Value::Int(t))
}

/// Input 0 as a foldable integer tensor (activations are rejected with a clear message).
fn data(ctx: &Importer, v: &NodeView) -> Result<IntTensor> {
    if ctx.is_act(v, 0)? {
        return Err(
            v.err("runs on an activation; hawq only folds this op over integer shape constants")
        );
    }
    ctx.int_const(v, 0)
}

/// `Constant` with one of `value`, `value_float(s)`, `value_int(s)`.
pub(crate) fn constant(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(0, 0)?;
    let out = ctx.main_output(v)?;
    let supported = ["value", "value_float", "value_floats", "value_int", "value_ints"];
    let names = v.attrs.names();
    if names.len() != 1 || !supported.contains(&names[0]) {
        return Err(v.err(format!("needs exactly one of {supported:?}, got attributes {names:?}")));
    }
    let value = if let Some(t) = v.attrs.tensor("value")? {
        let mut t = t.clone();
        if t.name.as_deref().is_none_or(str::is_empty) {
            t.name = Some(out.to_string());
        }
        Value::Stored(Box::new(t))
    } else if let Some(f) = v.attrs.float_opt("value_float")? {
        Value::Float(Tensor::new(vec![], vec![f]).map_err(|e| v.err(e.to_string()))?)
    } else if let Some(fs) = v.attrs.floats("value_floats")? {
        Value::Float(Tensor::from_vec(fs.to_vec()))
    } else if let Some(i) = v.attrs.int_opt("value_int")? {
        Value::Int(IntTensor::new(vec![], vec![SymInt::Known(i)]).map_err(|e| v.err(e))?)
    } else if let Some(is) = v.attrs.ints("value_ints")? {
        Value::Int(IntTensor::from_known(is))
    } else {
        return Err(v.err("has no value"));
    };
    ctx.define(out, value)
}

/// `Shape` of an activation (`[N, C, H, W]` with a symbolic `N`) or of a constant;
/// `start`/`end` from opset 15.
pub(crate) fn shape(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    let (start, end) = if ctx.opset >= 15 {
        (v.attrs.int("start", 0)?, v.attrs.int_opt("end")?)
    } else {
        (0, None)
    };
    let dims = if ctx.is_act(v, 0)? {
        ctx.act(v, 0)?.1.0
    } else {
        let shape = match ctx.int_const(v, 0) {
            Ok(t) => t.shape().to_vec(),
            Err(_) => ctx.float_const(v, 0)?.shape().to_vec(),
        };
        shape.into_iter().map(hawq_ir::Dim::Fixed).collect()
    };
    define_int(ctx, out, fold::shape_of(&dims, start, end))
}

/// `Gather` over an integer constant with constant indices.
pub(crate) fn gather(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(2, 2)?;
    let out = ctx.main_output(v)?;
    let axis = v.attrs.int("axis", 0)?;
    let t = data(ctx, v)?;
    let indices = ctx.int_const(v, 1)?;
    let r = fold::gather(&t, &indices, axis).map_err(|e| v.err(e))?;
    define_int(ctx, out, r)
}

/// Axes of `Unsqueeze`/`Squeeze`: an attribute before opset 13, input 1 from opset 13.
fn axes(ctx: &Importer, v: &mut NodeView) -> Result<Option<Vec<i64>>> {
    if ctx.opset < 13 {
        Ok(v.attrs.ints("axes")?.map(<[i64]>::to_vec))
    } else {
        v.input(1).map(|_| ctx.known_ints(v, 1)).transpose()
    }
}

/// `Unsqueeze` of an integer constant.
pub(crate) fn unsqueeze(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, if ctx.opset < 13 { 1 } else { 2 })?;
    let out = ctx.main_output(v)?;
    let axes = axes(ctx, v)?.ok_or_else(|| v.err("axes are required"))?;
    let r = fold::unsqueeze(&data(ctx, v)?, &axes).map_err(|e| v.err(e))?;
    define_int(ctx, out, r)
}

/// `Squeeze` of an integer constant.
pub(crate) fn squeeze(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, if ctx.opset < 13 { 1 } else { 2 })?;
    let out = ctx.main_output(v)?;
    let axes = axes(ctx, v)?;
    let r = fold::squeeze(&data(ctx, v)?, axes.as_deref()).map_err(|e| v.err(e))?;
    define_int(ctx, out, r)
}

/// `Cast` of an integer constant to INT64 or INT32.
pub(crate) fn cast(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    let to = v.attrs.int_opt("to")?.ok_or_else(|| v.at.attr_err("to", "is required"))?;
    if ctx.opset >= 19 {
        v.attrs.int_opt("saturate")?;
    }
    let t = data(ctx, v)?;
    if to == DataType::Int32 as i64 {
        let fits = t.data().iter().all(|d| match d {
            SymInt::Known(k) => i32::try_from(*k).is_ok(),
            SymInt::Batch => true,
        });
        if !fits {
            return Err(v.err("a value does not fit INT32"));
        }
    } else if to != DataType::Int64 as i64 {
        return Err(v
            .at
            .attr_err("to", format!("hawq folds casts to INT64 or INT32 only, got {to}")));
    }
    define_int(ctx, out, t)
}

/// `Slice` of an integer constant (inputs form, opset ≥ 10).
pub(crate) fn slice(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(3, 5)?;
    let out = ctx.main_output(v)?;
    let t = data(ctx, v)?;
    let starts = ctx.known_ints(v, 1)?;
    let ends = ctx.known_ints(v, 2)?;
    let axes = v.input(3).map(|_| ctx.known_ints(v, 3)).transpose()?;
    let steps = v.input(4).map(|_| ctx.known_ints(v, 4)).transpose()?;
    let r =
        fold::slice(&t, &starts, &ends, axes.as_deref(), steps.as_deref()).map_err(|e| v.err(e))?;
    define_int(ctx, out, r)
}

/// `Concat` of integer constants (called by the layout module when no input is an activation).
pub(crate) fn concat_ints(ctx: &mut Importer, v: &NodeView, axis: i64, out: &str) -> Result<()> {
    let parts: Vec<IntTensor> =
        (0..v.proto.input.len()).map(|i| ctx.int_const(v, i)).collect::<Result<_>>()?;
    let r = fold::concat(&parts, axis).map_err(|e| v.err(e))?;
    define_int(ctx, out, r)
}
