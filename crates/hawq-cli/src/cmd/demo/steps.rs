//! The pipeline steps of `hawq demo`, each a call into the library crates that the single-step
//! commands use: float evaluation (`hawq eval`), Hessian sensitivity (`hawq sensitivity`), ILP
//! allocation and Pareto sweep (`hawq allocate`), calibration and lowering (`hawq quantize`),
//! fast-engine evaluation, the fast-vs-reference bit-exact check and per-layer latency.

use crate::cmd::eval::argmax;
use crate::data;
use crate::output::Context;
use anyhow::{Context as _, Result};
use hawq_alloc::{Allocation, Budget, BudgetKind, LayerTable, alpha_grid};
use hawq_data::Dataset;
use hawq_engine::calibrate::Calibrator;
use hawq_engine::fast::Plan;
use hawq_engine::fast::profile::{LayerTimes, profile_layers};
use hawq_engine::{LowerConfig, QModel, Ranges};
use hawq_ir::{Graph, Tensor};
use hawq_kernels::Isa;
use hawq_quant::observer::ObserverKind;
use hawq_report::{BitExact, ParetoPoint};
use hawq_train::hessian::{self, HessianProgress, SensitivityConfig};
use std::collections::HashMap;
use std::time::Instant;

/// Images per evaluation or calibration batch.
const BATCH: usize = 64;

/// The sensitivity table of `g` over the first `samples` images of `train` (exact Gauss–Newton
/// traces in f64, as `hawq sensitivity` computes by default).
pub fn sensitivity(
    g: &Graph,
    train: &Dataset,
    samples: usize,
    threads: usize,
    ctx: &Context,
) -> Result<LayerTable> {
    let n = samples.clamp(1, train.len());
    let images = &train.images[..n * train.image_len()];
    let cfg = SensitivityConfig { threads, ..SensitivityConfig::default() };
    let pb = ctx.progress(0, "hessian");
    let mut progress = |p: HessianProgress| {
        pb.set_length(p.total as u64);
        pb.set_position(p.done as u64);
    };
    let t = hessian::sensitivity_table::<f64>(g, images, n, &cfg, &mut progress)?;
    pb.finish_and_clear();
    t.notes.iter().for_each(|m| ctx.note(m));
    Ok(t.table)
}

/// The ILP's allocation under a size budget `alpha`, and the size sweep around it (11 evenly
/// spaced fractions plus `alpha`), with the point of `alpha` marked.
pub fn allocate(table: &LayerTable, alpha: f64) -> Result<(Allocation, Vec<ParetoPoint>)> {
    let chosen = hawq_alloc::allocate(table, &[Budget::fraction(BudgetKind::Size, alpha)])
        .with_context(|| format!("allocating bits under a size budget α = {alpha}"))?;
    let mut alphas = alpha_grid(11);
    if !alphas.iter().any(|a| (a - alpha).abs() < 1e-9) {
        alphas.push(alpha);
        alphas.sort_by(f64::total_cmp);
    }
    let points = hawq_alloc::pareto(table, BudgetKind::Size, &alphas)?
        .into_iter()
        .map(|p| ParetoPoint {
            alpha: p.alpha,
            size_mb: p.allocation.size_bytes / 1e6,
            bops: p.allocation.bops,
            objective: p.allocation.objective,
            layers_4bit: p.allocation.bits.values().filter(|&&b| b == 4).count(),
            chosen: (p.alpha - alpha).abs() < 1e-9,
        })
        .collect();
    Ok((chosen, points))
}

/// The mixed-precision lowering configuration of an allocation.
pub fn mixed_config(a: &Allocation) -> LowerConfig {
    LowerConfig {
        bits: a.bits.iter().map(|(k, v)| (k.clone(), *v)).collect::<HashMap<_, _>>(),
        default_bits: 8,
        signed_activations: false,
    }
}

/// Activation ranges of `g` (BN folded) over the first `count` images of `train` (min/max
/// observers, as `hawq quantize`).
pub fn calibrate(g: &Graph, train: &Dataset, count: usize, ctx: &Context) -> Result<Ranges> {
    let n = count.clamp(1, train.len());
    let mut cal = Calibrator::new(ObserverKind::MinMax)?;
    let pb = ctx.progress(n as u64, "calibrate");
    for r in data::ranges(n, BATCH) {
        let len = r.len() as u64;
        cal.observe(g, &data::batch(train, r))?;
        pb.inc(len);
    }
    pb.finish_and_clear();
    Ok(cal.ranges())
}

/// Top-1 accuracy of the fast engine on the first `n` images of `test`.
pub fn fast_accuracy(
    plan: &Plan,
    test: &Dataset,
    n: usize,
    threads: usize,
    ctx: &Context,
    what: &str,
) -> Result<f64> {
    let pb = ctx.progress(n as u64, what);
    let mut correct = 0;
    for r in data::ranges(n, BATCH) {
        let labels = &test.labels[r.clone()];
        let len = r.len() as u64;
        let preds = argmax(&plan.run(&data::batch(test, r), threads)?.logits);
        correct += preds.iter().zip(labels).filter(|(p, l)| **p == **l as usize).count();
        pb.inc(len);
    }
    pb.finish_and_clear();
    Ok(correct as f64 / n.max(1) as f64)
}

/// Runs the first `n` test images through both integer engines and counts differing output
/// integers (the fast engine must reproduce the reference exactly).
pub fn bit_exact(
    model: &QModel,
    plan: &Plan,
    test: &Dataset,
    n: usize,
    threads: usize,
) -> Result<BitExact> {
    let n = n.clamp(1, test.len());
    let x = data::batch(test, 0..n);
    let fast = plan.run(&x, threads)?.int_output;
    let reference = hawq_engine::reference::run(model, &x)?.int_output;
    let mismatches = if fast.shape == reference.shape {
        fast.data.iter().zip(&reference.data).filter(|(a, b)| a != b).count()
    } else {
        reference.data.len().max(fast.data.len())
    };
    Ok(BitExact { images: n, compared: reference.data.len(), mismatches })
}

/// Per-layer and whole-run latency of each model on one image, one thread.
pub fn latency(
    models: &[&QModel],
    isa: Isa,
    image: &Tensor,
    reps: usize,
) -> Result<Vec<LayerTimes>> {
    Ok(profile_layers(models, isa, image, 1, 5, reps.max(1))?)
}

/// Median latency in ms of the float reference interpreter on one image.
pub fn float_latency(g: &Graph, image: &Tensor, reps: usize) -> Result<f64> {
    hawq_ir::interp::run(g, std::slice::from_ref(image))?;
    let mut ms = Vec::with_capacity(reps.max(1));
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        hawq_ir::interp::run(g, std::slice::from_ref(image))?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms[ms.len() / 2])
}

/// Weight storage in MB and bit operations of one image of an integer model; `macs` maps
/// layer names to their multiply-accumulates.
pub fn int_cost(m: &QModel, macs: &HashMap<String, u64>) -> (f64, f64) {
    let bits: usize = m.layers().map(|l| l.weights.len() * l.bits as usize).sum();
    let bops: u64 = m
        .layers()
        .map(|l| {
            let b = l.bits;
            hawq_ir::counters::bops(macs.get(&l.name).copied().unwrap_or(0), b, b)
        })
        .sum();
    (bits as f64 / 8e6, bops as f64)
}
