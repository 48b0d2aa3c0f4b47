//! Accumulator-overflow bounds: can a layer's int32 accumulator, or a residual sum, leave the
//! i32 range for *some* input in its format?
//!
//! The accumulator of output channel `c` is `acc = Σ_i w_i·a_i + b` over the reduction length
//! `K = in_channels/groups · kh · kw` (or `in_features` for a dense layer). Every activation is
//! independent and ranges over its format's integers `[a_lo, a_hi]`, which always contain 0.
//! So each product `w_i·a_i` ranges over `[min(w_i·a_lo, w_i·a_hi), max(w_i·a_lo, w_i·a_hi)]`,
//! an interval containing 0, and every partial sum in *any* order — with the bias added first,
//! last or anywhere — lies in
//!
//! `[Σ_i min(w_i·a_lo, w_i·a_hi) + min(b, 0),  Σ_i max(w_i·a_lo, w_i·a_hi) + max(b, 0)]`.
//!
//! Both ends are attained (by the full sum, or by the sum just before a bias of the opposite
//! sign is added), so the bound is exact, and never larger than `Σ|w_i|·max|a| + |b|`.
//! Everything is computed in i128, which holds any sum of i8 × i32 products a real layer has.

use crate::dyadic::Dyadic;
use crate::quantizer::ActFormat;
use crate::rounding::Rounding;
use thiserror::Error;

/// An inclusive range of integer values an accumulator can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccRange {
    /// Smallest reachable value.
    pub lo: i128,
    /// Largest reachable value.
    pub hi: i128,
}

impl AccRange {
    /// The worst-case magnitude `max(|lo|, |hi|)`.
    pub fn magnitude(self) -> u128 {
        self.lo.unsigned_abs().max(self.hi.unsigned_abs())
    }

    /// Whether every value fits an i32 (`[−2^31, 2^31 − 1]`, the asymmetric range exactly).
    pub fn fits_i32(self) -> bool {
        self.lo >= i32::MIN as i128 && self.hi <= i32::MAX as i128
    }

    /// The smallest range containing both.
    pub fn union(self, other: AccRange) -> AccRange {
        AccRange { lo: self.lo.min(other.lo), hi: self.hi.max(other.hi) }
    }
}

/// The accumulator cannot be proven to stay inside int32, or the layer's tensors do not fit
/// together.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum AccumulatorError {
    /// Some input in the activation format drives a partial sum outside i32.
    #[error(
        "layer {layer}: output channel {channel} with reduction length K = {k} can reach \
         accumulator values in [{lo}, {hi}] (|acc| up to {magnitude}), outside int32"
    )]
    Overflow {
        /// Layer name.
        layer: String,
        /// First offending output channel (0 for the generic, weight-independent check).
        channel: usize,
        /// Reduction length K.
        k: usize,
        /// Lower end of the reachable range.
        lo: i128,
        /// Upper end of the reachable range.
        hi: i128,
        /// `max(|lo|, |hi|)`.
        magnitude: u128,
    },
    /// Weights, channel count and biases are inconsistent.
    #[error(
        "layer {layer}: {len} weights do not split into {channels} output channels \
         (with {biases} biases)"
    )]
    Layout {
        /// Layer name.
        layer: String,
        /// Number of weights.
        len: usize,
        /// Output channels given.
        channels: usize,
        /// Number of biases given (0 when there is no bias).
        biases: usize,
    },
}

/// The activation integers `(lo, hi)` of a format, in i128.
fn act_limits(act: ActFormat) -> (i128, i128) {
    let (lo, hi) = act.range();
    (lo as i128, hi as i128)
}

/// Reachable accumulator range for *any* `w_bits`-bit signed weights (`[−2^(b−1), 2^(b−1)−1]`)
/// and any activations of `act`, with `k` products and no bias. Saturates at the i128 range
/// (never reached by a real layer).
pub fn generic_range(k: usize, w_bits: u32, act: ActFormat) -> AccRange {
    let wb = w_bits.clamp(1, 32);
    let (w_lo, w_hi) = (-(1i128 << (wb - 1)), (1i128 << (wb - 1)) - 1);
    let (a_lo, a_hi) = act_limits(act);
    let corners = [w_lo * a_lo, w_lo * a_hi, w_hi * a_lo, w_hi * a_hi];
    // Both are ≥/≤ 0 because 0 is in both ranges (the corner set always contains a 0 product
    // or products of both signs), so scaling by k bounds every partial sum too.
    let per_max = corners.iter().copied().fold(0, i128::max);
    let per_min = corners.iter().copied().fold(0, i128::min);
    let k = k as i128;
    AccRange { lo: per_min.saturating_mul(k), hi: per_max.saturating_mul(k) }
}

/// `generic_range(k, w_bits, act).magnitude()`: the bound for a layer before its weights are
/// known (e.g. W8A8 with K = 4608 gives 4608·128·128 = 75 497 472).
pub fn generic_bound(k: usize, w_bits: u32, act: ActFormat) -> u128 {
    generic_range(k, w_bits, act).magnitude()
}

