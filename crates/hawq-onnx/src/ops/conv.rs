//! `Conv` (2-D only) → [`hawq_ir::Conv2d`]. Weights and bias must be constants.

use super::window::{kernel_attr, window_attrs};
use crate::error::Result;
use crate::import::context::{Importer, NodeView};
use hawq_ir::{Activation, Conv2d, Op};

/// `Conv`: inputs X, W `[M, C/group, kH, kW]`, optional B `[M]`.
pub(crate) fn conv(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(2, 3)?;
    let out = ctx.main_output(v)?;
    let (x, xs) = ctx.act(v, 0)?;
    let (weight, ws) = ctx.param(v, 1)?;
    if ws.len() != 4 {
        return Err(v.err(format!("weight has shape {ws:?}; hawq supports 2-D convolution only")));
    }
    let bias = match v.input(2) {
        Some(_) => Some(ctx.param(v, 2)?.0),
        None => None,
    };
    let kernel = [ws[2], ws[3]];
    if let Some(k) = kernel_attr(v)?
        && k != kernel
    {
        return Err(v.at.attr_err("kernel_shape", format!("{k:?} disagrees with weight {ws:?}")));
    }
    let group = v.attrs.int("group", 1)?;
    let groups = usize::try_from(group)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| v.at.attr_err("group", format!("must be positive, got {group}")))?;
    let win = window_attrs(v, &xs, kernel, true)?;
    let in_channels =
        xs.fixed_dim(1).ok_or_else(|| v.err(format!("input channels of {xs} must be known")))?;
    if ws[1].checked_mul(groups) != Some(in_channels) {
        return Err(v.err(format!(
            "weight {ws:?} with group {groups} does not fit {in_channels} input channels"
        )));
    }
    let cfg = Conv2d {
        weight,
        bias,
        in_channels,
        out_channels: ws[0],
        kernel,
        stride: win.stride,
        pads: win.pads,
        dilation: win.dilation,
        groups,
        activation: Activation::None,
    };
    ctx.push(v, Op::Conv2d(cfg), vec![x], out)
}
