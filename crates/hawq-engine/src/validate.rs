//! Structural validation of a [`QModel`] — everything a run relies on, checked up front so a
//! model read from an untrusted file can never make the engine panic, over-allocate or wrap
//! an accumulator: value references, arities, array lengths, dyadic invariants, clamp bounds,
//! shapes propagated through every op, and the int32 accumulator bound of every layer.

use crate::error::{EngineError, Result};
use crate::qmodel::{OutputMode, QLayer, QModel, QOp};
use hawq_ir::infer::window_out;
use hawq_ir::{Dim, Shape};
use hawq_quant::{ActFormat, Dyadic};

fn bad(node: &str, detail: impl Into<String>) -> EngineError {
    EngineError::InvalidModel { node: node.to_string(), detail: detail.into() }
}

/// Proves that every partial sum of every output channel, bias included, stays inside i32
/// for any input in `fmt` (`hawq_quant::accumulator`); `k` is the reduction length.
pub fn check_accumulator(
    layer: &str,
    weights: &[i8],
    bias: &[i32],
    fmt: ActFormat,
    k: usize,
) -> Result<()> {
    use hawq_quant::accumulator::AccumulatorError;
    let channels = weights.len().checked_div(k).unwrap_or(0);
    match hawq_quant::accumulator::check_accumulator(layer, weights, channels, fmt, Some(bias)) {
        Ok(_) => Ok(()),
        Err(AccumulatorError::Overflow { k, magnitude, .. }) => {
            Err(EngineError::AccumulatorOverflow {
                layer: layer.to_string(),
                k,
                bound: magnitude as i128,
            })
        }
        Err(e @ AccumulatorError::Layout { .. }) => Err(bad(layer, e.to_string())),
    }
}

fn check_dyadic(node: &str, d: &Dyadic) -> Result<()> {
    if !(1..=62).contains(&d.shift) || d.mult < 0 {
        return Err(bad(node, format!("dyadic {d:?} violates 0 ≤ mult < 2^31, 1 ≤ shift ≤ 62")));
    }
    Ok(())
}

fn check_bounds(node: &str, lo: i64, hi: i64, fmt: ActFormat) -> Result<()> {
    let (flo, fhi) = if fmt.bits >= 32 { (i32::MIN as i64, i32::MAX as i64) } else { fmt.range() };
    if lo > hi || lo < flo || hi > fhi {
        return Err(bad(
            node,
            format!("clamp [{lo}, {hi}] is not inside the output format's range [{flo}, {fhi}]"),
        ));
    }
    Ok(())
}

fn fixed(node: &str, s: &Shape, i: usize) -> Result<usize> {
    s.fixed_dim(i).ok_or_else(|| bad(node, format!("dimension {i} of {s} must be known")))
}

