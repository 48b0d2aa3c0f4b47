//! Per-layer latency on the fast engine: every node of a full [`Plan::run_timed`] run is timed,
//! each non-layer node is charged to a conv/linear layer ([`charge_nodes`]), and what no node
//! covers (input quantization, output dequantization, dispatch) is a fixed overhead.
//!
//! Averaging: the runs whose whole-model time lies in the interquartile range are kept and
//! every figure is the mean over those runs. Means add up, so `Σ layers + overhead` equals the
//! kept runs' mean total (close to the median run): on a loaded machine a long run is often
//! preempted somewhere, and a sum of per-layer medians would miss that cost, which a
//! whole-model benchmark median includes.

use super::Plan;
use crate::error::Result;
use crate::qmodel::{QModel, QOp};
use hawq_ir::Tensor;
use hawq_kernels::Isa;
use std::time::Duration;

/// Latencies of one model, in milliseconds (interquartile means, see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct LayerTimes {
    /// `(layer name, ms)` for every conv/linear layer in execution order; each includes the
    /// non-layer nodes charged to it.
    pub layers: Vec<(String, f64)>,
    /// Time of a run outside every node: input quantization, dequantization, dispatch.
    pub overhead_ms: f64,
    /// Wall time of a whole run (`Σ layers + overhead`).
    pub total_ms: f64,
    /// Median wall time of a whole run over all timed runs (what `hawq bench` reports).
    pub median_total_ms: f64,
}

/// The layer (index into [`QModel::layers`] order) each node's time is charged to: a layer
/// node to itself; another node to the layer that produced its first input, following other
/// non-layer nodes back; a node that only depends on the graph input (e.g. the input's
/// requantization) to the next layer in execution order. `None` only when no layer follows.
pub fn charge_nodes(model: &QModel) -> Vec<Option<usize>> {
    let mut producer = vec![None; model.values.len()];
    let mut charge: Vec<Option<usize>> = Vec::with_capacity(model.nodes.len());
    let mut layers = 0;
    let mut pending = Vec::new();
    for (i, node) in model.nodes.iter().enumerate() {
        let owner = if let QOp::Layer(_) = node.op {
            layers += 1;
            // Nodes fed only by the graph input belong to the first layer after them.
            for p in pending.drain(..) {
                charge[p] = Some(layers - 1);
            }
            Some(layers - 1)
        } else {
            let from = node.inputs.first().and_then(|&v| producer.get(v).copied().flatten());
            let owner = from.and_then(|n: usize| charge[n]);
            if owner.is_none() {
                pending.push(i);
            }
            owner
        };
        charge.push(owner);
        if let Some(p) = producer.get_mut(node.output) {
            *p = Some(i);
        }
    }
    charge
}

/// Per-slot means over the runs (`runs[r][slot]`) whose total (last slot) is in the
/// interquartile range (all runs when there are fewer than four).
fn interquartile_mean(mut runs: Vec<Vec<f64>>) -> Vec<f64> {
    runs.sort_by(|a, b| a.iter().sum::<f64>().total_cmp(&b.iter().sum::<f64>()));
    let q = runs.len() / 4;
    let kept = &runs[q..runs.len() - q];
    let slots = kept.first().map_or(0, Vec::len);
    (0..slots).map(|i| kept.iter().map(|r| r[i]).sum::<f64>() / kept.len() as f64).collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Consecutive timed runs of one model before the next model's turn.
const BLOCK: usize = 10;

/// Profiles `models` on `x` with `threads` workers: `warmup` untimed runs each, then `reps`
/// (at least 1) timed runs each, in blocks of up to [`BLOCK`] consecutive runs per model taken
/// in turn (each block after one untimed run), so slow drifts of a shared machine affect all
/// models alike while every run sees warm caches and a warm thread pool, as `hawq bench`'s
/// back-to-back runs do. Returns one [`LayerTimes`] per model.
pub fn profile_layers(
    models: &[&QModel],
    isa: Isa,
    x: &Tensor,
    threads: usize,
    warmup: usize,
    reps: usize,
) -> Result<Vec<LayerTimes>> {
    let plans = models.iter().map(|m| Plan::new(m, isa)).collect::<Result<Vec<_>>>()?;
    let charges: Vec<Vec<Option<usize>>> = models.iter().map(|m| charge_nodes(m)).collect();
    let n_layers: Vec<usize> = models.iter().map(|m| m.layers().count()).collect();
    for _ in 0..warmup {
        for p in &plans {
            p.run(x, threads)?;
        }
    }
    // runs[model][rep][layer]; the last "layer" slot holds the overhead.
    let mut runs: Vec<Vec<Vec<f64>>> = vec![Vec::new(); models.len()];
    let mut done = 0;
    while done < reps.max(1) {
        let block = BLOCK.min(reps.max(1) - done);
        done += block;
        for (m, plan) in plans.iter().enumerate() {
            plan.run(x, threads)?;
            for _ in 0..block {
                let (node_times, total) = plan.run_timed(x, threads)?;
                let mut per_layer = vec![0.0; n_layers[m] + 1];
                for (t, charge) in node_times.iter().zip(&charges[m]) {
                    per_layer[charge.unwrap_or(n_layers[m])] += ms(*t);
                }
                per_layer[n_layers[m]] += ms(total) - per_layer.iter().sum::<f64>();
                runs[m].push(per_layer);
            }
        }
    }
    Ok(models
        .iter()
        .zip(runs)
        .map(|(model, runs)| {
            let mut totals: Vec<f64> = runs.iter().map(|r| r.iter().sum()).collect();
            totals.sort_by(f64::total_cmp);
            let median_total_ms = totals.get(totals.len() / 2).copied().unwrap_or(0.0);
            let mut means = interquartile_mean(runs);
            let total_ms = means.iter().sum();
            let overhead_ms = means.pop().unwrap_or(0.0);
            let layers = model.layers().map(|l| l.name.clone()).zip(means);
            LayerTimes { layers: layers.collect(), overhead_ms, total_ms, median_total_ms }
        })
        .collect())
}
