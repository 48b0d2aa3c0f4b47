//! The integer-only model: a graph of integer ops over quantized values. Every value carries
//! one per-tensor scale and an integer format; weights are per-output-channel; requantization
//! is dyadic. Nothing in it is float except the input quantization and the final dequantize.

use hawq_ir::{Pads, Shape};
use hawq_quant::{ActFormat, Dyadic};
use serde::{Deserialize, Serialize};

/// Version of the `.hawq` format and of these semantics.
pub const FORMAT_VERSION: u32 = 1;

/// Index of a value in [`QModel::values`].
pub type ValueId = usize;

/// A quantized tensor: `real ≈ int · scale`, integers in `format`'s range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QValue {
    /// Name (the float graph's value name, or a derived name for inserted requantizations).
    pub name: String,
    /// Symbolic NCHW (or `[N, F]`) shape.
    pub shape: Shape,
    /// Integer format (storage width and signedness; 32-bit values saturate at the i32 range).
    pub format: ActFormat,
    /// Per-tensor scale. For [`OutputMode::Accumulator`] layers this is unused (see the layer).
    pub scale: f32,
}

/// Geometry of a conv (NCHW reference semantics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvGeom {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Pads `[top, left, bottom, right]`.
    pub pads: Pads,
    /// Dilation.
    pub dilation: [usize; 2],
    /// Groups.
    pub groups: usize,
}

impl ConvGeom {
    /// Reduction length per output element: `in/groups · kh · kw`.
    pub fn reduction(&self) -> usize {
        self.in_channels / self.groups * self.kernel[0] * self.kernel[1]
    }
}

/// How a conv/linear layer turns its accumulator into its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OutputMode {
    /// Per-channel dyadic requantization into the output value's format.
    Requantize {
        /// One multiplier per output channel: `s_in · s_w[c] / s_out`.
        requant: Vec<Dyadic>,
        /// Optional residual added after requantization: `round(r · m / 2^e)` of input 1.
        residual: Option<Dyadic>,
    },
    /// Keep `acc + bias` as i32 (final logits); real value = `acc · s_in · s_w[c]`.
    Accumulator,
}

/// A conv or linear layer with integer weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QLayer {
    /// Layer name (the float weight parameter's name).
    pub name: String,
    /// Conv geometry; linear layers are 1×1 convs over `[N, F, 1, 1]` with `is_linear`.
    pub geom: ConvGeom,
    /// True for a linear layer (input/output rank 2).
    pub is_linear: bool,
    /// Weight bit width (4 or 8); activations read by the layer have the same width.
    pub bits: u32,
    /// Integer weights, OIHW (or `[out, in]`), each in the signed `bits` range. Stored as a
    /// tensor in the `.hawq` file, not in its JSON.
    #[serde(skip)]
    pub weights: Vec<i8>,
    /// int32 bias at scale `s_in · s_w[c]`. Stored as a tensor in the `.hawq` file.
    #[serde(skip)]
    pub bias: Vec<i32>,
    /// Per-output-channel weight scales.
    pub w_scales: Vec<f32>,
    /// Scale of the layer's input value (kept for dequantizing accumulators and for export).
    pub s_in: f32,
    /// Output handling.
    pub mode: OutputMode,
    /// Integer clamp applied last (ReLU / ReLU6 / format range).
    pub lo: i64,
    /// Upper clamp.
    pub hi: i64,
}

/// Integer ops. Inputs and output are [`ValueId`]s held by [`QNode`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum QOp {
    /// Conv or linear (input 0; input 1 = residual when the mode has one).
    Layer(Box<QLayer>),
    /// Per-tensor requantization `clamp(round(x · m / 2^e), lo, hi)`.
    Requant {
        /// Multiplier `s_in / s_out`.
        dyadic: Dyadic,
        /// Lower clamp.
        lo: i64,
        /// Upper clamp.
        hi: i64,
    },
    /// `clamp(sat_i32(round(a · ma) + round(b · mb)), lo, hi)`.
    Add {
        /// Multiplier of input 0.
        a: Dyadic,
        /// Multiplier of input 1.
        b: Dyadic,
        /// Lower clamp.
        lo: i64,
        /// Upper clamp.
        hi: i64,
    },
    /// Clamp in place (standalone ReLU / Clip); scale unchanged.
    Clamp {
        /// Lower clamp.
        lo: i64,
        /// Upper clamp.
        hi: i64,
    },
    /// Max pooling on integers; scale unchanged.
    MaxPool(hawq_ir::MaxPool),
    /// Average pooling by integer sum and integer division (truncating toward zero).
    AvgPool(hawq_ir::AvgPool),
    /// Global average pooling by integer sum and division (truncating toward zero).
    GlobalAvgPool,
    /// Concatenation along channels, each input requantized to the output scale.
    Concat {
        /// One multiplier per input: `s_i / s_out`.
        dyadics: Vec<Dyadic>,
        /// Lower clamp.
        lo: i64,
        /// Upper clamp.
        hi: i64,
    },
    /// Flatten to `[N, C·H·W]` (a view).
    Flatten,
}

impl QOp {
    /// Short name for tables and errors.
    pub fn name(&self) -> &'static str {
        match self {
            QOp::Layer(l) if l.is_linear => "Linear",
            QOp::Layer(_) => "Conv",
            QOp::Requant { .. } => "Requant",
            QOp::Add { .. } => "Add",
            QOp::Clamp { .. } => "Clamp",
            QOp::MaxPool(_) => "MaxPool",
            QOp::AvgPool(_) => "AvgPool",
            QOp::GlobalAvgPool => "GlobalAvgPool",
            QOp::Concat { .. } => "Concat",
            QOp::Flatten => "Flatten",
        }
    }
}

/// One integer op with its inputs and output value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QNode {
    /// Node name.
    pub name: String,
    /// The op.
    pub op: QOp,
    /// Input values.
    pub inputs: Vec<ValueId>,
    /// Output value.
    pub output: ValueId,
}

/// How the model's float output is produced from its last integer value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Dequant {
    /// `real = int · scale` with the value's per-tensor scale.
    PerTensor,
    /// `real[c] = acc[c] · scales[c]` (final linear in accumulator mode).
    PerChannel(Vec<f32>),
}

/// An integer-only model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QModel {
    /// Semantics/format version ([`FORMAT_VERSION`]).
    pub version: u32,
    /// All values; value 0 is the quantized input.
    pub values: Vec<QValue>,
    /// Nodes in execution (topological) order.
    pub nodes: Vec<QNode>,
    /// The input value (quantized from float as `clamp(round_half_even(x / scale))`).
    pub input: ValueId,
    /// The output value.
    pub output: ValueId,
    /// Dequantization of the output.
    pub dequant: Dequant,
}

impl QModel {
    /// Conv and linear layers in execution order.
    pub fn layers(&self) -> impl Iterator<Item = &QLayer> {
        self.nodes.iter().filter_map(|n| match &n.op {
            QOp::Layer(l) => Some(l.as_ref()),
            _ => None,
        })
    }
}
