//! Conv and linear layers: int32 accumulation, int32 bias, per-channel dyadic
//! requantization, optional dyadic residual, integer clamp.

use super::QTensor;
use crate::error::{EngineError, Result};
use crate::qmodel::{OutputMode, QLayer};
use hawq_ir::infer::window_out;

/// The epilogue of one output element: `acc` already includes the bias.
pub fn epilogue(layer: &QLayer, c: usize, acc: i64, residual: Option<i32>) -> i64 {
    let y = match &layer.mode {
        OutputMode::Requantize { requant, residual: rd } => {
            let mut y = requant[c].apply(acc);
            if let (Some(d), Some(r)) = (rd, residual) {
                y += d.apply(r as i64);
            }
            y
        }
        OutputMode::Accumulator => acc,
    };
    y.clamp(layer.lo, layer.hi)
}

fn overflow(layer: &QLayer, bound: i64) -> EngineError {
    EngineError::AccumulatorOverflow {
        layer: layer.name.clone(),
        k: layer.geom.reduction(),
        bound: bound as i128,
    }
}

/// Runs a conv (NCHW) or linear (`[N, F]`) layer on integers.
pub fn layer_forward(layer: &QLayer, x: &QTensor, residual: Option<&QTensor>) -> Result<QTensor> {
    let g = &layer.geom;
    let (n, h, w) =
        if layer.is_linear { (x.shape[0], 1, 1) } else { (x.shape[0], x.shape[2], x.shape[3]) };
    let oh = window_out(h, g.kernel[0], g.stride[0], g.pads[0], g.pads[2], g.dilation[0], false)
        .unwrap_or(0);
    let ow = window_out(w, g.kernel[1], g.stride[1], g.pads[1], g.pads[3], g.dilation[1], false)
        .unwrap_or(0);
    let shape =
        if layer.is_linear { vec![n, g.out_channels] } else { vec![n, g.out_channels, oh, ow] };
    if let Some(r) = residual
        && r.shape != shape
    {
        return Err(EngineError::InvalidModel {
            node: layer.name.clone(),
            detail: format!("residual shape {:?} differs from output shape {shape:?}", r.shape),
        });
    }
    let mut out = QTensor::zeros(shape);
    let cin_g = g.in_channels / g.groups;
    let cout_g = g.out_channels / g.groups;
    let (kh, kw) = (g.kernel[0], g.kernel[1]);
    let plane = oh * ow;
    for b in 0..n {
        for co in 0..g.out_channels {
            let grp = co / cout_g;
            let wbase = co * cin_g * kh * kw;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc: i64 = layer.bias[co] as i64;
                    for ci in 0..cin_g {
                        let cx = grp * cin_g + ci;
                        for ky in 0..kh {
                            let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize
                                - g.pads[0] as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            for kx in 0..kw {
                                let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize
                                    - g.pads[1] as isize;
                                if ix < 0 || ix >= w as isize {
                                    continue;
                                }
                                let xv = x.data[((b * g.in_channels + cx) * h + iy as usize) * w
                                    + ix as usize];
                                let wv = layer.weights[wbase + (ci * kh + ky) * kw + kx];
                                acc += xv as i64 * wv as i64;
                            }
                        }
                    }
                    // The lowering proved |acc| < 2^31; a violation is a bug, never a wrap.
                    if acc > i32::MAX as i64 || acc < i32::MIN as i64 {
                        return Err(overflow(layer, acc));
                    }
                    let o = (b * g.out_channels + co) * plane + oy * ow + ox;
                    let r = residual.map(|r| r.data[o]);
                    out.data[o] = epilogue(layer, co, acc, r) as i32;
                }
            }
        }
    }
    Ok(out)
}
