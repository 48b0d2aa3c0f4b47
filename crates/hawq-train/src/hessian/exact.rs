//! Exact per-layer traces through the Gauss–Newton identity:
//! `Tr(H_ii) = (1/N) Σ_n Σ_c ‖J_{n,i}ᵀ L_n[:,c]‖²`, one backward pass per class and batch.

use super::logit::{chunk_ranges, eval_chunk, factor_column};
use super::{HessianProgress, LayerTrace, Method, check_chunk, check_samples, weight_layers};
use crate::backward::BackwardOptions;
use crate::error::Result;
use crate::network::Network;
use crate::scalar::Real;

/// Exact `Tr(H_ii)` and `T_i` of every conv and linear weight of `net`, over the `count`
/// samples in `inputs` (`[count, C, H, W]` row-major), processed `chunk` samples per pass.
///
/// Cost: one forward pass and `classes` backward passes (with per-item norms) per chunk.
/// Exact Hessian traces when [`super::exactness`] holds for the graph (it does for every op
/// of the IR); `progress` is called after every backward pass.
pub fn exact_traces<T: Real>(
    net: &Network<T>,
    inputs: &[T],
    count: usize,
    chunk: usize,
    progress: &mut (dyn FnMut(HessianProgress) + Send),
) -> Result<Vec<LayerTrace>> {
    check_samples(net, inputs, count)?;
    check_chunk(chunk)?;
    let layers = weight_layers(net);
    let classes = net.plan().output_len();
    let ranges = chunk_ranges(count, chunk);
    let total = ranges.len() * classes;
    let mut sums = vec![0.0f64; layers.len()];
    let opts = BackwardOptions { input_grad: false, per_item_norms: true };
    let mut done = 0;
    for range in ranges {
        let ev = eval_chunk(net, inputs, range)?;
        let mut dlogits = vec![T::ZERO; ev.probs.len()];
        for c in 0..classes {
            factor_column(&ev.probs, classes, c, &mut dlogits);
            let g = net.backward(&ev.tape, &dlogits, opts)?;
            for (sum, (idx, _, _)) in sums.iter_mut().zip(&layers) {
                *sum += g.per_item_sq_norms[*idx].iter().sum::<f64>();
            }
            done += 1;
            progress(HessianProgress { done, total });
        }
    }
    let n = count as f64;
    Ok(layers
        .into_iter()
        .zip(sums)
        .map(|((_, name, params), s)| LayerTrace {
            name,
            params,
            trace_sum: s / n,
            trace: s / n / params as f64,
            stderr: None,
            probes: 0,
            method: Method::ExactGaussNewton,
        })
        .collect())
}
