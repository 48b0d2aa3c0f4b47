//! The Hessian of softmax cross-entropy with respect to one item's logits,
//! `H_ℓ = diag(p) − p pᵀ` (independent of the label), in the three forms the estimators need:
//! its factor columns, its quadratic form and its product with a vector. All in f64.

use crate::error::Result;
use crate::network::{Network, Tape};
use crate::scalar::Real;

/// Softmax of every `classes`-long row of `logits` (max-shifted), in f64.
pub(crate) fn softmax_rows<T: Real>(logits: &[T], classes: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(classes) {
        let m = row.iter().fold(f64::NEG_INFINITY, |a, v| a.max(v.to_f64()));
        let start = out.len();
        out.extend(row.iter().map(|v| (v.to_f64() - m).exp()));
        let s: f64 = out[start..].iter().sum();
        out[start..].iter_mut().for_each(|e| *e /= s);
    }
    out
}

/// Column `c` of the factor `L = diag(√p) − p √pᵀ` of `H_ℓ = L Lᵀ`, i.e. `√p_c (e_c − p)`,
/// written for every item of a batch (`probs` and `out` are `[batch, classes]`).
pub(crate) fn factor_column<T: Real>(probs: &[f64], classes: usize, c: usize, out: &mut [T]) {
    for (p, o) in probs.chunks(classes).zip(out.chunks_mut(classes)) {
        let s = p[c].sqrt();
        for (k, (ok, pk)) in o.iter_mut().zip(p).enumerate() {
            let e = if k == c { 1.0 } else { 0.0 };
            *ok = T::from_f64(s * (e - pk));
        }
    }
}

/// `uᵀ H_ℓ u = Σ_c p_c (u_c − p·u)²` for one item: the variance form is a sum of
/// non-negative terms, so rounding can never make it negative (the expanded
/// `Σ p u² − (p·u)²` can, when `u` is nearly constant across classes).
pub(crate) fn quad_form<T: Real>(p: &[f64], u: &[T]) -> f64 {
    let mean: f64 = p.iter().zip(u).map(|(a, b)| a * b.to_f64()).sum();
    p.iter().zip(u).map(|(a, b)| a * (b.to_f64() - mean).powi(2)).sum()
}

/// `H_ℓ u = p ⊙ u − p (p·u)` for every item, scaled by `scale`.
pub(crate) fn hessian_times<T: Real>(probs: &[f64], classes: usize, u: &[T], scale: f64) -> Vec<T> {
    let mut out = Vec::with_capacity(u.len());
    for (p, uu) in probs.chunks(classes).zip(u.chunks(classes)) {
        let mean: f64 = p.iter().zip(uu).map(|(a, b)| a * b.to_f64()).sum();
        out.extend(p.iter().zip(uu).map(|(a, b)| T::from_f64(scale * a * (b.to_f64() - mean))));
    }
    out
}

/// One eval-mode pass over a slice of the samples, with its softmax probabilities.
pub(crate) struct EvalChunk<T> {
    pub tape: Tape<T>,
    pub probs: Vec<f64>,
}

/// Splits `count` samples (`inputs` = `[count, item]`) into passes of at most `chunk` items.
pub(crate) fn chunk_ranges(count: usize, chunk: usize) -> Vec<std::ops::Range<usize>> {
    let c = chunk.max(1);
    (0..count.div_ceil(c)).map(|i| i * c..((i + 1) * c).min(count)).collect()
}

/// Runs the eval-mode forward pass on the samples `range`.
pub(crate) fn eval_chunk<T: Real>(
    net: &Network<T>,
    inputs: &[T],
    range: std::ops::Range<usize>,
) -> Result<EvalChunk<T>> {
    let item = net.plan().input_len();
    let tape = net.forward_eval(&inputs[range.start * item..range.end * item], range.len())?;
    let probs = softmax_rows(tape.logits(), net.plan().output_len());
    Ok(EvalChunk { tape, probs })
}
