//! Per-layer Hessian traces of the softmax cross-entropy loss, and HAWQ-V3's sensitivity table.
//!
//! # What is computed
//!
//! For every conv and linear weight tensor `W_i` (`n_i` values) the trace of the diagonal
//! block of the loss Hessian, `Tr(H_ii)`, and the average trace `T_i = Tr(H_ii) / n_i`, for the
//! loss `L = (1/N) Σ_n CE(z_n, y_n)` over `N` samples in eval mode.
//!
//! # Why the Gauss–Newton form is exact here
//!
//! In eval mode every op of the IR (conv, linear, eval-mode BN, ReLU, clip, max/avg pooling,
//! residual add, concat, reshapes, dropout) is piecewise linear in its input, and a layer's
//! output is linear in its own weight. The logits are therefore piecewise linear in any
//! *single* layer's weights, so `∂²z/∂W_i²` vanishes (almost everywhere: off the ReLU/clip
//! kinks and max-pool ties) and the diagonal block is exactly
//! `H_ii = (1/N) Σ_n J_{n,i}ᵀ H_ℓ,n J_{n,i}` with `H_ℓ,n = diag(p_n) − p_n p_nᵀ`. The logit
//! Hessian of softmax cross-entropy does not depend on the label, so neither do the traces.
//! (Off-diagonal blocks do get second-order terms; they are never needed.) [`exactness`]
//! checks the graph's ops with an exhaustive match, so a future smooth op must be classified.
//!
//! - [`exact_traces`]: with `H_ℓ,n = L_n L_nᵀ`, `L_n[:,c] = √p_c (e_c − p_n)`,
//!   `Tr(H_ii) = (1/N) Σ_n Σ_c ‖J_{n,i}ᵀ L_n[:,c]‖²`: `C` backward passes per batch with
//!   per-item squared gradient norms give every layer's exact trace at once.
//! - [`hutchinson`]: Rademacher probes `v` on each layer, `vᵀ H_ii v = (1/N) Σ_n uᵀ H_ℓ,n u`
//!   with `u = J_{n,i} v` from one forward-mode pass ([`crate::Network::jvp_param`]); the
//!   per-layer quadratic form has no cross-layer noise (PyHessian's all-layer probe does).
//! - [`block_hvp`]: `H_ii v = J_iᵀ H_ℓ J_i v` (one JVP and one backward pass).
//!
//! # Which weights
//!
//! The traces refer to the weights of the graph they are given. [`sensitivity_table`] runs
//! them on the BN-folded graph ([`hawq_ir::passes::simplify`]): those are the weights that get
//! quantized and that the perturbation `‖Q_b(W) − W‖²` is measured on, so trace and
//! perturbation refer to the same tensor. (Folding scales each output channel by
//! `γ/σ`, which scales that channel's Hessian block by `(σ/γ)²`: the folded and unfolded
//! traces differ, and only the folded pair `(T_i, Δ_i)` gives a consistent `Ω_i`.)
//!
//! # Threads and determinism
//!
//! The engine splits every pass over batch items on the current rayon pool. Both estimators
//! only use per-item results (per-item norms, per-item tangents) and add them up serially in
//! item order, and Hutchinson probes come from a ChaCha stream keyed by (seed, probe, layer),
//! so a run is bit-identical for a given thread count. Across thread counts the GEMM blocking
//! of each chunk of items changes, so results agree to rounding (~1e-15 relative) only.

mod exact;
mod hutchinson;
mod logit;
mod table;

pub use exact::exact_traces;
pub use hutchinson::{HutchinsonOptions, Probe, block_hvp, hutchinson};
pub use table::{
    SensitivityConfig, SensitivityTable, TABLE_BITS, perturbation, sensitivity_table,
    shared_input_ties,
};

use crate::error::{Result, TrainError};
use crate::network::Network;
use crate::plan::ParamKind;
use crate::scalar::Real;
use hawq_ir::{Graph, Op};

