//! Symmetric quantizers (HAWQ-V3 §1): per-output-channel weights, per-tensor activations and
//! int32 biases. Float → integer rounding is half-to-even, as `torch.round` does.

use crate::select::{clamp_rank, decimal_f64, two_order_stats};
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
    /// A parameter (scale, percentile, momentum, bit width of a format) is out of its domain.
    #[error("{name} = {value} is invalid (expected {expected})")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// The value given (as f64 so one variant covers floats and integers).
        value: f64,
        /// The accepted domain, in words.
        expected: &'static str,
    },
    /// An empty tensor was given where at least one value is needed.
    #[error("{what} is empty")]
    Empty {
        /// What was empty.
        what: &'static str,
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
///
/// Meant for validated widths (`2..=32`); other widths are clamped into `1..=32` rather than
/// overflowing, so the function never panics.
pub fn signed_levels(bits: u32) -> i32 {
    ((1i64 << (bits.clamp(1, 32) - 1)) - 1) as i32
}

/// Per-channel symmetric scale of one weight slice: `max(|min|, |max|, 1e-8) / n`.
pub fn weight_scale(slice: &[f32], bits: u32) -> f32 {
    let (lo, hi) = slice.iter().fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    weight_scale_for_range(lo, hi, bits)
}

/// The symmetric weight scale for a chosen range: `max(|lo|, |hi|, 1e-8) / n`, in f32 (the
/// floor is applied before the division, as the reference does).
pub fn weight_scale_for_range(lo: f32, hi: f32, bits: u32) -> f32 {
    lo.abs().max(hi.abs()).max(RANGE_FLOOR) / signed_levels(bits) as f32
}

/// Validates a weight tensor's shape and bit width; returns the per-channel slice length.
fn check_weights(w: &[f32], out_channels: usize, bits: u32) -> Result<usize, QuantError> {
    if !(2..=8).contains(&bits) {
        return Err(QuantError::Bits { bits, what: "weights", supported: "2..=8" });
    }
    if out_channels == 0 || w.is_empty() || !w.len().is_multiple_of(out_channels) {
        return Err(QuantError::Channels { len: w.len(), channels: out_channels });
    }
    check_finite(w, "weights")?;
    Ok(w.len() / out_channels)
}

/// Quantizes every channel slice of `w` (length `per`) with the range `range_of(slice)`.
fn quantize_channels(
    w: &[f32],
    per: usize,
    bits: u32,
    mut range_of: impl FnMut(&[f32]) -> (f32, f32),
) -> QuantizedWeights {
    let n = signed_levels(bits);
    let mut values = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(w.len() / per);
    for slice in w.chunks_exact(per) {
        let (lo, hi) = range_of(slice);
        let s = weight_scale_for_range(lo, hi, bits);
        scales.push(s);
        // The clamp keeps every value in [-2^(b-1), 2^(b-1)-1] ⊂ i8 because bits ≤ 8.
        values.extend(slice.iter().map(|&v| quantize_value(v, s, -n - 1, n) as i8));
    }
    QuantizedWeights { bits, values, scales }
}

/// Quantizes a weight tensor whose leading dimension is `out_channels` (OIHW or `[out, in]`):
/// per channel `s = max(|min|, |max|, 1e-8) / n` and `q = clamp(round_half_even(w / s), −n−1, n)`.
pub fn quantize_weights(
    w: &[f32],
    out_channels: usize,
    bits: u32,
) -> Result<QuantizedWeights, QuantError> {
    let per = check_weights(w, out_channels, bits)?;
    Ok(quantize_channels(w, per, bits, |slice| {
        slice.iter().fold((0.0f32, 0.0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)))
    }))
}

/// The 1-based ranks `(k_lo, k_hi)` of the weight percentile range for a slice of `n ≥ 1`
/// values: `k_lo = ceil(n·(100−p)/100)`, `k_hi = ceil(n·p/100)`, each clamped into `1..=n`.
///
/// The products are evaluated as the reference does, `(n · (100 − p)) · 0.01` in f64, with `p`
/// taken as the shortest decimal of the f32 (99.9, not 99.900001525…), so the ranks agree with
/// the reference given the same decimal.
pub fn weight_percentile_ranks(n: usize, p: f32) -> (usize, usize) {
    let p = decimal_f64(p);
    let k_lo = ((n as f64 * (100.0 - p)) * 0.01).ceil();
    let k_hi = ((n as f64 * p) * 0.01).ceil();
    (clamp_rank(k_lo, n), clamp_rank(k_hi, n))
}

