//! Lowering: a simplified float graph (BN folded, Identity removed, activations fused — see
//! `hawq_ir::passes::simplify`) + calibrated float ranges + per-layer bits → [`QModel`].
//!
//! Rules (docs/NUMERICS.md, "Integer graph ops"):
//! - the graph input is quantized to signed 8 bits;
//! - a conv/linear layer with `b` bits reads its input in a `b`-bit format (unsigned when the
//!   input is provably non-negative, except 8-bit in reference-compatible signed mode); a
//!   `Requant` node is inserted when the producer's format differs, shared by every layer that
//!   needs the same format of the same value (this is what ties such layers' bits);
//! - a layer's output goes straight into its consumers' input format when they all agree,
//!   otherwise into signed 16 bits; the last layer feeding the graph output keeps its int32
//!   accumulator and is dequantized per channel;
//! - a residual `Add` (plus a ReLU right after it) is fused into the epilogue of the layer
//!   that produces its later operand; its output is an int32 value with a 16-bit scale,
//!   saturating at the i32 range;
//! - pools and flatten keep their input's scale; concat requantizes each input to one 16-bit
//!   output scale.

mod layer;
mod values;

use crate::error::{EngineError, Result};
use crate::qmodel::{Dequant, FORMAT_VERSION, OutputMode, QModel, QNode, QOp, QValue};
use hawq_ir::{Graph, Op};
use hawq_quant::ActFormat;
use std::collections::{HashMap, HashSet};
use values::Builder;

/// Calibrated float range `(min, max)` of every value, by value name.
pub type Ranges = HashMap<String, (f32, f32)>;

/// What the lowering needs besides the graph and the ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct LowerConfig {
    /// Bits per layer, by layer name (the weight parameter's name); others get `default_bits`.
    pub bits: HashMap<String, u32>,
    /// Bits of layers not listed in `bits`.
    pub default_bits: u32,
    /// Reference-compatible mode: 8-bit activations are signed even when non-negative.
    pub signed_activations: bool,
}

impl Default for LowerConfig {
    fn default() -> Self {
        Self { bits: HashMap::new(), default_bits: 8, signed_activations: false }
    }
}

impl LowerConfig {
    /// Bits of a layer.
    pub fn bits_of(&self, layer: &str) -> u32 {
        self.bits.get(layer).copied().unwrap_or(self.default_bits)
    }

    /// The input format of a `bits`-bit layer whose input is (or is not) non-negative.
    pub fn input_format(&self, bits: u32, non_negative: bool) -> ActFormat {
        if non_negative && !(self.signed_activations && bits == 8) {
            ActFormat::unsigned(bits)
        } else {
            ActFormat::signed(bits)
        }
    }
}

/// Signed 16-bit: the format of values between layers that do not agree on one input format.
pub const WIDE: ActFormat = ActFormat::signed(16);
/// int32 storage with a 16-bit scale: residual sums (saturating at the i32 range).
pub const RESIDUAL: ActFormat = ActFormat::signed(32);

/// Lowers `graph` to an integer model.
pub fn lower(graph: &Graph, ranges: &Ranges, cfg: &LowerConfig) -> Result<QModel> {
    if graph.inputs.len() != 1 || graph.outputs.len() != 1 {
        return Err(EngineError::Unsupported {
            node: "graph".into(),
            op: "Graph",
            why: format!(
                "{} inputs and {} outputs; the integer engine runs one of each",
                graph.inputs.len(),
                graph.outputs.len()
            ),
        });
    }
    let shapes = graph.infer_shapes()?;
    let order = graph.topo_order()?;
    let input = &graph.inputs[0];
    let mut b = Builder::new(graph, ranges, cfg, &shapes);
    let in_fmt = ActFormat::signed(8);
    let in_scale = b.scale_of(&input.name, in_fmt)?;
    let in_id = b.new_value(&input.name, in_fmt, in_scale);
    b.bind(&input.name, in_id, false);

    let mut absorbed: HashSet<usize> = HashSet::new();
    for idx in order {
        if absorbed.contains(&idx) {
            continue;
        }
        let node = &graph.nodes[idx];
        match &node.op {
            Op::Conv2d(_) | Op::Linear(_) => layer::lower_layer(&mut b, idx, &mut absorbed)?,
            _ => b.lower_other(idx, &mut absorbed)?,
        }
    }

    let out_name = &graph.outputs[0];
    let output = b.value_of(out_name)?;
    let dequant = match b.nodes.iter().find(|n| n.output == output).map(|n| &n.op) {
        Some(QOp::Layer(l)) if matches!(l.mode, OutputMode::Accumulator) => {
            Dequant::PerChannel(l.w_scales.iter().map(|&sw| l.s_in * sw).collect())
        }
        _ => Dequant::PerTensor,
    };
    let (values, nodes): (Vec<QValue>, Vec<QNode>) = (b.values, b.nodes);
    Ok(QModel { version: FORMAT_VERSION, values, nodes, input: in_id, output, dequant })
}