/// How a layer's trace was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Exact, through the Gauss–Newton identity ([`exact_traces`]).
    ExactGaussNewton,
    /// Hutchinson's estimator with Rademacher probes ([`hutchinson`]).
    Hutchinson,
}

impl Method {
    /// The name written into tables: `exact-gauss-newton` or `hutchinson`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::ExactGaussNewton => "exact-gauss-newton",
            Method::Hutchinson => "hutchinson",
        }
    }
}

/// The Hessian trace of one weight layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTrace {
    /// Weight parameter name (`layer1.0.conv1.weight`).
    pub name: String,
    /// Number of weights `n_i`.
    pub params: usize,
    /// `Tr(H_ii)`.
    pub trace_sum: f64,
    /// `T_i = Tr(H_ii) / n_i`.
    pub trace: f64,
    /// Standard error of `trace` (Hutchinson with at least two probes; `None` when exact).
    pub stderr: Option<f64>,
    /// Probes used (0 for the exact method).
    pub probes: usize,
    /// How it was computed.
    pub method: Method,
}

/// Where an estimator is in its work, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HessianProgress {
    /// Units done (backward passes for the exact method, probes for Hutchinson).
    pub done: usize,
    /// Units planned (Hutchinson may stop earlier).
    pub total: usize,
}

/// Whether the Gauss–Newton identity gives the exact Hessian diagonal blocks of a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exactness {
    /// True when every op is piecewise linear in eval mode.
    pub exact: bool,
    /// Why not (the first offending node), empty when exact.
    pub note: String,
}

/// The reason an op breaks piecewise linearity in eval mode, `None` when it does not. The
/// match is exhaustive on purpose: a new op must be classified here.
fn nonlinearity(op: &Op) -> Option<&'static str> {
    match op {
        Op::Conv2d(_)
        | Op::Linear(_)
        | Op::BatchNorm(_)
        | Op::Relu
        | Op::Clip { .. }
        | Op::Add
        | Op::Concat { .. }
        | Op::MaxPool(_)
        | Op::AvgPool(_)
        | Op::GlobalAvgPool
        | Op::Flatten { .. }
        | Op::Reshape(_)
        | Op::Dropout
        | Op::Identity => None,
    }
}

/// Checks that every op of `graph` is piecewise linear in eval mode, so that [`exact_traces`]
/// gives the true Hessian traces rather than Gauss–Newton ones.
pub fn exactness(graph: &Graph) -> Exactness {
    for node in &graph.nodes {
        if let Some(why) = nonlinearity(&node.op) {
            return Exactness {
                exact: false,
                note: format!(
                    "node '{}' ({}) {why}: the Gauss–Newton trace is not the Hessian trace",
                    node.name,
                    node.op.name()
                ),
            };
        }
    }
    Exactness { exact: true, note: String::new() }
}

/// The conv and linear weight tensors of `net`: (parameter index, name, element count).
pub(crate) fn weight_layers<T: Real>(net: &Network<T>) -> Vec<(usize, String, usize)> {
    net.plan()
        .params()
        .iter()
        .enumerate()
        .filter(|(_, p)| matches!(p.kind, ParamKind::ConvWeight | ParamKind::LinearWeight))
        .map(|(i, p)| (i, p.name.clone(), p.numel()))
        .collect()
}

/// Checks `inputs` against `count` samples of the network's input size.
pub(crate) fn check_samples<T: Real>(net: &Network<T>, inputs: &[T], count: usize) -> Result<()> {
    Network::<T>::check_len("Hessian samples", inputs.len(), count, net.plan().input_len())
}

/// Rejects a zero batch size.
pub(crate) fn check_chunk(chunk: usize) -> Result<()> {
    if chunk == 0 {
        return Err(TrainError::Config { what: "Hessian batch", detail: "must be ≥ 1".into() });
    }
    Ok(())
}
