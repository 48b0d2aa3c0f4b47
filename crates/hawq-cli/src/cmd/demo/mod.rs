//! `hawq demo`: the whole HAWQ-V3 pipeline on the committed Fashion-MNIST ResNet20 and data
//! subset — FP32 evaluation, Hessian sensitivity, ILP allocation under a size budget,
//! calibration, INT8 / mixed / INT4 (W4A4) lowering, integer evaluation on the fast engine, a
//! fast-vs-reference bit-exact check and per-layer latency — then the results table on stdout
//! and a report (Markdown + self-contained HTML) in `--out`.

pub(super) mod steps;

use crate::args::{DataArgs, ModelArgs};
use crate::cmd::eval::{Runner, accuracy};
use crate::output::{Context, Table};
use crate::{data, model};
use anyhow::{Result, bail};
use hawq_data::Split;
use hawq_engine::fast::Plan;
use hawq_engine::{QModel, lower};
use hawq_report::report::RESULT_HEADER;
use hawq_report::{LatencyProfile, LayerSensitivity, ModelResult, Report};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// The committed float model, relative to the repository root.
pub const DEFAULT_MODEL: &str = "models/fmnist-resnet20.safetensors";

/// The command's options.
pub struct Options {
    /// Float model; `None` is the committed [`DEFAULT_MODEL`].
    pub model: Option<String>,
    /// Data (`fmnist-subset` by default).
    pub data: String,
    /// Evaluate on at most this many test images.
    pub limit: Option<usize>,
    /// Size budget α of the mixed model.
    pub size: f64,
    /// Training images of the sensitivity analysis.
    pub samples: usize,
    /// Calibration images.
    pub calib: usize,
    /// Images of the bit-exact check.
    pub check: usize,
    /// Timed runs of the latency measurement.
    pub reps: usize,
    /// Worker threads (evaluation, sensitivity).
    pub threads: usize,
    /// Report folder.
    pub out: PathBuf,
}

/// The model file to load and the name to show for it.
fn model_path(o: &Options) -> Result<(String, String)> {
    if let Some(m) = &o.model {
        return Ok((m.clone(), m.clone()));
    }
    // The binary knows its source tree, so the demo works from any directory of a checkout.
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.parent().and_then(Path::parent).unwrap_or(crate_dir);
    let path = root.join(DEFAULT_MODEL);
    if !path.is_file() {
        bail!(
            "the demo model {} is missing; train it with `hawq train resnet20 --input-shape \
             1x28x28 --classes 10 --data fmnist-subset --augment -o {DEFAULT_MODEL}`, or pass --model",
            path.display()
        );
    }
    Ok((path.to_string_lossy().into_owned(), DEFAULT_MODEL.to_string()))
}

/// Prints a numbered step on stderr.
fn step(ctx: &Context, i: usize, what: &str) {
    ctx.note(format!("[{i}/7] {what}"));
}