/// Exact reachable range of one output channel's partial sums: its integer weights, any
/// activations of `act`, and its int32 `bias` (0 when the layer has none). See the module docs.
pub fn channel_range(weights: &[i8], act: ActFormat, bias: i32) -> AccRange {
    let (a_lo, a_hi) = act_limits(act);
    let (mut lo, mut hi) = (0i128, 0i128);
    for &w in weights {
        let (p, q) = (w as i128 * a_lo, w as i128 * a_hi);
        lo += p.min(q);
        hi += p.max(q);
    }
    let b = bias as i128;
    AccRange { lo: lo + b.min(0), hi: hi + b.max(0) }
}

/// `channel_range(weights, act, bias).magnitude()`.
pub fn channel_bound(weights: &[i8], act: ActFormat, bias: i32) -> u128 {
    channel_range(weights, act, bias).magnitude()
}

/// Checks every output channel of a layer: `weights` is the layer's integer weight tensor with
/// the output channel leading (OIHW or `[out, in]`), so `K = weights.len() / out_channels`;
/// `bias` has one value per channel when present. Returns the union of the channel ranges.
pub fn check_accumulator(
    layer: &str,
    weights: &[i8],
    out_channels: usize,
    act: ActFormat,
    bias: Option<&[i32]>,
) -> Result<AccRange, AccumulatorError> {
    let biases = bias.map_or(0, <[i32]>::len);
    let bad_layout = out_channels == 0
        || weights.is_empty()
        || !weights.len().is_multiple_of(out_channels)
        || bias.is_some_and(|b| b.len() != out_channels);
    if bad_layout {
        return Err(AccumulatorError::Layout {
            layer: layer.to_string(),
            len: weights.len(),
            channels: out_channels,
            biases,
        });
    }
    let k = weights.len() / out_channels;
    let mut total: Option<AccRange> = None;
    for (channel, w) in weights.chunks_exact(k).enumerate() {
        let b = bias.map_or(0, |b| b[channel]); // length checked above
        let r = channel_range(w, act, b);
        if !r.fits_i32() {
            return Err(overflow(layer, channel, k, r));
        }
        total = Some(total.map_or(r, |t| t.union(r)));
    }
    // out_channels ≥ 1 and k ≥ 1, so the loop ran at least once.
    Ok(total.unwrap_or(AccRange { lo: 0, hi: 0 }))
}

/// The weight-independent check: fails when *some* `w_bits`-bit weights could overflow with
/// `k` products (plus a bias of magnitude up to `max_abs_bias`).
pub fn check_generic_accumulator(
    layer: &str,
    k: usize,
    w_bits: u32,
    act: ActFormat,
    max_abs_bias: u32,
) -> Result<AccRange, AccumulatorError> {
    let g = generic_range(k, w_bits, act);
    let b = max_abs_bias as i128;
    let r = AccRange { lo: g.lo.saturating_sub(b), hi: g.hi.saturating_add(b) };
    if r.fits_i32() { Ok(r) } else { Err(overflow(layer, 0, k, r)) }
}

fn overflow(layer: &str, channel: usize, k: usize, r: AccRange) -> AccumulatorError {
    AccumulatorError::Overflow {
        layer: layer.to_string(),
        channel,
        k,
        lo: r.lo,
        hi: r.hi,
        magnitude: r.magnitude(),
    }
}

/// The residual add of HAWQ-V3 §2.4 before saturation:
/// `round(q_id·m1/2^e1) + round(acc·m2/2^e2)`, each rounded under `policy`, summed exactly.
fn residual_sum(q_id: i64, d_id: Dyadic, acc: i64, d_main: Dyadic, policy: Rounding) -> i128 {
    d_id.apply_with(q_id, policy) as i128 + d_main.apply_with(acc, policy) as i128
}

/// The residual add as deployed: both branches requantized to the output scale, summed, and
/// saturated to int32 (TVM `qnn.add`; never clamped to 16 bits, see docs/NUMERICS.md).
pub fn residual_add(q_id: i32, d_id: Dyadic, acc: i32, d_main: Dyadic, policy: Rounding) -> i32 {
    let s = residual_sum(q_id as i64, d_id, acc as i64, d_main, policy);
    s.clamp(i32::MIN as i128, i32::MAX as i128) as i32
}

/// Exact range of the *unsaturated* residual sum when the identity branch ranges over `id` and
/// the main accumulator over `main` (inclusive `(lo, hi)` pairs). Requantization is monotone in
/// its input, so the extremes come from the endpoints. When the result does not
/// [`fit i32`](AccRange::fits_i32), [`residual_add`] can saturate.
pub fn residual_range(
    id: (i64, i64),
    d_id: Dyadic,
    main: (i64, i64),
    d_main: Dyadic,
    policy: Rounding,
) -> AccRange {
    let ends = |(lo, hi): (i64, i64), d: Dyadic| {
        let (a, b) = (d.apply_with(lo, policy) as i128, d.apply_with(hi, policy) as i128);
        (a.min(b), a.max(b)) // min/max also covers a (non-canonical) negative multiplier
    };
    let (i_lo, i_hi) = ends((id.0.min(id.1), id.0.max(id.1)), d_id);
    let (m_lo, m_hi) = ends((main.0.min(main.1), main.0.max(main.1)), d_main);
    AccRange { lo: i_lo + m_lo, hi: i_hi + m_hi }
}
