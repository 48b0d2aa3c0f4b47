//! The closed set of ops the IR knows, one config struct per op. Importers map foreign op
//! names onto these once; the rest of hawq matches on [`Op`].

use serde::{Deserialize, Serialize};

/// Padding of a 2-D window: `[top, left, bottom, right]` (may be asymmetric).
pub type Pads = [usize; 4];

/// An activation that a conv or linear layer applies to its own output (set by the
/// `fuse_activation` pass, or by a builder).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum Activation {
    /// No activation.
    #[default]
    None,
    /// `max(x, 0)`.
    Relu,
    /// `clamp(x, min, max)`; ReLU6 is `Clip { min: 0, max: 6 }`.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
}

impl Activation {
    /// Applies the activation to one float.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::None => x,
            Activation::Relu => x.max(0.0),
            Activation::Clip { min, max } => x.clamp(min, max),
        }
    }

    /// True when the output can never be negative.
    pub fn non_negative(self) -> bool {
        match self {
            Activation::None => false,
            Activation::Relu => true,
            Activation::Clip { min, .. } => min >= 0.0,
        }
    }
}

/// 2-D convolution. Weight `[out, in/groups, kh, kw]` (OIHW), optional bias `[out]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conv2d {
    /// Parameter name of the weight.
    pub weight: String,
    /// Parameter name of the bias, if any.
    pub bias: Option<String>,
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride `[sh, sw]`.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pads: Pads,
    /// Dilation `[dh, dw]`.
    pub dilation: [usize; 2],
    /// Groups (`in_channels` = depthwise).
    pub groups: usize,
    /// Fused output activation.
    pub activation: Activation,
}

impl Conv2d {
    /// A plain conv with square kernel `k`, stride `s`, symmetric padding `p`, no bias.
    pub fn new(
        weight: impl Into<String>,
        cin: usize,
        cout: usize,
        k: usize,
        s: usize,
        p: usize,
    ) -> Self {
        Self {
            weight: weight.into(),
            bias: None,
            in_channels: cin,
            out_channels: cout,
            kernel: [k, k],
            stride: [s, s],
            pads: [p, p, p, p],
            dilation: [1, 1],
            groups: 1,
            activation: Activation::None,
        }
    }

    /// Weight shape `[out, in/groups, kh, kw]`.
    pub fn weight_shape(&self) -> Vec<usize> {
        vec![
            self.out_channels,
            self.in_channels / self.groups.max(1),
            self.kernel[0],
            self.kernel[1],
        ]
    }

    /// True for a depthwise conv (one input channel per group, groups = in channels > 1).
    pub fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.in_channels
    }
}

/// Batch normalization in inference form: `y = (x - mean) / sqrt(var + eps) * scale + bias`,
/// per channel (axis 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchNorm {
    /// γ parameter name.
    pub scale: String,
    /// β parameter name.
    pub bias: String,
    /// Running mean parameter name.
    pub mean: String,
    /// Running variance parameter name.
    pub var: String,
    /// Numerical epsilon.
    pub eps: f32,
    /// Channels.
    pub channels: usize,
}

/// Fully connected layer `y = x Wᵀ + b` with weight `[out, in]` (ONNX Gemm with transB = 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    /// Parameter name of the weight `[out, in]`.
    pub weight: String,
    /// Parameter name of the bias `[out]`, if any.
    pub bias: Option<String>,
    /// Input features.
    pub in_features: usize,
    /// Output features.
    pub out_features: usize,
    /// Fused output activation.
    pub activation: Activation,
}

/// Max pooling window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaxPool {
    /// Window `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]` (padded cells never win).
    pub pads: Pads,
    /// Dilation.
    pub dilation: [usize; 2],
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
}

/// Average pooling window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvgPool {
    /// Window `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pads: Pads,
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
    /// Divide by the full window (padding included) rather than by the valid cells.
    pub count_include_pad: bool,
}

/// Reshape to a target; `0` copies the input dim, `-1` is inferred. The batch dim must stay
/// first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reshape {
    /// Target shape in ONNX convention.
    pub shape: Vec<i64>,
}

/// The closed op set. Inputs are activations only; weights are named in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Op {
    /// 2-D convolution (1 input).
    Conv2d(Conv2d),
    /// Inference-mode batch norm (1 input).
    BatchNorm(BatchNorm),
    /// ReLU (1 input).
    Relu,
    /// Clamp to `[min, max]` (1 input); ReLU6 is `min = 0, max = 6`.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// Element-wise sum of two inputs of equal shape.
    Add,
    /// Concatenation of ≥ 1 inputs along `axis` (1 = channels).
    Concat {
        /// Axis (non-negative, never the batch axis).
        axis: usize,
    },
    /// Max pooling (1 input).
    MaxPool(MaxPool),
    /// Average pooling (1 input).
    AvgPool(AvgPool),
    /// Mean over all spatial positions, keeping `[N, C, 1, 1]` (1 input).
    GlobalAvgPool,
    /// Fully connected (1 input, `[N, in]`).
    Linear(Linear),
    /// Flatten dims `axis..` into one (1 input); `axis = 1` gives `[N, C·H·W]`.
    Flatten {
        /// First flattened axis (≥ 1).
        axis: usize,
    },
    /// Reshape (1 input).
    Reshape(Reshape),
    /// Dropout: identity at inference (1 input).
    Dropout,
    /// Identity (1 input).
    Identity,
}

impl Op {
    /// Short op name used in error messages and tables.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "Conv2d",
            Op::BatchNorm(_) => "BatchNorm",
            Op::Relu => "Relu",
            Op::Clip { .. } => "Clip",
            Op::Add => "Add",
            Op::Concat { .. } => "Concat",
            Op::MaxPool(_) => "MaxPool",
            Op::AvgPool(_) => "AvgPool",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::Linear(_) => "Linear",
            Op::Flatten { .. } => "Flatten",
            Op::Reshape(_) => "Reshape",
            Op::Dropout => "Dropout",
            Op::Identity => "Identity",
        }
    }

    /// Allowed input counts `(min, max)`.
    pub fn arity(&self) -> (usize, usize) {
        match self {
            Op::Add => (2, 2),
            Op::Concat { .. } => (1, usize::MAX),
            _ => (1, 1),
        }
    }

    /// Parameter names this op reads, in a fixed order.
    pub fn params(&self) -> Vec<&str> {
        match self {
            Op::Conv2d(c) => std::iter::once(c.weight.as_str()).chain(c.bias.as_deref()).collect(),
            Op::Linear(l) => std::iter::once(l.weight.as_str()).chain(l.bias.as_deref()).collect(),
            Op::BatchNorm(b) => vec![&b.scale, &b.bias, &b.mean, &b.var],
            _ => Vec::new(),
        }
    }

    /// True for layers with weights that get a bit width (conv and linear).
    pub fn is_weight_layer(&self) -> bool {
        matches!(self, Op::Conv2d(_) | Op::Linear(_))
    }
}
