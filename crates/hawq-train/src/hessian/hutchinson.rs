//! Hutchinson's trace estimator per layer with Rademacher probes, and the exact Hessian
//! block–vector product `H_ii v = J_iᵀ H_ℓ J_i v`.

use super::logit::{EvalChunk, chunk_ranges, eval_chunk, hessian_times, quad_form};
use super::{HessianProgress, LayerTrace, Method, check_chunk, check_samples, weight_layers};
use crate::backward::BackwardOptions;
use crate::error::{Result, TrainError};
use crate::jvp::Tangent;
use crate::network::Network;
use crate::scalar::Real;
use rand_chacha::rand_core::Rng;

/// How a probe is laid over the layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Probe {
    /// One probe per layer: `v_iᵀ H_ii v_i` from a JVP along layer `i` alone. No cross-layer
    /// noise; costs one JVP from each layer to the output per probe.
    #[default]
    PerLayer,
    /// PyHessian's split: one `v` over all weights, `v_i · (G v)_i` per layer from one JVP
    /// along every layer and one backward pass. Cheaper per probe, but each layer's estimate
    /// carries the noise of the cross terms `v_iᵀ G_ij v_j` (mean zero).
    AllLayers,
}

/// Settings of [`hutchinson`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HutchinsonOptions {
    /// Probe layout.
    pub probe: Probe,
    /// Stop once every layer's running mean changed by less than this relative amount:
    /// `|mean_k − mean_{k−1}| / (|mean_{k−1}| + 1e-6) < tol` (PyHessian's rule, per layer).
    pub tol: f64,
    /// Most probes per layer.
    pub max_probes: usize,
    /// Fewest probes per layer before the tolerance may stop the run (at least 2).
    pub min_probes: usize,
    /// Seed of the probe vectors.
    pub seed: u64,
    /// Samples per forward pass.
    pub chunk: usize,
}

impl Default for HutchinsonOptions {
    /// PyHessian's defaults: `tol = 1e-3`, at most 100 probes; batches of 128.
    fn default() -> Self {
        HutchinsonOptions {
            probe: Probe::PerLayer,
            tol: 1e-3,
            max_probes: 100,
            min_probes: 2,
            seed: 0,
            chunk: 128,
        }
    }
}

/// Running mean and variance (Welford), in f64.
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    k: usize,
    mean: f64,
    m2: f64,
}

impl Running {
    /// Adds a sample; returns the relative change of the mean (infinite on the first).
    fn push(&mut self, x: f64) -> f64 {
        let prev = self.mean;
        self.k += 1;
        let d = x - self.mean;
        self.mean += d / self.k as f64;
        self.m2 += d * (x - self.mean);
        if self.k == 1 { f64::INFINITY } else { (self.mean - prev).abs() / (prev.abs() + 1e-6) }
    }

    /// Standard error of the mean, from two samples on.
    fn stderr(&self) -> Option<f64> {
        (self.k >= 2).then(|| (self.m2 / (self.k - 1) as f64 / self.k as f64).sqrt())
    }
}

/// A Rademacher vector (±1, probability 1/2 each) from the stream (seed, probe, layer): one
/// random bit per entry, drawn serially, so it does not depend on threading.
fn rademacher<T: Real>(seed: u64, probe: usize, layer: usize, len: usize) -> Vec<T> {
    let stream = ((probe as u64) << 20) | layer as u64;
    let mut rng = hawq_data::seeded_rng(seed, stream);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let bits = rng.next_u64();
        let take = (len - out.len()).min(64);
        out.extend((0..take).map(|b| if (bits >> b) & 1 == 1 { T::ONE } else { -T::ONE }));
    }
    out
}

/// `vᵀ H_ii v` summed (not averaged) over the chunk's items, for layer `name`.
fn chunk_quad<T: Real>(net: &Network<T>, ev: &EvalChunk<T>, name: &str, v: &[T]) -> Result<f64> {
    let classes = net.plan().output_len();
    let u = net.jvp_param(&ev.tape, name, v)?;
    Ok(ev.probs.chunks(classes).zip(u.chunks(classes)).map(|(p, uu)| quad_form(p, uu)).sum())
}

/// Per layer, `Σ_n v_iᵀ J_{n,i}ᵀ H_ℓ,n J_{n,i} v_i` over all chunks.
fn per_layer_quads<T: Real>(
    net: &Network<T>,
    chunks: &[EvalChunk<T>],
    layers: &[(usize, String, usize)],
    vs: &[Vec<T>],
) -> Result<Vec<f64>> {
    layers
        .iter()
        .zip(vs)
        .map(|((_, name, _), v)| {
            chunks.iter().map(|ev| chunk_quad(net, ev, name, v)).sum::<Result<f64>>()
        })
        .collect()
}

