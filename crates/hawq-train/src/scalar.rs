//! The float types the engine runs in: `f32` for training, `f64` for gradient checks and the
//! Hessian oracle. Matrix products go through `faer`'s safe API over the `gemm` crate.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// How a matrix operand of [`Real::gemm`] is stored (both row-major).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The operand is stored as given (`rows × cols`, row-major).
    Plain,
    /// The operand is stored transposed (`cols × rows`, row-major) and used transposed.
    Transposed,
}

/// A real float type the engine computes in.
pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + Debug
    + PartialOrd
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
{
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Converts from `f64` (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` (exact).
    fn to_f64(self) -> f64;
    /// Converts from `f32` (exact).
    fn from_f32(v: f32) -> Self;
    /// Converts to `f32` (rounding for `f64`).
    fn to_f32(self) -> f32;
    /// Square root.
    fn sqrt(self) -> Self;
    /// `e^self`.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// The larger of two values (the other one if either is NaN).
    fn max_of(self, other: Self) -> Self;
    /// The smaller of two values (the other one if either is NaN).
    fn min_of(self, other: Self) -> Self;

    /// `dst (m × n) = [dst +] op(lhs) (m × k) · op(rhs) (k × n)`, all row-major; `accumulate`
    /// adds to `dst` instead of overwriting it. Single-threaded: the engine parallelises over
    /// batch items itself so results do not depend on GEMM-internal splitting.
    #[allow(clippy::too_many_arguments)] // the operands of a GEMM
    fn gemm(
        dst: &mut [Self],
        lhs: &[Self],
        lhs_layout: Layout,
        rhs: &[Self],
        rhs_layout: Layout,
        m: usize,
        n: usize,
        k: usize,
        accumulate: bool,
    );
}

macro_rules! impl_real {
    ($t:ty) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f32(v: f32) -> Self {
                v as $t
            }
            fn to_f32(self) -> f32 {
                self as f32
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn max_of(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            fn min_of(self, other: Self) -> Self {
                <$t>::min(self, other)
            }
            fn gemm(
                dst: &mut [Self],
                lhs: &[Self],
                lhs_layout: Layout,
                rhs: &[Self],
                rhs_layout: Layout,
                m: usize,
                n: usize,
                k: usize,
                accumulate: bool,
            ) {
                if m == 0 || n == 0 {
                    return;
                }
                let a = match lhs_layout {
                    Layout::Plain => MatRef::from_row_major_slice(&lhs[..m * k], m, k),
                    Layout::Transposed => {
                        MatRef::from_row_major_slice(&lhs[..m * k], k, m).transpose()
                    }
                };
                let b = match rhs_layout {
                    Layout::Plain => MatRef::from_row_major_slice(&rhs[..k * n], k, n),
                    Layout::Transposed => {
                        MatRef::from_row_major_slice(&rhs[..k * n], n, k).transpose()
                    }
                };
                let c = MatMut::from_row_major_slice_mut(&mut dst[..m * n], m, n);
                let beta = if accumulate { Accum::Add } else { Accum::Replace };
                matmul(c, beta, a, b, 1.0 as $t, Par::Seq);
            }
        }
    };
}

impl_real!(f32);
impl_real!(f64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_naive_in_every_layout() {
        let (m, n, k) = (3, 4, 5);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let at: Vec<f64> = (0..m * k).map(|i| a[(i % m) * k + i / m]).collect();
        let bt: Vec<f64> = (0..k * n).map(|i| b[(i % k) * n + i / k]).collect();
        let mut want = vec![1.0; m * n];
        for i in 0..m {
            for j in 0..n {
                want[i * n + j] += (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f64>();
            }
        }
        for (lhs, ll) in [(&a, Layout::Plain), (&at, Layout::Transposed)] {
            for (rhs, rl) in [(&b, Layout::Plain), (&bt, Layout::Transposed)] {
                let mut got = vec![1.0; m * n];
                f64::gemm(&mut got, lhs, ll, rhs, rl, m, n, k, true);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() < 1e-12, "{ll:?} {rl:?}: {g} vs {w}");
                }
            }
        }
    }
}
