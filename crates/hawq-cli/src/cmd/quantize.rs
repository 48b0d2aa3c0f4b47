//! `hawq quantize`: float model → integer-only `.hawq` model (post-training calibration and
//! lowering; the QAT and ILP stages plug in here as they land).

use super::eval::{Runner, accuracy};
use crate::args::{DataArgs, ModelArgs};
use crate::data;
use crate::model;
use crate::output::{Context, Table};
use anyhow::{Context as _, Result, bail};
use hawq_data::Split;
use hawq_engine::calibrate::Calibrator;
use hawq_engine::{LowerConfig, lower};
use hawq_ir::{Graph, Op};
use hawq_quant::observer::ObserverKind;
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
    /// Calibration images.
    pub calib: usize,
    /// Signed 8-bit activations (reference-compatible).
    pub signed_activations: bool,
    /// Output path.
    pub output: PathBuf,
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
    let mut g = model::load_float(&o.model)?;
    hawq_ir::passes::simplify(&mut g)?;
    let cfg = bit_config(&g, &o.bits, o.bits_config.as_deref(), o.signed_activations)?;
    ctx.detail(format!("bits: default {}, per layer {:?}", cfg.default_bits, cfg.bits));

    let train = data::load(&o.data, Split::Train)?;
    if g.inputs[0].shape.matches(&[1, train.shape[0], train.shape[1], train.shape[2]]).is_none() {
        bail!("model input {} does not fit data images {:?}", g.inputs[0].shape, train.shape);
    }
    let n_cal = o.calib.clamp(1, train.len());
    let mut cal = Calibrator::new(ObserverKind::MinMax)?;
    let pb = ctx.progress(n_cal as u64, "calibrate");
    for r in data::ranges(n_cal, o.data.batch) {
        let len = r.len() as u64;
        cal.observe(&g, &data::batch(&train, r))?;
        pb.inc(len);
    }
    pb.finish_and_clear();
    let qm = lower(&g, &cal.ranges(), &cfg)?;
    hawq_engine::format::save(&qm, &o.output)
        .with_context(|| format!("writing {}", o.output.display()))?;

    let test = data::load(&o.data, Split::Test)?;
    let n = o.data.limit.unwrap_or(test.len()).min(test.len());
    let (fp, fp_pred) = accuracy(&Runner::Float(&g), &test, n, o.data.batch, ctx, "eval fp32")?;
    let (q, q_pred) = accuracy(&Runner::Int(&qm), &test, n, o.data.batch, ctx, "eval int")?;
    let agree =
        fp_pred.iter().zip(&q_pred).filter(|(a, b)| a == b).count() as f64 / n.max(1) as f64;
    let size_mb =
        qm.layers().map(|l| l.weights.len() * l.bits as usize).sum::<usize>() as f64 / 8e6;
    let n4 = qm.layers().filter(|l| l.bits == 4).count();
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({"output": o.output, "images": n, "fp32_top1": fp, "int_top1": q, "agreement": agree,
                               "weight_size_mb": size_mb, "layers": qm.layers().count(), "layers_4bit": n4})
        );
    } else {
        let mut t = Table::new(&["model", "top-1 %", "weights MB", "layers (4-bit)"]);
        t.row(vec![
            "fp32 (reference)".into(),
            format!("{:.2}", fp * 100.0),
            "-".into(),
            "-".into(),
        ]);
        t.row(vec![
            format!("integer ({})", o.bits),
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
    }
    Ok(())
}
