//! Per-op kernels: forward, backward (vector–Jacobian product) and the pieces the JVP reuses.
//!
//! Work is split over batch items into `rayon::current_num_threads()` contiguous chunks;
//! per-chunk partial weight gradients are summed in chunk order, so results depend on the
//! thread count but not on scheduling.

pub(crate) mod bn;
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod linear;
pub(crate) mod pool;

use crate::scalar::Real;

/// Batch items per parallel chunk: the batch split evenly over the current rayon pool.
pub(crate) fn items_per_chunk(batch: usize) -> usize {
    batch.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// `acc += part`, element by element.
pub(crate) fn add_into<T: Real>(acc: &mut [T], part: &[T]) {
    for (a, &p) in acc.iter_mut().zip(part) {
        *a += p;
    }
}

/// Squared Euclidean norm, accumulated in f64.
pub(crate) fn sq_norm<T: Real>(v: &[T]) -> f64 {
    v.iter().map(|x| x.to_f64() * x.to_f64()).sum()
}

/// Splits an optional mutable buffer into `n` chunks of `len` (the last may be shorter), or
/// `n` `None`s, so it can ride along in a parallel zip.
pub(crate) fn optional_chunks<T>(
    buf: Option<&mut [T]>,
    len: usize,
    n: usize,
) -> Vec<Option<&mut [T]>> {
    match buf {
        Some(b) => b.chunks_mut(len).map(Some).collect(),
        None => (0..n).map(|_| None).collect(),
    }
}

/// Weight and bias gradient of one chunk of batch items, with optional per-item squared norms.
pub(crate) struct ChunkGrad<T> {
    pub weight: Vec<T>,
    pub bias: Vec<T>,
    pub weight_norms: Vec<f64>,
    pub bias_norms: Vec<f64>,
}

/// Parameter gradients of a layer over the whole batch.
pub(crate) struct LayerGrad<T> {
    pub weight: Vec<T>,
    pub bias: Vec<T>,
    /// Per batch item `‖∂/∂W‖²` (empty unless asked for).
    pub weight_norms: Vec<f64>,
    /// Per batch item `‖∂/∂b‖²` (empty unless asked for).
    pub bias_norms: Vec<f64>,
}

impl<T: Real> LayerGrad<T> {
    /// Sums chunk partials in chunk order.
    pub fn reduce(parts: Vec<ChunkGrad<T>>, weight_len: usize, bias_len: usize) -> Self {
        let mut out = LayerGrad {
            weight: vec![T::ZERO; weight_len],
            bias: vec![T::ZERO; bias_len],
            weight_norms: Vec::new(),
            bias_norms: Vec::new(),
        };
        for p in parts {
            add_into(&mut out.weight, &p.weight);
            add_into(&mut out.bias, &p.bias);
            out.weight_norms.extend(p.weight_norms);
            out.bias_norms.extend(p.bias_norms);
        }
        out
    }
}
