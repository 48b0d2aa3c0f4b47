//! `hawq quantize`: float model → integer-only `.hawq` model (post-training calibration, optional
//! quantization-aware training evaluated on the integer engine, lowering).

use super::eval::{Runner, accuracy};
use crate::args::{DataArgs, ModelArgs};
use crate::data;
use crate::model;
use crate::output::{Context, Table};
use anyhow::{Context as _, Result, bail};
use hawq_data::Dataset;
use hawq_data::Split;
use hawq_engine::QModel;
use hawq_engine::calibrate::Calibrator;
use hawq_engine::{LowerConfig, lower};
use hawq_ir::{Graph, Op};
use hawq_quant::observer::{DEFAULT_MOMENTUM, ObserverKind};
use hawq_train::Progress;
use hawq_train::qat::{
    Distill, EvalEngine, IntEval, Qat, QatConfig, QatReport, evaluate_qmodel,
    qat_train_with_progress,
};
use std::collections::HashMap;
use std::path::PathBuf;

/// The command's options.
pub struct Options {
    /// Model to quantize.
    pub model: ModelArgs,
    /// Calibration and evaluation data.
    pub data: DataArgs,
    /// `8`, `4` or `4,8`.
    pub bits: String,
    /// Per-layer bits for mixed precision.
    pub bits_config: Option<PathBuf>,
    /// Size, BOPs and latency budgets (as `hawq allocate`): any one chooses per-layer bits by
    /// ILP over a Hessian sensitivity table (and a measured latency table for `--latency`).
    pub budgets: [Option<String>; 3],
    /// Calibration images.
    pub calib: usize,
    /// Signed 8-bit activations (reference-compatible).
    pub signed_activations: bool,
    /// Quantization-aware training.
    pub qat: QatOptions,
    /// Output path.
    pub output: PathBuf,
}

/// Quantization-aware training settings of `hawq quantize`.
pub struct QatOptions {
    /// Epochs over the train split (0: post-training quantization only).
    pub epochs: usize,
    /// Train on the first this many training images only.
    pub images: Option<usize>,
    /// Learning rate.
    pub lr: f64,
    /// Distil from the float model.
    pub distill: bool,
    /// Threads.
    pub threads: usize,
}

/// Weight names of the first and last conv/linear layers, in execution order.
pub fn first_and_last_layers(g: &Graph) -> Result<(String, String)> {
    let order = g.topo_order()?;
    let names: Vec<String> = order
        .iter()
        .filter_map(|&i| match &g.nodes[i].op {
            Op::Conv2d(c) => Some(c.weight.clone()),
            Op::Linear(l) => Some(l.weight.clone()),
            _ => None,
        })
        .collect();
    match (names.first(), names.last()) {
        (Some(f), Some(l)) => Ok((f.clone(), l.clone())),
        _ => bail!("the model has no conv or linear layer to quantize"),
    }
}

/// Bit configuration from `--bits` and `--bits-config`; first and last layers stay 8-bit.
pub fn bit_config(
    g: &Graph,
    bits: &str,
    config: Option<&std::path::Path>,
    signed: bool,
) -> Result<LowerConfig> {
    let default_bits = match bits.trim() {
        "8" => 8,
        "4" => 4,
        "4,8" | "8,4" if config.is_some() => 8,
        "4,8" | "8,4" => bail!("--bits 4,8 needs --bits-config (e.g. from `hawq allocate --json`)"),
        other => bail!("--bits {other}: expected 8, 4 or 4,8"),
    };
    let mut per_layer: HashMap<String, u32> = match config {
        Some(p) => super::read_bits_config(p)?,
        None => HashMap::new(),
    };
    let (first, last) = first_and_last_layers(g)?;
    per_layer.entry(first).or_insert(8);
    per_layer.entry(last).or_insert(8);
    Ok(LowerConfig { bits: per_layer, default_bits, signed_activations: signed })
}