/// Like [`quantize_weights`], but each channel's range is `(k_lo-th, k_hi-th smallest)` from
/// [`weight_percentile_ranks`] instead of `(min, max)` (HAWQ-V3 weight percentile). Values outside
/// that range saturate, which is where `−n−1` can actually occur. `p` must be in `(50, 100]`;
/// `p = 100` is the plain min/max quantizer.
pub fn quantize_weights_percentile(
    w: &[f32],
    out_channels: usize,
    bits: u32,
    p: f32,
) -> Result<QuantizedWeights, QuantError> {
    if !(p > 50.0 && p <= 100.0) {
        return Err(QuantError::InvalidParameter {
            name: "weight percentile",
            value: p as f64,
            expected: "a value in (50, 100]",
        });
    }
    let per = check_weights(w, out_channels, bits)?;
    let (k_lo, k_hi) = weight_percentile_ranks(per, p);
    let mut scratch = Vec::with_capacity(per);
    Ok(quantize_channels(w, per, bits, |slice| {
        scratch.clear();
        scratch.extend_from_slice(slice);
        two_order_stats(&mut scratch, k_lo, k_hi)
    }))
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

    /// Checks the width: signed `2..=32`, unsigned `1..=31` (so every value fits an i32).
    pub fn check(self) -> Result<Self, QuantError> {
        let ok =
            if self.signed { (2..=32).contains(&self.bits) } else { (1..=31).contains(&self.bits) };
        if ok {
            Ok(self)
        } else {
            Err(QuantError::Bits {
                bits: self.bits,
                what: if self.signed { "signed activations" } else { "unsigned activations" },
                supported: if self.signed { "2..=32" } else { "1..=31" },
            })
        }
    }

    /// Width used in arithmetic: clamped into `1..=32` so unchecked formats cannot overflow a
    /// shift (a checked format is unchanged).
    fn width(self) -> u32 {
        self.bits.clamp(1, 32)
    }

    /// Integer range `(lo, hi)`.
    pub fn range(self) -> (i64, i64) {
        let b = self.width();
        if self.signed { (-(1i64 << (b - 1)), (1i64 << (b - 1)) - 1) } else { (0, (1i64 << b) - 1) }
    }

    /// Clamps an integer into [`ActFormat::range`] (the saturating store).
    pub fn saturate(self, v: i64) -> i64 {
        let (lo, hi) = self.range();
        v.clamp(lo, hi)
    }

    /// Scale for an observed float range: signed uses `max(|lo|,|hi|,1e-8) / (2^(b-1)-1)`,
    /// unsigned uses `max(hi - min(lo, 0), 1e-8) / (2^b - 1)`.
    ///
    /// Unsigned formats have no zero point, so the integer 0 is the float 0 and the range that
    /// must be covered is `[0, hi]`: a positive `lo` is treated as 0 (the reference uses
    /// `hi − lo` and would clip the top of the range when `lo > 0`). A negative `lo` is kept, as
    /// in the reference, although its values saturate to 0.
    pub fn scale_for_range(self, lo: f32, hi: f32) -> f32 {
        let b = self.width();
        if self.signed {
            lo.abs().max(hi.abs()).max(RANGE_FLOOR) / ((1i64 << (b - 1)) - 1) as f32
        } else {
            (hi - lo.min(0.0)).max(RANGE_FLOOR) / ((1i64 << b) - 1) as f32
        }
    }

    /// Quantizes one float with scale `s` into this format: `clamp(round_half_even(x / s))`.
    /// A NaN quotient becomes 0 (Rust's saturating float → int cast); callers that need an
    /// error check finiteness first.
    pub fn quantize(self, x: f32, s: f32) -> i32 {
        let (lo, hi) = self.range();
        let q = (x / s).round_ties_even();
        q.clamp(lo as f32, hi as f32) as i32
    }
}

fn check_scale(name: &'static str, s: f32) -> Result<(), QuantError> {
    if s.is_finite() && s > 0.0 {
        Ok(())
    } else {
        Err(QuantError::InvalidParameter {
            name,
            value: s as f64,
            expected: "a finite positive scale",
        })
    }
}

/// int32 bias at scale `s_in · s_w[c]` (HAWQ-V3 §1.3), saturated to the i32 range.
///
/// The product `s_in · s_w[c]` is rounded to f32 (the reference keeps scales in f32); the
/// division and rounding (half to even) are done in f64, which is exact enough that every
/// representable bias integer is reached. Scales must be finite and positive, and so must
/// their f32 product (an underflow to 0 is an error, not an infinite bias).
pub fn quantize_bias(bias: &[f32], s_in: f32, s_w: &[f32]) -> Result<Vec<i32>, QuantError> {
    if bias.len() != s_w.len() {
        return Err(QuantError::Channels { len: bias.len(), channels: s_w.len() });
    }
    check_finite(bias, "bias")?;
    check_scale("bias input scale", s_in)?;
    let mut out = Vec::with_capacity(bias.len());
    for (&b, &sw) in bias.iter().zip(s_w) {
        check_scale("bias weight scale", sw)?;
        let s = s_in * sw;
        check_scale("bias scale s_in·s_w", s)?;
        let q = (b as f64 / s as f64).round_ties_even();
        out.push(q.clamp(i32::MIN as f64, i32::MAX as f64) as i32);
    }
    Ok(out)
}
