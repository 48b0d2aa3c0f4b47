//! Lowering of conv and linear layers: weight/bias quantization, accumulator proof, and the
//! choice of output handling (accumulator, fused residual, or requantized output).

use super::values::{Builder, clamp_bounds};
use super::{RESIDUAL, WIDE};
use crate::error::{EngineError, Result};
use crate::qmodel::{ConvGeom, OutputMode, QLayer, QNode, QOp};
use crate::validate::check_accumulator;
use hawq_ir::{Activation, Op};
use hawq_quant::{Dyadic, quantize_bias, quantize_weights};
use std::collections::HashSet;

struct LayerSpec {
    weight: String,
    bias: Option<String>,
    geom: ConvGeom,
    is_linear: bool,
    act: Activation,
}

fn spec(op: &Op) -> Option<LayerSpec> {
    match op {
        Op::Conv2d(c) => Some(LayerSpec {
            weight: c.weight.clone(),
            bias: c.bias.clone(),
            geom: ConvGeom {
                in_channels: c.in_channels,
                out_channels: c.out_channels,
                kernel: c.kernel,
                stride: c.stride,
                pads: c.pads,
                dilation: c.dilation,
                groups: c.groups,
            },
            is_linear: false,
            act: c.activation,
        }),
        Op::Linear(l) => Some(LayerSpec {
            weight: l.weight.clone(),
            bias: l.bias.clone(),
            geom: ConvGeom {
                in_channels: l.in_features,
                out_channels: l.out_features,
                kernel: [1, 1],
                stride: [1, 1],
                pads: [0; 4],
                dilation: [1, 1],
                groups: 1,
            },
            is_linear: true,
            act: l.activation,
        }),
        _ => None,
    }
}

/// Lowers the conv/linear node `idx`.
pub(crate) fn lower_layer(
    b: &mut Builder,
    idx: usize,
    absorbed: &mut HashSet<usize>,
) -> Result<()> {
    let node = &b.graph.nodes[idx];
    let s = spec(&node.op).expect("lower_layer is only called on Conv2d/Linear");
    let bits = b.cfg.bits_of(&s.weight);
    if bits != 4 && bits != 8 {
        return Err(EngineError::Bits { layer: s.weight.clone(), bits });
    }
    let x = node.inputs[0].clone();
    let fmt_in = b.cfg.input_format(bits, b.non_negative(&x));
    let xin = b.ensure_format(&x, fmt_in)?;
    let s_in = b.values[xin].scale;

    let w = b.graph.require_param(node, &s.weight)?;
    let qw = quantize_weights(w.data(), s.geom.out_channels, bits)
        .map_err(|source| EngineError::Quant { layer: s.weight.clone(), source })?;
    let bias_f = match &s.bias {
        Some(name) => b.graph.require_param(node, name)?.data().to_vec(),
        None => vec![0.0; s.geom.out_channels],
    };
    let bias = quantize_bias(&bias_f, s_in, &qw.scales)
        .map_err(|source| EngineError::Quant { layer: s.weight.clone(), source })?;
    check_accumulator(&s.weight, &qw.values, &bias, fmt_in, s.geom.reduction())?;

    let requant = |b: &Builder, s_out: f32| -> Result<Vec<Dyadic>> {
        qw.scales
            .iter()
            .map(|&sw| b.dyadic((s_in * sw) as f64 / s_out as f64, &node.name))
            .collect()
    };
    let mut layer = QLayer {
        name: s.weight.clone(),
        geom: s.geom.clone(),
        is_linear: s.is_linear,
        bits,
        weights: qw.values.clone(),
        bias,
        w_scales: qw.scales.clone(),
        s_in,
        mode: OutputMode::Accumulator,
        lo: i32::MIN as i64,
        hi: i32::MAX as i64,
    };
    let out = node.output.clone();
    let is_graph_output = b.graph.outputs.contains(&out);

    // Final logits: keep the accumulator, dequantize per channel.
    if is_graph_output
        && b.consumers_of(&out).is_empty()
        && matches!(s.act, Activation::None | Activation::Relu)
    {
        let (lo, hi) = clamp_bounds(RESIDUAL, s.act, 1.0);
        (layer.lo, layer.hi) = (lo, hi);
        let id = b.new_value(&out, RESIDUAL, 1.0);
        b.nodes.push(QNode {
            name: node.name.clone(),
            op: QOp::Layer(Box::new(layer)),
            inputs: vec![xin],
            output: id,
        });
        b.bind(&out, id, s.act.non_negative());
        return Ok(());
    }

    // Residual add fused into the epilogue when the other operand is already computed.
    if s.act == Activation::None
        && let Some(c) = b.sole_consumer(&out)
        && b.graph.nodes[c].op == Op::Add
    {
        let add = &b.graph.nodes[c];
        let other =
            if add.inputs[0] == out { add.inputs[1].clone() } else { add.inputs[0].clone() };
        if other != out && b.is_lowered(&other) {
            absorbed.insert(c);
            let (mut out_name, mut post) = (add.output.clone(), Activation::None);
            if let Some((r, a)) = b.trailing_activation(&add.output) {
                absorbed.insert(r);
                out_name = b.graph.nodes[r].output.clone();
                post = a;
            }
            let scale = b.scale_of(&out_name, RESIDUAL)?;
            let rid = b.value_of(&other)?;
            let rd = b.dyadic(b.values[rid].scale as f64 / scale as f64, &add.name)?;
            layer.mode = OutputMode::Requantize { requant: requant(b, scale)?, residual: Some(rd) };
            (layer.lo, layer.hi) = clamp_bounds(RESIDUAL, post, scale);
            let id = b.new_value(&out_name, RESIDUAL, scale);
            b.nodes.push(QNode {
                name: node.name.clone(),
                op: QOp::Layer(Box::new(layer)),
                inputs: vec![xin, rid],
                output: id,
            });
            b.bind(&out_name, id, post.non_negative());
            return Ok(());
        }
    }

    // Plain output: straight into the consumers' common input format, else 16-bit.
    let nonneg = s.act.non_negative();
    let consumers = b.consumers_of(&out).to_vec();
    let mut formats = consumers.iter().map(|&c| {
        spec(&b.graph.nodes[c].op).map(|cs| b.cfg.input_format(b.cfg.bits_of(&cs.weight), nonneg))
    });
    let first = formats.next().flatten();
    let out_fmt = match first {
        Some(f) if !is_graph_output && formats.all(|g| g == Some(f)) => f,
        _ => WIDE,
    };
    let scale = b.scale_of(&out, out_fmt)?;
    layer.mode = OutputMode::Requantize { requant: requant(b, scale)?, residual: None };
    (layer.lo, layer.hi) = clamp_bounds(out_fmt, s.act, scale);
    let id = b.new_value(&out, out_fmt, scale);
    b.nodes.push(QNode {
        name: node.name.clone(),
        op: QOp::Layer(Box::new(layer)),
        inputs: vec![xin],
        output: id,
    });
    b.bind(&out, id, nonneg);
    Ok(())
}