/// Runs the command.
pub fn run(o: &Options, ctx: &Context) -> Result<()> {
    let float = model::load_float(&o.model)?;
    let mut g = float.clone();
    hawq_ir::passes::simplify(&mut g)?;
    let train = data::load(&o.data, Split::Train)?;
    if g.inputs[0].shape.matches(&[1, train.shape[0], train.shape[1], train.shape[2]]).is_none() {
        bail!("model input {} does not fit data images {:?}", g.inputs[0].shape, train.shape);
    }
    let cfg = if o.budgets.iter().any(Option::is_some) {
        if o.bits_config.is_some() {
            bail!("give either budgets (--size/--bops/--latency) or --bits-config, not both");
        }
        allocate_bits(&g, o, &train, ctx)?
    } else {
        bit_config(&g, &o.bits, o.bits_config.as_deref(), o.signed_activations)?
    };
    ctx.detail(format!("bits: default {}, per layer {:?}", cfg.default_bits, cfg.bits));
    let n_cal = o.calib.clamp(1, train.len());
    let mut cal = Calibrator::new(ObserverKind::MinMax)?;
    let pb = ctx.progress(n_cal as u64, "calibrate");
    for r in data::ranges(n_cal, o.data.batch) {
        let len = r.len() as u64;
        cal.observe(&g, &data::batch(&train, r))?;
        pb.inc(len);
    }
    pb.finish_and_clear();
    let test = data::load(&o.data, Split::Test)?;
    let n = o.data.limit.unwrap_or(test.len()).min(test.len());
    let (qm, qat_report) = if o.qat.epochs > 0 {
        let eval_set = test.subset(&(0..n).collect::<Vec<_>>())?;
        let subset;
        let qat_train_set = match o.qat.images {
            Some(k) if k < train.len() => {
                subset = train.subset(&(0..k).collect::<Vec<_>>())?;
                &subset
            }
            _ => &train,
        };
        let (qm, report) = run_qat(o, &float, &cal.ranges(), &cfg, qat_train_set, &eval_set, ctx)?;
        (qm, Some(report))
    } else {
        (lower(&g, &cal.ranges(), &cfg)?, None)
    };
    hawq_engine::format::save(&qm, &o.output)
        .with_context(|| format!("writing {}", o.output.display()))?;
    let (fp, fp_pred) = accuracy(&Runner::Float(&g), &test, n, o.data.batch, ctx, "eval fp32")?;
    let eval_set = test.subset(&(0..n).collect::<Vec<_>>())?;
    let exact = verify_written(&qm, o, &eval_set, ctx)?;
    let (q, q_pred) = (exact.eval.accuracy, exact.predictions(n));
    let agree =
        fp_pred.iter().zip(&q_pred).filter(|(a, b)| a == b).count() as f64 / n.max(1) as f64;
    let size_mb =
        qm.layers().map(|l| l.weights.len() * l.bits as usize).sum::<usize>() as f64 / 8e6;
    let n4 = qm.layers().filter(|l| l.bits == 4).count();
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({"output": o.output, "images": n, "fp32_top1": fp, "int_top1": q, "agreement": agree,
                               "bit_exact": {"outputs": exact.eval.outputs.len(), "file_mismatches": exact.file_mismatches,
                                             "reference_images": exact.reference_images,
                                             "reference_mismatches": exact.reference_mismatches},
                               "weight_size_mb": size_mb, "layers": qm.layers().count(), "layers_4bit": n4,
                               "qat": qat_report.as_ref().map(|r| serde_json::json!({
                                   "epochs": r.epochs.len(), "ptq_int_top1": r.initial_accuracy,
                                   "epoch_seconds": r.epoch_seconds,
                                   "epoch_test_top1": r.epochs.iter().map(|e| e.test_accuracy).collect::<Vec<_>>()}))})
        );
    } else {
        let mut t = Table::new(&["model", "top-1 %", "weights MB", "layers (4-bit)"]);
        t.row(vec![
            "fp32 (reference)".into(),
            format!("{:.2}", fp * 100.0),
            "-".into(),
            "-".into(),
        ]);
        if let Some(r) = &qat_report {
            t.row(vec![
                format!("integer PTQ ({})", o.bits),
                format!("{:.2}", r.initial_accuracy * 100.0),
                "-".into(),
                "-".into(),
            ]);
        }
        let label = match &qat_report {
            Some(r) => format!("integer QAT ({}, {} epochs)", o.bits, r.epochs.len()),
            None => format!("integer ({})", o.bits),
        };
        t.row(vec![
            label,
            format!("{:.2}", q * 100.0),
            format!("{size_mb:.3}"),
            format!("{} ({n4})", qm.layers().count()),
        ]);
        crate::output::emit(&t.render());
        crate::outln!(
            "top-1 agreement fp32 vs integer: {:.2}% on {n} images; wrote {}",
            agree * 100.0,
            o.output.display()
        );
        crate::outln!(
            "bit-exact: {} of {} integer outputs differ between the model as evaluated and the \
             written file; {} of the first {} images' outputs differ on the reference engine",
            exact.file_mismatches,
            exact.eval.outputs.len(),
            exact.reference_mismatches,
            exact.reference_images
        );
    }
    if exact.file_mismatches + exact.reference_mismatches > 0 {
        bail!(
            "the written model {} does not reproduce the evaluated integers ({} + {} outputs \
             differ): please report this as a bug",
            o.output.display(),
            exact.file_mismatches,
            exact.reference_mismatches
        );
    }
    Ok(())
}

