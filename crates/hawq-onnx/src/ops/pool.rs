//! `MaxPool`, `AveragePool` and `GlobalAveragePool` (2-D windows over NCHW).

use super::window::{kernel_attr, window_attrs};
use crate::error::Result;
use crate::import::context::{Importer, NodeView};
use hawq_ir::{AvgPool, MaxPool, Op};

fn flag(v: &mut NodeView, name: &str) -> Result<bool> {
    match v.attrs.int(name, 0)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(v.at.attr_err(name, format!("must be 0 or 1, got {other}"))),
    }
}

fn required_kernel(v: &mut NodeView) -> Result<[usize; 2]> {
    kernel_attr(v)?.ok_or_else(|| v.at.attr_err("kernel_shape", "is required"))
}

/// `MaxPool` (single output; `storage_order` 0 only).
pub(crate) fn max_pool(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    let (x, xs) = ctx.act(v, 0)?;
    let kernel = required_kernel(v)?;
    let win = window_attrs(v, &xs, kernel, true)?;
    let ceil_mode = flag(v, "ceil_mode")?;
    if v.attrs.int("storage_order", 0)? != 0 {
        return Err(v.at.attr_err("storage_order", "only 0 (row major) is supported"));
    }
    let cfg =
        MaxPool { kernel, stride: win.stride, pads: win.pads, dilation: win.dilation, ceil_mode };
    ctx.push(v, Op::MaxPool(cfg), vec![x], out)
}

/// `AveragePool` (`dilations`, from opset 19, must be 1).
pub(crate) fn average_pool(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    let (x, xs) = ctx.act(v, 0)?;
    let kernel = required_kernel(v)?;
    let win = window_attrs(v, &xs, kernel, true)?;
    if win.dilation != [1, 1] {
        return Err(v.at.attr_err("dilations", "average pooling with dilation is not supported"));
    }
    let ceil_mode = flag(v, "ceil_mode")?;
    let count_include_pad = flag(v, "count_include_pad")?;
    let cfg = AvgPool { kernel, stride: win.stride, pads: win.pads, ceil_mode, count_include_pad };
    ctx.push(v, Op::AvgPool(cfg), vec![x], out)
}

/// `GlobalAveragePool` → `[N, C, 1, 1]`.
pub(crate) fn global_average_pool(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(1, 1)?;
    let out = ctx.main_output(v)?;
    let (x, _) = ctx.act(v, 0)?;
    ctx.push(v, Op::GlobalAvgPool, vec![x], out)
}