fn check_layer(node: &str, l: &QLayer, x: &Shape, fmt_in: ActFormat) -> Result<Shape> {
    let g = &l.geom;
    if g.groups == 0
        || g.in_channels == 0
        || g.out_channels == 0
        || !g.in_channels.is_multiple_of(g.groups)
        || !g.out_channels.is_multiple_of(g.groups)
    {
        return Err(bad(node, "channel counts and groups are inconsistent"));
    }
    let k = (g.in_channels / g.groups)
        .checked_mul(g.kernel[0])
        .and_then(|v| v.checked_mul(g.kernel[1]));
    let numel = k
        .and_then(|k| k.checked_mul(g.out_channels))
        .ok_or_else(|| bad(node, "weight size overflows"))?;
    if l.weights.len() != numel
        || l.bias.len() != g.out_channels
        || l.w_scales.len() != g.out_channels
    {
        return Err(bad(
            node,
            format!(
                "weights/bias/scales have lengths {}/{}/{}, geometry needs {numel}/{}/{}",
                l.weights.len(),
                l.bias.len(),
                l.w_scales.len(),
                g.out_channels,
                g.out_channels
            ),
        ));
    }
    if l.bits != 4 && l.bits != 8 {
        return Err(bad(node, format!("bit width {} (supported: 4, 8)", l.bits)));
    }
    let n = hawq_quant::quantizer::signed_levels(l.bits) as i8;
    if l.weights.iter().any(|&w| w < -n - 1 || w > n) {
        return Err(bad(node, format!("weights outside the {}-bit range", l.bits)));
    }
    if fmt_in.bits != l.bits {
        return Err(bad(node, format!("{}-bit layer reads a {}-bit value", l.bits, fmt_in.bits)));
    }
    if let OutputMode::Requantize { requant, residual } = &l.mode {
        if requant.len() != g.out_channels {
            return Err(bad(node, "one requantization multiplier per output channel is required"));
        }
        requant.iter().chain(residual).try_for_each(|d| check_dyadic(node, d))?;
    }
    check_accumulator(&l.name, &l.weights, &l.bias, fmt_in, g.reduction())?;
    if l.is_linear {
        if x.rank() != 2 || fixed(node, x, 1)? != g.in_channels {
            return Err(bad(node, format!("linear layer with {} inputs reads {x}", g.in_channels)));
        }
        return Ok(Shape(vec![x.0[0], Dim::Fixed(g.out_channels)]));
    }
    if x.rank() != 4 || fixed(node, x, 1)? != g.in_channels {
        return Err(bad(node, format!("conv with {} input channels reads {x}", g.in_channels)));
    }
    let oh = window_out(
        fixed(node, x, 2)?,
        g.kernel[0],
        g.stride[0],
        g.pads[0],
        g.pads[2],
        g.dilation[0],
        false,
    );
    let ow = window_out(
        fixed(node, x, 3)?,
        g.kernel[1],
        g.stride[1],
        g.pads[1],
        g.pads[3],
        g.dilation[1],
        false,
    );
    match (oh, ow) {
        (Some(h), Some(w)) if h > 0 && w > 0 => {
            Ok(Shape(vec![x.0[0], Dim::Fixed(g.out_channels), Dim::Fixed(h), Dim::Fixed(w)]))
        }
        _ => Err(bad(node, format!("conv window does not fit input {x}"))),
    }
}

fn pool_shape(
    node: &str,
    x: &Shape,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 4],
    d: [usize; 2],
    ceil: bool,
) -> Result<Shape> {
    if x.rank() != 4 {
        return Err(bad(node, format!("pooling needs a rank-4 input, got {x}")));
    }
    let oh = window_out(fixed(node, x, 2)?, k[0], s[0], p[0], p[2], d[0], ceil);
    let ow = window_out(fixed(node, x, 3)?, k[1], s[1], p[1], p[3], d[1], ceil);
    match (oh, ow) {
        (Some(h), Some(w)) if h > 0 && w > 0 && p[0] < k[0] && p[1] < k[1] => {
            Ok(Shape(vec![x.0[0], x.0[1], Dim::Fixed(h), Dim::Fixed(w)]))
        }
        _ => Err(bad(node, format!("pool window {k:?} (pads {p:?}) does not fit input {x}"))),
    }
}

