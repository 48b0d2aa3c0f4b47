//! Dyadic numbers `m / 2^e`: how hawq multiplies an integer by a real scale ratio using only an
//! integer multiply and a rounding shift (HAWQ-V3 §2.1; see docs/NUMERICS.md).

use crate::rounding::{Rounding, round_shift_i128};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A ratio that cannot be represented.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("scale ratio {ratio} is not a finite positive number")]
pub struct BadRatio {
    /// The offending ratio.
    pub ratio: f64,
}

/// `mult / 2^shift` with `mult` in `[2^30, 2^31)` (or 0 for a zero ratio).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dyadic {
    /// 31-bit mantissa.
    pub mult: i32,
    /// Right shift; may be ≤ 0 for ratios ≥ 2^30 (applied as a left shift).
    pub shift: i32,
}

impl Dyadic {
    /// The identity ratio 1 = 2^30 / 2^30.
    pub const ONE: Dyadic = Dyadic { mult: 1 << 30, shift: 30 };

    /// The dyadic nearest to `ratio` with a 31-bit mantissa: `frexp(ratio) = mant·2^ex`,
    /// `m = round_half_up(mant·2^31)`, `e = 31 − ex`, renormalising `m = 2^31` to `(2^30, e − 1)`.
    pub fn from_ratio(ratio: f64) -> Result<Dyadic, BadRatio> {
        if !ratio.is_finite() || ratio < 0.0 {
            return Err(BadRatio { ratio });
        }
        if ratio == 0.0 {
            return Ok(Dyadic { mult: 0, shift: 0 });
        }
        let (mant, ex) = frexp(ratio);
        // mant·2^31 is exact in f64 (scaling by a power of two); round half up.
        let scaled = mant * 2f64.powi(31);
        let mut m = (scaled + 0.5).floor() as i64;
        let mut e = 31 - ex as i64;
        if m == 1i64 << 31 {
            m = 1 << 30;
            e -= 1;
        }
        if !(-32..=200).contains(&e) {
            return Err(BadRatio { ratio });
        }
        Ok(Dyadic { mult: m as i32, shift: e as i32 })
    }

    /// The HAWQ-V3 ratio for an accumulator with scale `s_in · s_w` requantized to `s_out`:
    /// the product is rounded to f32 first (as the reference stores it), then divided in f64.
    pub fn from_scales(s_in: f32, s_w: f32, s_out: f32) -> Result<Dyadic, BadRatio> {
        let prod = s_in * s_w; // f32 × f32, rounded to nearest f32
        Dyadic::from_ratio(prod as f64 / s_out as f64)
    }

    /// The represented value as f64 (exact for every representable dyadic).
    pub fn value(self) -> f64 {
        self.mult as f64 * 2f64.powi(-self.shift)
    }

    /// `round(x · mult / 2^shift)` under `policy`, exact (i128 arithmetic).
    pub fn apply_with(self, x: i64, policy: Rounding) -> i64 {
        let prod = x as i128 * self.mult as i128;
        let r = if self.shift >= 1 {
            if self.shift >= 126 {
                round_shift_i128(prod, 126, policy)
            } else {
                round_shift_i128(prod, self.shift as u32, policy)
            }
        } else {
            prod << (-self.shift) as u32
        };
        r.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// `round(x · mult / 2^shift)` with hawq's requantization policy (ties away from zero).
    pub fn apply(self, x: i64) -> i64 {
        self.apply_with(x, Rounding::HalfAwayFromZero)
    }
}

/// `x = mant · 2^ex` with `mant` in `[0.5, 1)` for finite positive normal or subnormal `x`.
pub fn frexp(x: f64) -> (f64, i32) {
    debug_assert!(x.is_finite() && x > 0.0);
    let bits = x.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i32;
    if exp_bits == 0 {
        // Subnormal: scale up into the normal range first.
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
