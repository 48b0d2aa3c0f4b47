//! Dyadic numbers `m / 2^e`: how hawq multiplies an integer by a real scale ratio using only an
//! integer multiply and a rounding shift (HAWQ-V3 §2.1; see docs/NUMERICS.md).

use crate::quantizer::ActFormat;
use crate::rounding::{Rounding, round_shift_i128};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A ratio that cannot be represented: NaN, infinite or negative.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("scale ratio {ratio} is not a finite non-negative number")]
pub struct BadRatio {
    /// The offending ratio.
    pub ratio: f64,
}

/// `mult / 2^shift` with `mult` in `[2^30, 2^31)` (or `mult = 0, shift = 0` for a zero ratio).
///
/// [`Dyadic::from_ratio`] produces shifts in `-993..=1104` (the whole f64 range, subnormals
/// included); [`Dyadic::apply_with`] is exact for every `i32` shift, so consumers with a narrower
/// fast path (e.g. shifts `1..=62` in i64) must check the shift and fall back, not assume it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dyadic {
    /// 31-bit mantissa.
    pub mult: i32,
    /// Right shift; `≤ 0` for ratios `≥ 2^30` (then applied as a left shift).
    pub shift: i32,
}

impl Dyadic {
    /// The identity ratio 1 = 2^30 / 2^30.
    pub const ONE: Dyadic = Dyadic { mult: 1 << 30, shift: 30 };

    /// The zero ratio (what [`Dyadic::from_ratio`] returns for 0).
    pub const ZERO: Dyadic = Dyadic { mult: 0, shift: 0 };

    /// The dyadic nearest to `ratio` with a 31-bit mantissa: `frexp(ratio) = mant·2^ex`,
    /// `m = round_half_up(mant·2^31)`, `e = 31 − ex`, renormalising `m = 2^31` to `(2^30, e − 1)`.
    ///
    /// Computed on the integer bits of the f64, so it is exact for every finite positive value,
    /// subnormals included. Zero gives [`Dyadic::ZERO`]; NaN, ±∞ and negatives are errors.
    pub fn from_ratio(ratio: f64) -> Result<Dyadic, BadRatio> {
        if !ratio.is_finite() || ratio < 0.0 {
            return Err(BadRatio { ratio });
        }
        if ratio == 0.0 {
            return Ok(Dyadic::ZERO);
        }
        // ratio = sig · 2^exp2 exactly, with sig an integer below 2^53.
        let bits = ratio.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i32;
        let frac = bits & ((1u64 << 52) - 1);
        let (sig, exp2) =
            if biased == 0 { (frac, -1074) } else { (frac | (1u64 << 52), biased - 1075) };
        // Normalise sig into [2^52, 2^53) (only subnormals move). sig ≠ 0 because ratio > 0.
        let lz = sig.leading_zeros() - 11;
        let (sig, exp2) = (sig << lz, exp2 - lz as i32);
        // frexp mantissa = sig / 2^53, so mant·2^31 = sig / 2^22: round half up on the low 22 bits.
        let mut m = (sig + (1u64 << 21)) >> 22;
        // ex = exp2 + 53 and e = 31 − ex.
        let mut e = -22 - exp2;
        if m == 1u64 << 31 {
            m = 1 << 30;
            e -= 1;
        }
        // m is in [2^30, 2^31) here, so the cast is lossless.
        Ok(Dyadic { mult: m as i32, shift: e })
    }

    /// The HAWQ-V3 ratio for an accumulator with scale `s_in · s_w` requantized to `s_out`:
    /// the product is rounded to f32 first (as the reference stores it), then divided in f64.
    pub fn from_scales(s_in: f32, s_w: f32, s_out: f32) -> Result<Dyadic, BadRatio> {
        let prod = s_in * s_w; // f32 × f32, rounded to nearest f32
        Dyadic::from_ratio(prod as f64 / s_out as f64)
    }

    /// The represented value as f64 (exact whenever it is representable; may under/overflow
    /// for shifts far outside the usual range).
    pub fn value(self) -> f64 {
        self.mult as f64 * 2f64.powi(-self.shift)
    }

    /// `round(x · mult / 2^shift)` under `policy`, exact for every `x`, `mult` and `shift`,
    /// saturated to the i64 range (only reachable for `shift ≤ 0`).
    pub fn apply_with(self, x: i64, policy: Rounding) -> i64 {
        let prod = x as i128 * self.mult as i128; // |prod| ≤ 2^63 · 2^31 = 2^94
        let r = if self.shift >= 1 {
            // |prod / 2^96| ≤ 1/4, so every shift ≥ 96 rounds to 0 exactly like 96 does.
            round_shift_i128(prod, self.shift.min(96) as u32, policy)
        } else {
            let left = self.shift.unsigned_abs();
            if prod == 0 {
                0
            } else if left >= 63 || prod.unsigned_abs() >= 1u128 << (63 - left) {
                // |prod · 2^left| ≥ 2^63: outside i64 (or exactly i64::MIN), saturate.
                if prod < 0 { i64::MIN as i128 } else { i64::MAX as i128 }
            } else {
                prod << left
            }
        };
        r.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// `round(x · mult / 2^shift)` with hawq's requantization policy (ties away from zero).
    pub fn apply(self, x: i64) -> i64 {
        self.apply_with(x, Rounding::HalfAwayFromZero)
    }

    /// The full requantization step: [`Dyadic::apply`], then saturation to `fmt`'s range.
    pub fn requantize(self, acc: i64, fmt: ActFormat) -> i64 {
        fmt.saturate(self.apply(acc))
    }
}

/// `x = mant · 2^ex` with `|mant|` in `[0.5, 1)` and the sign of `x`, like C's `frexp`, for
/// every finite nonzero `x` (subnormals included). Zero, ±∞ and NaN come back as `(x, 0)`.
pub fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    if exp_bits == 0 {
        // Subnormal: scale up into the normal range first (2^-1074 · 2^64 is normal).
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let ex = exp_bits - 1022;
    let mant = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (mant, ex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_spec() {
        let d = Dyadic::from_scales(0.0123, 0.0041, 0.0567).unwrap();
        assert_eq!(d, Dyadic { mult: 1955850769, shift: 41 });
    }

    #[test]
    fn frexp_matches_definition() {
        for &x in &[1.0, 0.5, 0.75, 3.0, 1e-300, 1e300, 0.1] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m), "{x}: {m}");
            assert_eq!(m * 2f64.powi(e), x);
        }
        assert_eq!(frexp(5e-324), (0.5, -1073)); // the smallest subnormal, 2^-1074
    }

    #[test]
    fn one_is_identity() {
        for x in [-5i64, -1, 0, 1, 7, i32::MAX as i64, i32::MIN as i64] {
            assert_eq!(Dyadic::ONE.apply(x), x);
        }
        assert_eq!(Dyadic::from_ratio(1.0).unwrap().value(), 1.0);
    }

    #[test]
    fn rounds_ties_away_from_zero() {
        let half = Dyadic::from_ratio(0.5).unwrap();
        assert_eq!(half.apply(3), 2);
        assert_eq!(half.apply(-3), -2);
        assert_eq!(half.apply_with(-3, Rounding::HalfUp), -1);
        assert_eq!(half.apply_with(-3, Rounding::HalfEven), -2);
        assert_eq!(half.apply_with(5, Rounding::HalfEven), 2);
    }

    #[test]
    fn bad_ratios_are_errors() {
        assert!(Dyadic::from_ratio(f64::NAN).is_err());
        assert!(Dyadic::from_ratio(-1.0).is_err());
        assert!(Dyadic::from_ratio(f64::INFINITY).is_err());
    }
}