impl QModel {
    /// Checks every invariant the engines rely on (see the module docs).
    pub fn validate(&self) -> Result<()> {
        let nv = self.values.len();
        if self.input >= nv || self.output >= nv {
            return Err(bad("model", "input or output value index out of range"));
        }
        for v in &self.values {
            if !(matches!(v.format.bits, 4 | 8 | 16 | 32) && v.scale.is_finite() && v.scale > 0.0) {
                return Err(bad(
                    &v.name,
                    format!("value format {:?} / scale {} is invalid", v.format, v.scale),
                ));
            }
            if v.shape.0.first() != Some(&Dim::Batch)
                || v.shape.0.iter().skip(1).any(|d| d.fixed().is_none_or(|n| n == 0))
            {
                return Err(bad(
                    &v.name,
                    format!("shape {} must be [N, known positive dims...]", v.shape),
                ));
            }
        }
        let mut computed = vec![false; nv];
        computed[self.input] = true;
        for node in &self.nodes {
            let name = node.name.as_str();
            let ins: Vec<usize> = node.inputs.clone();
            if ins.is_empty() || ins.iter().any(|&i| i >= nv || !computed[i]) {
                return Err(bad(
                    name,
                    "reads a value that is out of range or not computed before it",
                ));
            }
            if node.output >= nv || computed[node.output] {
                return Err(bad(name, "writes a value that is out of range or already computed"));
            }
            let x = &self.values[ins[0]];
            let out = &self.values[node.output];
            let arity = |n: usize| {
                if ins.len() == n {
                    Ok(())
                } else {
                    Err(bad(name, format!("expects {n} input(s), got {}", ins.len())))
                }
            };
            let shape = match &node.op {
                QOp::Layer(l) => {
                    let wants_residual =
                        matches!(l.mode, OutputMode::Requantize { residual: Some(_), .. });
                    arity(1 + wants_residual as usize)?;
                    check_bounds(name, l.lo, l.hi, out.format)?;
                    let s = check_layer(name, l, &x.shape, x.format)?;
                    if wants_residual && self.values[ins[1]].shape != s {
                        return Err(bad(
                            name,
                            "residual input shape differs from the output shape",
                        ));
                    }
                    s
                }
                QOp::Requant { dyadic, lo, hi } => {
                    arity(1)?;
                    check_dyadic(name, dyadic)?;
                    check_bounds(name, *lo, *hi, out.format)?;
                    x.shape.clone()
                }
                QOp::Add { a, b, lo, hi } => {
                    arity(2)?;
                    check_dyadic(name, a)?;
                    check_dyadic(name, b)?;
                    check_bounds(name, *lo, *hi, out.format)?;
                    if self.values[ins[1]].shape != x.shape {
                        return Err(bad(name, "operands have different shapes"));
                    }
                    x.shape.clone()
                }
                QOp::Clamp { lo, hi } => {
                    arity(1)?;
                    check_bounds(name, *lo, *hi, out.format)?;
                    x.shape.clone()
                }
                QOp::MaxPool(p) => {
                    arity(1)?;
                    pool_shape(name, &x.shape, p.kernel, p.stride, p.pads, p.dilation, p.ceil_mode)?
                }
                QOp::AvgPool(p) => {
                    arity(1)?;
                    pool_shape(name, &x.shape, p.kernel, p.stride, p.pads, [1, 1], p.ceil_mode)?
                }
                QOp::GlobalAvgPool => {
                    arity(1)?;
                    pool_shape(name, &x.shape, [1, 1], [1, 1], [0; 4], [1, 1], false)?;
                    Shape(vec![x.shape.0[0], x.shape.0[1], Dim::Fixed(1), Dim::Fixed(1)])
                }
                QOp::Concat { dyadics, lo, hi } => {
                    if dyadics.len() != ins.len() {
                        return Err(bad(name, "one multiplier per concat input is required"));
                    }
                    dyadics.iter().try_for_each(|d| check_dyadic(name, d))?;
                    check_bounds(name, *lo, *hi, out.format)?;
                    let mut c = 0;
                    for &i in &ins {
                        let s = &self.values[i].shape;
                        if s.rank() != x.shape.rank()
                            || s.0
                                .iter()
                                .zip(&x.shape.0)
                                .enumerate()
                                .any(|(a, (p, q))| a != 1 && p != q)
                        {
                            return Err(bad(
                                name,
                                format!(
                                    "operand {s} does not match {} outside the channel axis",
                                    x.shape
                                ),
                            ));
                        }
                        c += fixed(name, s, 1)?;
                    }
                    let mut s = x.shape.clone();
                    s.0[1] = Dim::Fixed(c);
                    s
                }
                QOp::Flatten => {
                    arity(1)?;
                    Shape(vec![x.shape.0[0], Dim::Fixed(x.shape.per_item())])
                }
            };
            if shape != out.shape {
                return Err(bad(
                    name,
                    format!("computes shape {shape} but its output value declares {}", out.shape),
                ));
            }
            if !matches!(
                node.op,
                QOp::Layer(_) | QOp::Requant { .. } | QOp::Add { .. } | QOp::Concat { .. }
            ) && out.format != x.format
            {
                return Err(bad(name, "a pass-through op must keep its input's format"));
            }
            computed[node.output] = true;
        }
        if !computed[self.output] {
            return Err(bad("model", "the output value is never computed"));
        }
        Ok(())
    }
}
