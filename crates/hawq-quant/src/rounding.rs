//! Named rounding policies for right shifts and float-to-integer rounding.

use serde::{Deserialize, Serialize};

/// How a value exactly halfway between two integers is rounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Rounding {
    /// Ties away from zero (TVM `TONEAREST`): hawq's requantization policy.
    #[default]
    HalfAwayFromZero,
    /// Ties toward +∞ (TVM `UPWARD`).
    HalfUp,
    /// Ties to even (PyTorch `torch.round`): used for float → integer quantization.
    HalfEven,
}

/// `round(x / 2^shift)` under `policy`, exact for every `i128` and every `shift`
/// (`shift = 0` returns `x`).
pub fn round_shift_i128(x: i128, shift: u32, policy: Rounding) -> i128 {
    match shift {
        0 => x,
        1..=127 => {
            let floor = x >> shift; // arithmetic shift = floor division
            let rem = x - (floor << shift); // in [0, 2^shift), which fits because shift ≤ 127
            let half = 1i128 << (shift - 1);
            let up = match rem.cmp(&half) {
                std::cmp::Ordering::Less => false,
                std::cmp::Ordering::Greater => true,
                std::cmp::Ordering::Equal => match policy {
                    Rounding::HalfUp => true,
                    Rounding::HalfAwayFromZero => x > 0,
                    Rounding::HalfEven => floor & 1 == 1,
                },
            };
            floor + up as i128
        }
        // |x| ≤ 2^127, so |x / 2^128| ≤ 1/2 with equality only at i128::MIN (a tie at −1/2).
        128 if x == i128::MIN && policy == Rounding::HalfAwayFromZero => -1,
        // Otherwise |x / 2^shift| < 1/2 and everything rounds to 0.
        _ => 0,
    }
}

/// Round-half-to-even of an f32 (what `torch.round` does), as f32.
pub fn round_half_even_f32(x: f32) -> f32 {
    x.round_ties_even()
}

/// Round-half-to-even of an f64.
pub fn round_half_even_f64(x: f64) -> f64 {
    x.round_ties_even()
}