/// Runs the command; exit code 3 when the fast engine disagrees with the reference engine.
pub fn run(o: &Options, ctx: &Context) -> Result<ExitCode> {
    if !(0.0..=1.0).contains(&o.size) {
        bail!("--size {}: the budget fraction α must lie in [0, 1]", o.size);
    }
    let started = Instant::now();
    let (path, shown) = model_path(o)?;
    let args = ModelArgs { model: path, input_shape: None, classes: None, seed: 0 };
    let float = model::load_float(&args)?;
    let mut g = float.clone();
    hawq_ir::passes::simplify(&mut g)?;
    let d = DataArgs { data: o.data.clone(), limit: o.limit, batch: 64 };
    let train = data::load(&d, Split::Train)?;
    let test = data::load(&d, Split::Test)?;
    if g.inputs[0].shape.matches(&[1, test.shape[0], test.shape[1], test.shape[2]]).is_none() {
        bail!("model input {} does not fit data images {:?}", g.inputs[0].shape, test.shape);
    }
    let n = o.limit.unwrap_or(test.len()).clamp(1, test.len());
    let threads = o.threads.max(1);

    step(ctx, 1, &format!("FP32 accuracy on {n} test images (float reference interpreter)"));
    let (fp32_top1, _) = accuracy(&Runner::Float(&g), &test, n, 64, ctx, "eval FP32")?;
    step(ctx, 2, &format!("Hessian sensitivity on {} training images", o.samples));
    let table = steps::sensitivity(&float, &train, o.samples, threads, ctx)?;
    step(ctx, 3, &format!("ILP bit allocation under a size budget α = {}", o.size));
    let (alloc, pareto) = steps::allocate(&table, o.size)?;
    step(ctx, 4, &format!("calibration on {} training images", o.calib.min(train.len())));
    let ranges = steps::calibrate(&g, &train, o.calib, ctx)?;
    let configs = [
        ("INT8", super::quantize::bit_config(&g, "8", None, false)?),
        ("mixed", steps::mixed_config(&alloc)),
        ("INT4", super::quantize::bit_config(&g, "4", None, false)?),
    ];
    let models: Vec<(&str, QModel)> = configs
        .iter()
        .map(|(name, cfg)| Ok((*name, lower(&g, &ranges, cfg)?)))
        .collect::<Result<_>>()?;
    let isa = hawq_kernels::isa()?;
    let plans = models.iter().map(|(_, m)| Plan::new(m, isa)).collect::<Result<Vec<_>, _>>()?;

    step(ctx, 5, &format!("integer accuracy on the fast engine ({isa}, {threads} threads)"));
    let mut int_top1 = Vec::new();
    for ((name, _), plan) in models.iter().zip(&plans) {
        int_top1.push(steps::fast_accuracy(plan, &test, n, threads, ctx, &format!("eval {name}"))?);
    }
    step(ctx, 6, &format!("bit-exact check: fast vs reference engine on {} images", o.check));
    let pb = ctx.progress(models.len() as u64, "bit-exact");
    let mut exact = Vec::new();
    for ((_, m), plan) in models.iter().zip(&plans) {
        exact.push(steps::bit_exact(m, plan, &test, o.check, threads)?);
        pb.inc(1);
    }
    pb.finish_and_clear();
    step(ctx, 7, &format!("latency: batch 1, one thread, median of {} runs", o.reps));
    let image = data::batch(&test, 0..1);
    let refs: Vec<&QModel> = models.iter().map(|(_, m)| m).collect();
    let times = steps::latency(&refs, isa, &image, o.reps)?;
    let fp32_ms = steps::float_latency(&g, &image, (o.reps / 4).max(3))?;

    let counts = hawq_ir::counters::count_layers(&g)?;
    let macs: HashMap<String, u64> =
        counts.iter().filter_map(|c| c.weight.clone().map(|w| (w, c.macs))).collect();
    let fp32_size =
        counts.iter().filter(|c| c.weight.is_some()).map(|c| c.weight_params).sum::<u64>();
    let fp32_bops: u64 = macs.values().map(|&m| hawq_ir::counters::bops(m, 32, 32)).sum();
    let layers_total = alloc.bits.len();
    let n4 = alloc.bits.values().filter(|&&b| b == 4).count();
    let descriptions = [
        format!(
            "uniform 8-bit weights and activations, calibrated on {} images",
            o.calib.min(train.len())
        ),
        format!(
            "size budget α = {}: {n4} of {layers_total} layers at 4 bits, chosen by the ILP over \
             Hessian sensitivity ({} images)",
            o.size,
            o.samples.min(train.len())
        ),
        "W4A4: 4-bit weights and activations; first and last layers kept at 8 bits".to_string(),
    ];
    let mut results = vec![ModelResult {
        name: "FP32".into(),
        description: "float32 on hawq's reference interpreter (simple and unoptimised: its \
                      latency is a baseline for correctness, not for speed)"
            .into(),
        top1: fp32_top1,
        size_mb: fp32_size as f64 * 4.0 / 1e6,
        bops: fp32_bops as f64,
        latency_ms: Some(fp32_ms),
        bit_exact: None,
    }];
    for i in 0..models.len() {
        let (size_mb, bops) = steps::int_cost(&models[i].1, &macs);
        results.push(ModelResult {
            name: models[i].0.into(),
            description: descriptions[i].clone(),
            top1: int_top1[i],
            size_mb,
            bops,
            latency_ms: Some(times[i].total_ms),
            bit_exact: Some(exact[i]),
        });
    }
    let layers = table
        .layers
        .iter()
        .map(|l| LayerSensitivity {
            name: l.name.clone(),
            params: l.params,
            macs: l.macs,
            trace: l.trace,
            omega4: l.omega(4).unwrap_or(0.0),
            omega8: l.omega(8).unwrap_or(0.0),
            bits: alloc.bits.get(&l.name).copied(),
            pinned: l.pin.is_some(),
        })
        .collect();
    let latency = models
        .iter()
        .zip(&times)
        .map(|((name, _), t)| LatencyProfile {
            model: name.to_string(),
            layers: t.layers.clone(),
            overhead_ms: t.overhead_ms,
            total_ms: t.total_ms,
        })
        .collect();
    let mut report = Report {
        title: format!("hawq demo: {shown} on {}", o.data),
        model: shown,
        data: o.data.clone(),
        eval_images: n,
        isa: isa.to_string(),
        threads,
        results,
        layers,
        latency,
        pareto,
        notes: vec![
            "BOPs = Σ MACs · b_w · b_a over conv/linear layers (FP32 counts 32 × 32); weight \
             size counts conv/linear weights only, packed at their bit width."
                .into(),
            format!(
                "Mixed-precision objective Σ Ω = {:.4e} ({}); sensitivity by {}.",
                alloc.objective,
                if alloc.optimal { "proven optimal" } else { "not proven optimal" },
                table.layers.first().and_then(|l| l.method.clone()).unwrap_or_else(|| "?".into())
            ),
            "Post-training quantization only (no QAT); per-channel symmetric weights, unsigned \
             activations, dyadic requantization."
                .into(),
        ],
        wall_seconds: None,
    };
    report.wall_seconds = Some(started.elapsed().as_secs_f64());
    let written = report.write(&o.out)?;
    print(&report, &written, ctx)?;
    if let Some(r) = report.results.iter().find(|r| r.bit_exact.is_some_and(|b| !b.is_exact())) {
        eprintln!(
            "error: bit-exact check failed for {}: fast engine differs from the reference",
            r.name
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// The results table (or the report as JSON) on stdout.
pub fn print(report: &Report, written: &hawq_report::Written, ctx: &Context) -> Result<()> {
    if ctx.json {
        crate::outln!("{}", report.to_json()?);
        return Ok(());
    }
    let mut t = Table::new(&RESULT_HEADER);
    for r in &report.results {
        t.row(r.cells().to_vec());
    }
    crate::outln!("{} — top-1 on {} test images", report.title, report.eval_images);
    crate::output::emit(&t.render());
    let wall = report.wall_seconds.map_or(String::new(), |s| format!(" ({s:.0} s)"));
    crate::outln!("report{wall}: {} and {}", written.html.display(), written.markdown.display());
    Ok(())
}
