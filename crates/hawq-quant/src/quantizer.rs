//! Symmetric quantizers (HAWQ-V3 §1): per-output-channel weights, per-tensor activations and
//! int32 biases. Float → integer rounding is half-to-even, as `torch.round` does.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The 1e-8 floor applied to a range before it becomes a scale (avoids zero scales).
pub const RANGE_FLOOR: f32 = 1e-8;

/// Errors of the quantizers.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum QuantError {
    /// Bit width outside what the quantizer supports.
    #[error("unsupported bit width {bits} for {what} (supported: {supported})")]
    Bits {
        /// The width asked for.
        bits: u32,
        /// What was being quantized.
        what: &'static str,
        /// Supported widths.
        supported: &'static str,
    },
    /// Tensor length does not split into the channel count.
    #[error("{len} weights do not split into {channels} output channels")]
    Channels {
        /// Number of weights.
        len: usize,
        /// Output channels asked for.
        channels: usize,
    },
    /// A NaN or infinite value was found.
    #[error("{what} contains a non-finite value at index {index}")]
    NonFinite {
        /// What was being quantized.
        what: &'static str,
        /// First bad index.
        index: usize,
    },
}

fn check_finite(xs: &[f32], what: &'static str) -> Result<(), QuantError> {
    match xs.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(QuantError::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// Per-output-channel symmetric integer weights.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedWeights {
    /// Bit width (4 or 8).
    pub bits: u32,
    /// Integer weights in `[-2^(b-1), 2^(b-1) - 1]`, same layout as the float tensor.
    pub values: Vec<i8>,
    /// One scale per output channel.
    pub scales: Vec<f32>,
}

/// Largest positive level `n = 2^(b-1) - 1` of a signed symmetric quantizer.
pub fn signed_levels(bits: u32) -> i32 {
    (1 << (bits - 1)) - 1
}

/// Per-channel symmetric scale of one weight slice: `max(|min|, |max|, 1e-8) / n`.
pub fn weight_scale(slice: &[f32], bits: u32) -> f32 {
    let (lo, hi) = slice.iter().fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    lo.abs().max(hi.abs()).max(RANGE_FLOOR) / signed_levels(bits) as f32
}

/// Quantizes a weight tensor whose leading dimension is `out_channels` (OIHW or `[out, in]`).
pub fn quantize_weights(
    w: &[f32],
    out_channels: usize,
    bits: u32,
) -> Result<QuantizedWeights, QuantError> {
    if !(2..=8).contains(&bits) {
        return Err(QuantError::Bits { bits, what: "weights", supported: "2..=8" });
    }
    if out_channels == 0 || w.is_empty() || !w.len().is_multiple_of(out_channels) {
        return Err(QuantError::Channels { len: w.len(), channels: out_channels });
    }
    check_finite(w, "weights")?;
    let n = signed_levels(bits);
    let per = w.len() / out_channels;
    let mut values = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(out_channels);
    for slice in w.chunks_exact(per) {
        let s = weight_scale(slice, bits);
        scales.push(s);
        values.extend(slice.iter().map(|&v| quantize_value(v, s, -n - 1, n) as i8));
    }
    Ok(QuantizedWeights { bits, values, scales })
}

/// `clamp(round_half_even(x / s), lo, hi)`.
pub fn quantize_value(x: f32, s: f32, lo: i32, hi: i32) -> i32 {
    let q = (x / s).round_ties_even();
    q.clamp(lo as f32, hi as f32) as i32
}

/// Signedness and width of an activation tensor's integers (zero point is always 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ActFormat {
    /// Bit width: 4, 8, 16 or 32.
    pub bits: u32,
    /// Signed symmetric (`[-2^(b-1), 2^(b-1)-1]`) or unsigned (`[0, 2^b - 1]`).
    pub signed: bool,
}

impl ActFormat {
    /// Signed symmetric `bits`-bit.
    pub const fn signed(bits: u32) -> Self {
        Self { bits, signed: true }
    }

    /// Unsigned `bits`-bit (only valid for non-negative tensors).
    pub const fn unsigned(bits: u32) -> Self {
        Self { bits, signed: false }
    }

    /// Integer range `(lo, hi)`.
    pub fn range(self) -> (i64, i64) {
        if self.signed {
            (-(1i64 << (self.bits - 1)), (1i64 << (self.bits - 1)) - 1)
        } else {
            (0, (1i64 << self.bits) - 1)
        }
    }

    /// Scale for an observed float range: signed uses `max(|lo|,|hi|,1e-8) / (2^(b-1)-1)`,
    /// unsigned uses `max(hi - lo, 1e-8) / (2^b - 1)` with the lower bound taken as 0.
    pub fn scale_for_range(self, lo: f32, hi: f32) -> f32 {
        if self.signed {
            lo.abs().max(hi.abs()).max(RANGE_FLOOR) / ((1i64 << (self.bits - 1)) - 1) as f32
        } else {
            (hi - lo.min(0.0)).max(RANGE_FLOOR) / ((1i64 << self.bits) - 1) as f32
        }
    }

    /// Quantizes one float with scale `s` into this format.
    pub fn quantize(self, x: f32, s: f32) -> i32 {
        let (lo, hi) = self.range();
        let q = (x / s).round_ties_even();
        q.clamp(lo as f32, hi as f32) as i32
    }
}

/// int32 bias at scale `s_in · s_w[c]` (HAWQ-V3 §1.3), saturated to the i32 range.
pub fn quantize_bias(bias: &[f32], s_in: f32, s_w: &[f32]) -> Result<Vec<i32>, QuantError> {
    if bias.len() != s_w.len() {
        return Err(QuantError::Channels { len: bias.len(), channels: s_w.len() });
    }
    check_finite(bias, "bias")?;
    Ok(bias
        .iter()
        .zip(s_w)
        .map(|(&b, &sw)| {
            let s = (s_in * sw) as f64;
            (b as f64 / s).round_ties_even().clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect())
}
