//! `hawq bench MODEL --batch B --threads T --precision int8|int4|mixed|fp32`: latency of one
//! forward pass (median and spread over repetitions) on random input.
//!
//! Integer precisions run hawq's fast integer engine (`hawq_engine::fast`); a float model is
//! first calibrated on a few random batches and lowered (int4 keeps the first and last layers
//! at 8 bits; mixed takes `--config`). `fp32` runs hawq's simple float reference interpreter,
//! which is a correctness reference, not an optimised fp32 engine.

use super::quantize::bit_config;
use crate::args::ModelArgs;
use crate::model::{self, Loaded};
use crate::output::{Context, Table};
use anyhow::{Context as _, Result, bail};
use hawq_engine::fast::Plan;
use hawq_engine::{QModel, lower};
use hawq_ir::{Graph, Shape, Tensor};
use std::path::PathBuf;
use std::time::Instant;

/// The command's options.
pub struct Options {
    /// Model to run.
    pub model: ModelArgs,
    /// Batch size.
    pub batch: usize,
    /// Worker threads of the integer engine.
    pub threads: usize,
    /// `int8`, `int4`, `mixed` or `fp32`.
    pub precision: String,
    /// Per-layer bits (`{"bits": {layer: 4|8}}`) for `mixed`.
    pub config: Option<PathBuf>,
    /// Timed repetitions.
    pub reps: usize,
    /// Untimed warm-up runs.
    pub warmup: usize,
}

/// Calibration batches (of 2 images) drawn for a float model.
const CALIB_BATCHES: usize = 2;

/// Deterministic uniform values in [-1, 1) (splitmix64); benchmark input only.
pub(super) fn random_input(shape: Vec<usize>, seed: u64) -> Result<Tensor> {
    let mut s = seed;
    let n = shape.iter().product();
    let data = (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 23) as f32) - 1.0
        })
        .collect();
    Ok(Tensor::new(shape, data)?)
}

/// The concrete shape of `batch` items of a symbolic input shape.
pub(super) fn concrete(shape: &Shape, batch: usize) -> Result<Vec<usize>> {
    shape
        .0
        .iter()
        .enumerate()
        .map(|(i, d)| match d.fixed() {
            Some(n) => Ok(n),
            None if i == 0 => Ok(batch),
            None => bail!("input dimension {i} of {shape} is not fixed"),
        })
        .collect()
}

/// Calibrates a float graph on random batches and lowers it at `precision`.
fn lower_float(mut g: Graph, o: &Options, ctx: &Context) -> Result<QModel> {
    hawq_ir::passes::simplify(&mut g)?;
    let cfg = match o.precision.as_str() {
        "int8" => bit_config(&g, "8", None, false)?,
        "int4" => bit_config(&g, "4", None, false)?,
        "mixed" => match &o.config {
            Some(p) => bit_config(&g, "4,8", Some(p), false)?,
            None => {
                bail!("--precision mixed needs --config BITS.json ({{\"bits\": {{layer: 4|8}}}})")
            }
        },
        p => bail!("--precision {p}: expected int8, int4, mixed or fp32"),
    };
    ctx.note(format!(
        "calibrating on {CALIB_BATCHES} random batches of 2 and lowering to {}",
        o.precision
    ));
    let shape = concrete(&g.inputs[0].shape, 2)?;
    let batches: Vec<Tensor> = (0..CALIB_BATCHES as u64)
        .map(|i| random_input(shape.clone(), 100 + i))
        .collect::<Result<_>>()?;
    let ranges = hawq_engine::calibrate::calibrate(&g, &batches)?;
    Ok(lower(&g, &ranges, &cfg)?)
}

/// Times `f` after `warmup` untimed calls: sorted milliseconds of `reps` calls.
fn time_runs(reps: usize, warmup: usize, mut f: impl FnMut() -> Result<()>) -> Result<Vec<f64>> {
    for _ in 0..warmup {
        f()?;
    }
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f()?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    Ok(ms)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the command.
pub fn run(o: &Options, ctx: &Context) -> Result<()> {
    if o.batch == 0 || o.reps == 0 {
        bail!("--batch and --reps must be at least 1");
    }
    let loaded = model::load(&o.model)?;
    let (ms, isa, engine, peak) = match (loaded, o.precision.as_str()) {
        (Loaded::Float(g), "fp32") => {
            let x = random_input(concrete(&g.inputs[0].shape, o.batch)?, 1)?;
            let ms = time_runs(o.reps, o.warmup, || {
                hawq_ir::interp::run(&g, std::slice::from_ref(&x))?;
                Ok(())
            })?;
            (ms, "scalar".to_string(), "fp32 reference interpreter (simple, unoptimised)", None)
        }
        (Loaded::Int(_), "fp32") => {
            bail!("--precision fp32: a .hawq model holds only integer weights")
        }
        (loaded, _) => {
            let qm = match loaded {
                Loaded::Float(g) => lower_float(g, o, ctx)?,
                Loaded::Int(m) => {
                    ctx.note("a .hawq model runs at the bits stored in it; --precision is ignored");
                    m
                }
            };
            let isa = hawq_kernels::isa()?;
            let plan = Plan::new(&qm, isa).context("compiling the integer model")?;
            let x = random_input(concrete(&qm.values[qm.input].shape, o.batch)?, 1)?;
            let ms = time_runs(o.reps, o.warmup, || {
                plan.run(&x, o.threads)?;
                Ok(())
            })?;
            let peak = plan.peak_activation_bytes(o.batch);
            (ms, isa.to_string(), "hawq fast integer engine", Some(peak))
        }
    };
    let (median, p10, p90) = (percentile(&ms, 50.0), percentile(&ms, 10.0), percentile(&ms, 90.0));
    let threads = if o.precision == "fp32" { 1 } else { o.threads };
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({
                "median_ms": median, "p10_ms": p10, "p90_ms": p90, "isa": isa,
                "engine": engine, "model": o.model.model, "precision": o.precision,
                "batch": o.batch, "threads": threads, "reps": o.reps, "warmup": o.warmup,
                "peak_activation_bytes": peak,
            })
        );
    } else {
        let mut t = Table::new(&[
            "model",
            "precision",
            "batch",
            "threads",
            "isa",
            "median ms",
            "p10 ms",
            "p90 ms",
        ]);
        t.row(vec![
            o.model.model.clone(),
            o.precision.clone(),
            o.batch.to_string(),
            threads.to_string(),
            isa,
            format!("{median:.3}"),
            format!("{p10:.3}"),
            format!("{p90:.3}"),
        ]);
        crate::output::emit(&t.render());
        let peak = peak
            .map(|b| format!("; activation arena {:.2} MB", b as f64 / 1e6))
            .unwrap_or_default();
        crate::outln!("engine: {engine}; {} timed runs after {} warm-up{peak}", o.reps, o.warmup);
    }
    Ok(())
}