/// Training images the Hessian sensitivity of `--size/--bops/--latency` is computed on.
const SENSITIVITY_SAMPLES: usize = 128;

/// Per-layer bits chosen by the ILP under the given budgets: Hessian sensitivity table (first
/// and last layer pinned to 8 bits, ties from the graph), plus the latency table measured on
/// this machine (batch 1, one thread, cached) when a latency budget is given.
fn allocate_bits(g: &Graph, o: &Options, train: &Dataset, ctx: &Context) -> Result<LowerConfig> {
    let threads = o.qat.threads.max(1);
    let mut table = super::demo::steps::sensitivity(g, train, SENSITIVITY_SAMPLES, threads, ctx)?;
    if o.budgets[2].is_some() {
        let how = super::latency::Options {
            model: o.model.clone(),
            batch: 1,
            threads: 1,
            reps: 30,
            warmup: 3,
            no_cache: false,
            output: None,
            into: None,
        };
        super::latency::table_for(g, &how, ctx)?.merge_into(&mut table)?;
    }
    let budgets = super::allocate::parse_budgets(&o.budgets)?;
    let a = hawq_alloc::allocate(&table, &budgets)?;
    let n4 = a.bits.values().filter(|&&b| b == 4).count();
    ctx.note(format!(
        "ILP: {n4} of {} layers at 4 bits, size {:.3} MB, {:.3} GBOPs{}, objective {:.4e}{}",
        a.bits.len(),
        a.size_bytes / 1e6,
        a.bops / 1e9,
        a.latency_ms.map_or(String::new(), |l| format!(", predicted {l:.3} ms")),
        a.objective,
        if a.optimal { " (proven optimal)" } else { "" }
    ));
    Ok(LowerConfig {
        bits: a.bits.into_iter().collect(),
        default_bits: 8,
        signed_activations: o.signed_activations,
    })
}

/// Images whose outputs are also recomputed on the scalar reference engine (slow: ~0.1 s per
/// ResNet20 image), as a spot check of the fast engine on this very model.
const REFERENCE_SPOT_CHECK: usize = 32;

/// The bit-exactness evidence of one `hawq quantize` run.
struct Verified {
    /// The evaluation of the model as trained/lowered in memory (fast engine): what QAT and
    /// the printed accuracy report.
    eval: IntEval,
    /// Integer outputs of the written file, reloaded from disk, that differ from `eval`.
    file_mismatches: usize,
    /// Images recomputed on the scalar reference engine.
    reference_images: usize,
    /// Integer outputs of those images that differ from `eval`.
    reference_mismatches: usize,
}