/// Per layer, `v_i · (Σ_n J_{n,i}ᵀ H_ℓ,n J_n v)` over all chunks, `v` spanning every layer.
fn all_layer_quads<T: Real>(
    net: &Network<T>,
    chunks: &[EvalChunk<T>],
    layers: &[(usize, String, usize)],
    vs: &[Vec<T>],
) -> Result<Vec<f64>> {
    let classes = net.plan().output_len();
    let tangent = Tangent {
        input: None,
        params: layers.iter().zip(vs).map(|((idx, _, _), v)| (*idx, v.as_slice())).collect(),
    };
    let mut out = vec![0.0; layers.len()];
    for ev in chunks {
        let u = net.jvp(&ev.tape, &tangent)?;
        let w = hessian_times(&ev.probs, classes, &u, 1.0);
        let g = net.backward(&ev.tape, &w, BackwardOptions::default())?;
        for (o, ((idx, _, _), v)) in out.iter_mut().zip(layers.iter().zip(vs)) {
            *o += g.params[*idx].iter().zip(v).map(|(a, b)| a.to_f64() * b.to_f64()).sum::<f64>();
        }
    }
    Ok(out)
}

/// Hutchinson estimates of `Tr(H_ii)` for every conv and linear weight of `net` over the
/// `count` samples in `inputs`, probes laid out as [`HutchinsonOptions::probe`] says. Keeps every chunk's
/// eval-mode tape for the whole run (memory: all activations of `count` samples).
///
/// Each layer's estimate is the mean of its probes' `vᵀ H_ii v`, with the standard error of
/// that mean; `progress` is called after every probe (over all layers).
pub fn hutchinson<T: Real>(
    net: &Network<T>,
    inputs: &[T],
    count: usize,
    opts: &HutchinsonOptions,
    progress: &mut (dyn FnMut(HessianProgress) + Send),
) -> Result<Vec<LayerTrace>> {
    check_samples(net, inputs, count)?;
    check_chunk(opts.chunk)?;
    if opts.max_probes == 0 || opts.tol.is_nan() || opts.tol < 0.0 {
        return Err(TrainError::Config {
            what: "Hutchinson options",
            detail: format!(
                "max_probes {} must be ≥ 1 and tol {} must be ≥ 0",
                opts.max_probes, opts.tol
            ),
        });
    }
    let chunks = chunk_ranges(count, opts.chunk)
        .into_iter()
        .map(|r| eval_chunk(net, inputs, r))
        .collect::<Result<Vec<_>>>()?;
    let layers = weight_layers(net);
    let mut stats = vec![Running::default(); layers.len()];
    let n = count as f64;
    for probe in 0..opts.max_probes {
        let vs: Vec<Vec<T>> = layers
            .iter()
            .enumerate()
            .map(|(li, (_, _, len))| rademacher::<T>(opts.seed, probe, li, *len))
            .collect();
        let quads = match opts.probe {
            Probe::PerLayer => per_layer_quads(net, &chunks, &layers, &vs)?,
            Probe::AllLayers => all_layer_quads(net, &chunks, &layers, &vs)?,
        };
        let mut worst = 0.0f64;
        for (st, q) in stats.iter_mut().zip(quads) {
            worst = worst.max(st.push(q / n));
        }
        progress(HessianProgress { done: probe + 1, total: opts.max_probes });
        if probe + 1 >= opts.min_probes.max(2) && worst < opts.tol {
            break;
        }
    }
    Ok(layers
        .into_iter()
        .zip(stats)
        .map(|((_, name, params), st)| {
            let per = params as f64;
            LayerTrace {
                name,
                params,
                trace_sum: st.mean,
                trace: st.mean / per,
                stderr: st.stderr().map(|s| s / per),
                probes: st.k,
                method: Method::Hutchinson,
            }
        })
        .collect())
}

/// The Hessian block–vector product `H_ii v = (1/N) Σ_n J_{n,i}ᵀ H_ℓ,n J_{n,i} v` for the
/// weight (or any trainable tensor) `name`, over the `count` samples in `inputs`: one JVP and
/// one backward pass per chunk of `chunk` samples.
pub fn block_hvp<T: Real>(
    net: &Network<T>,
    inputs: &[T],
    count: usize,
    chunk: usize,
    name: &str,
    v: &[T],
) -> Result<Vec<f64>> {
    check_samples(net, inputs, count)?;
    check_chunk(chunk)?;
    let idx = net.plan().param_index(name)?;
    let classes = net.plan().output_len();
    let mut out = vec![0.0f64; net.params()[idx].len()];
    let opts = BackwardOptions::default();
    for range in chunk_ranges(count, chunk) {
        let ev = eval_chunk(net, inputs, range)?;
        let u = net.jvp_param(&ev.tape, name, v)?;
        let w = hessian_times(&ev.probs, classes, &u, 1.0 / count as f64);
        let g = net.backward(&ev.tape, &w, opts)?;
        out.iter_mut().zip(&g.params[idx]).for_each(|(o, x)| *o += x.to_f64());
    }
    Ok(out)
}
