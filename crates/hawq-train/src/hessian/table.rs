//! HAWQ-V3's sensitivity table: per weight layer the average Hessian trace `T_i`, the
//! quantization perturbation `Δ_i(b) = ‖Q_b(W_i) − W_i‖²` at 4 and 8 bits (per-channel
//! symmetric quantizer) and so `Ω_i(b) = T_i·Δ_i(b)`, plus MACs, pins and ties, in the table
//! format `hawq allocate --table` reads ([`hawq_alloc::LayerTable`]).

use super::hutchinson::{HutchinsonOptions, hutchinson};
use super::{HessianProgress, LayerTrace, Method, exact_traces, exactness};
use crate::error::{Result, TrainError};
use crate::network::Network;
use crate::scalar::Real;
use hawq_alloc::{Layer, LayerTable};
use hawq_ir::{Graph, Op};
use std::collections::{BTreeMap, HashMap};

/// The bit widths the table offers (HAWQ-V3's 4/8 mix).
pub const TABLE_BITS: [u32; 2] = [4, 8];

/// Settings of [`sensitivity_table`].
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityConfig {
    /// The estimator; `None` picks the exact method where it applies (see
    /// [`super::exactness`]) and Hutchinson elsewhere.
    pub method: Option<Method>,
    /// Samples per forward pass of the exact method.
    pub chunk: usize,
    /// Worker threads (a private rayon pool); 0 runs on the current pool.
    pub threads: usize,
    /// Hutchinson settings (used when the method is Hutchinson).
    pub hutchinson: HutchinsonOptions,
}

impl Default for SensitivityConfig {
    fn default() -> Self {
        SensitivityConfig {
            method: None,
            chunk: 128,
            threads: 0,
            hutchinson: HutchinsonOptions::default(),
        }
    }
}

/// A sensitivity table and how it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct SensitivityTable {
    /// The allocator's table (one row per conv/linear weight, network order).
    pub table: LayerTable,
    /// The traces behind it, same order.
    pub traces: Vec<LayerTrace>,
    /// Notes for the user (e.g. why a method was chosen).
    pub notes: Vec<String>,
}

impl SensitivityTable {
    /// The table as JSON, readable by [`LayerTable::from_json`] and `hawq allocate --table`.
    pub fn to_json(&self) -> Result<String> {
        self.table
            .to_json()
            .map_err(|e| TrainError::Config { what: "sensitivity table", detail: e.to_string() })
    }
}

/// `‖Q_b(W) − W‖²` of a weight tensor whose leading dimension is the output channel.
pub fn perturbation(name: &str, w: &[f32], out_channels: usize, bits: u32) -> Result<f64> {
    let q = hawq_quant::quantize_weights(w, out_channels, bits).map_err(|e| {
        TrainError::Config { what: "weight quantization", detail: format!("'{name}': {e}") }
    })?;
    let per = w.len() / out_channels;
    Ok(w.chunks(per)
        .zip(q.values.chunks(per))
        .zip(&q.scales)
        .flat_map(|((wc, qc), &s)| {
            wc.iter()
                .zip(qc)
                .map(move |(&x, &v)| (f64::from(v) * f64::from(s) - f64::from(x)).powi(2))
        })
        .sum())
}

/// Groups of weight layers that read the same value (e.g. a block's first conv and its
/// projection shortcut), in network order; these must share a bit width.
pub fn shared_input_ties(graph: &Graph) -> Result<Vec<Vec<String>>> {
    let mut by_input: Vec<(String, Vec<String>)> = Vec::new();
    for i in graph.topo_order()? {
        let node = &graph.nodes[i];
        let weight = match &node.op {
            Op::Conv2d(c) => &c.weight,
            Op::Linear(l) => &l.weight,
            _ => continue,
        };
        let Some(input) = node.inputs.first() else { continue };
        match by_input.iter_mut().find(|(v, _)| v == input) {
            Some((_, names)) => names.push(weight.clone()),
            None => by_input.push((input.clone(), vec![weight.clone()])),
        }
    }
    Ok(by_input.into_iter().map(|(_, names)| names).filter(|n| n.len() > 1).collect())
}

/// The full pipeline on a float graph: BN folding ([`hawq_ir::passes::simplify`]), traces in
/// `T` over the `count` samples of `inputs` (`[count, C, H, W]`), perturbations on the folded
/// weights, MACs ([`hawq_ir::counters::count_layers`]), the first and last weight layers
/// pinned to 8 bits, and ties between layers that read the same tensor.
pub fn sensitivity_table<T: Real>(
    graph: &Graph,
    inputs: &[f32],
    count: usize,
    cfg: &SensitivityConfig,
    progress: &mut (dyn FnMut(HessianProgress) + Send),
) -> Result<SensitivityTable> {
    let mut g = graph.clone();
    hawq_ir::passes::simplify(&mut g)?;
    let ex = exactness(&g);
    let mut notes = Vec::new();
    let method = match cfg.method {
        Some(m) => m,
        None if ex.exact => Method::ExactGaussNewton,
        None => {
            notes.push(format!("{}; using Hutchinson", ex.note));
            Method::Hutchinson
        }
    };
    if method == Method::ExactGaussNewton && !ex.exact {
        notes.push(ex.note.clone());
    }
    let net = Network::<T>::from_graph(&g)?;
    let x: Vec<T> = inputs.iter().map(|&v| T::from_f32(v)).collect();
    let run = |progress: &mut (dyn FnMut(HessianProgress) + Send)| match method {
        Method::ExactGaussNewton => exact_traces(&net, &x, count, cfg.chunk, progress),
        Method::Hutchinson => hutchinson(&net, &x, count, &cfg.hutchinson, progress),
    };
    let traces = if cfg.threads == 0 {
        run(progress)?
    } else {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.threads)
            .build()
            .map_err(|e| TrainError::Config { what: "thread pool", detail: e.to_string() })?;
        pool.install(|| run(progress))?
    };
    let macs: HashMap<String, u64> = hawq_ir::counters::count_layers(&g)?
        .into_iter()
        .filter_map(|c| c.weight.map(|w| (w, c.macs)))
        .collect();
    let last = traces.len().saturating_sub(1);
    let mut layers = Vec::with_capacity(traces.len());
    for (i, t) in traces.iter().enumerate() {
        let w = g
            .params
            .get(&t.name)
            .ok_or_else(|| TrainError::UnknownParam { name: t.name.clone() })?;
        let out_channels = w.shape().first().copied().unwrap_or(1);
        let delta = TABLE_BITS
            .iter()
            .map(|&b| Ok((b, perturbation(&t.name, w.data(), out_channels, b)?)))
            .collect::<Result<BTreeMap<u32, f64>>>()?;
        layers.push(Layer {
            name: t.name.clone(),
            params: t.params as u64,
            macs: macs.get(&t.name).copied().unwrap_or(0),
            trace: t.trace,
            delta,
            latency_ms: None,
            pin: (i == 0 || i == last).then_some(8),
            trace_stderr: t.stderr,
            method: Some(t.method.as_str().to_string()),
        });
    }
    let tie = shared_input_ties(&g)?;
    Ok(SensitivityTable { table: LayerTable { layers, tie }, traces, notes })
}