impl Verified {
    /// Arg-max class of every evaluated image.
    fn predictions(&self, images: usize) -> Vec<usize> {
        let classes = (self.eval.logits.len() / images.max(1)).max(1);
        self.eval.logits.chunks_exact(classes).map(hawq_train::argmax).collect()
    }
}

/// Evaluates `qm` on `data` with the fast engine, reloads the written `.hawq` and checks its
/// integer outputs on the same images (every image on the fast engine, the first
/// [`REFERENCE_SPOT_CHECK`] also on the reference engine).
fn verify_written(qm: &QModel, o: &Options, data: &Dataset, ctx: &Context) -> Result<Verified> {
    let threads = o.qat.threads.max(1);
    let pb = ctx.progress(2, "eval int + verify file");
    let eval = evaluate_qmodel(qm, data, o.data.batch, EvalEngine::Fast, threads)?;
    pb.inc(1);
    let reloaded = hawq_engine::format::load(&o.output)
        .with_context(|| format!("re-reading {}", o.output.display()))?;
    let from_file = evaluate_qmodel(&reloaded, data, o.data.batch, EvalEngine::Fast, threads)?;
    pb.finish_and_clear();
    let file_mismatches = count_mismatches(&eval.outputs, &from_file.outputs);
    let reference_images = REFERENCE_SPOT_CHECK.min(data.len());
    let spot = data.subset(&(0..reference_images).collect::<Vec<_>>())?;
    let reference = evaluate_qmodel(&reloaded, &spot, o.data.batch, EvalEngine::Reference, 1)?;
    let reference_mismatches =
        count_mismatches(&eval.outputs[..reference.outputs.len()], &reference.outputs);
    Ok(Verified { eval, file_mismatches, reference_images, reference_mismatches })
}

/// Positions where two output vectors differ (a length difference counts in full).
fn count_mismatches(a: &[i32], b: &[i32]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count() + a.len().abs_diff(b.len())
}

/// Quantization-aware training of `float` from the calibration `ranges`, evaluated on the
/// integer engine after every epoch; returns the final integer model.
fn run_qat(
    o: &Options,
    float: &Graph,
    ranges: &hawq_engine::Ranges,
    cfg: &LowerConfig,
    train: &hawq_data::Dataset,
    test: &hawq_data::Dataset,
    ctx: &Context,
) -> Result<(hawq_engine::QModel, QatReport)> {
    let mut qat = Qat::new(float, ranges, cfg, DEFAULT_MOMENTUM)?;
    if o.qat.distill {
        qat = qat.with_teacher(float)?;
    }
    let mut qcfg = QatConfig::new(o.qat.epochs, o.qat.lr);
    qcfg.batch_size = o.data.batch;
    qcfg.threads = o.qat.threads.max(1);
    qcfg.seed = o.model.seed;
    qcfg.distill = o.qat.distill.then(Distill::default);
    qcfg.engine = EvalEngine::Fast;
    let steps = train.len().div_ceil(qcfg.batch_size) as u64;
    let pb = ctx.progress(steps * o.qat.epochs as u64, "qat");
    let report = qat_train_with_progress(
        &mut qat,
        train,
        test,
        &qcfg,
        &mut |p: &Progress| match p {
            Progress::Step { loss, .. } => {
                pb.inc(1);
                pb.set_message(format!("loss {loss:.3}"));
            }
            Progress::Epoch(e) => {
                let line = format!(
                    "qat epoch {:>3}: train loss {:.4}, fake-quant train acc {:.2}%, integer test acc {:.2}%, {:.0} img/s",
                    e.epoch + 1,
                    e.train_loss,
                    e.train_accuracy * 100.0,
                    e.test_accuracy * 100.0,
                    e.images_per_second
                );
                if pb.is_hidden() {
                    ctx.note(&line);
                } else {
                    pb.println(&line);
                }
            }
        },
    )?;
    pb.finish_and_clear();
    Ok((qat.to_qmodel()?, report))
}
