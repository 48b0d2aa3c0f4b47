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

/// `round(x / 2^shift)` for `shift ≥ 1` under `policy`, exact for every `i128`.
pub fn round_shift_i128(x: i128, shift: u32, policy: Rounding) -> i128 {
    debug_assert!((1..127).contains(&shift));
    let floor = x >> shift; // arithmetic shift = floor division
    let rem = x - (floor << shift); // in [0, 2^shift)
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

/// Round-half-to-even of an f32 (what `torch.round` does), as f32.
pub fn round_half_even_f32(x: f32) -> f32 {
    x.round_ties_even()
}

/// Round-half-to-even of an f64.
pub fn round_half_even_f64(x: f64) -> f64 {
    x.round_ties_even()
}
