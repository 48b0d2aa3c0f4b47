//! `hawq eval`: top-1 accuracy of a float or integer model on labelled data.

use crate::args::{DataArgs, EngineKind, ModelArgs};
use crate::data;
use crate::model::{self, Loaded};
use crate::output::Context;
use anyhow::{Result, bail};
use hawq_data::{Dataset, Split};
use hawq_ir::Tensor;

/// A model that maps a float batch to float logits.
pub enum Runner<'a> {
    /// Float reference interpreter.
    Float(&'a hawq_ir::Graph),
    /// Integer reference engine.
    Int(&'a hawq_engine::QModel),
    /// Fast integer engine (same integers as the reference), on all CPUs.
    Fast(&'a hawq_engine::fast::Plan),
}

impl Runner<'_> {
    /// Logits of one batch.
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Runner::Float(g) => hawq_ir::interp::run(g, std::slice::from_ref(x))?.remove(0),
            Runner::Int(m) => hawq_engine::reference::run(m, x)?.logits,
            Runner::Fast(p) => p.run(x, 0)?.logits,
        })
    }
}

/// Row-wise argmax (first maximum wins).
pub fn argmax(t: &Tensor) -> Vec<usize> {
    let c = t.shape().get(1).copied().unwrap_or(1).max(1);
    t.data()
        .chunks_exact(c)
        .map(|r| r.iter().enumerate().fold(0, |b, (i, &v)| if v > r[b] { i } else { b }))
        .collect()
}

/// Top-1 accuracy (fraction) and predictions over the first `n` images.
pub fn accuracy(
    runner: &Runner,
    ds: &Dataset,
    n: usize,
    batch: usize,
    ctx: &Context,
    what: &str,
) -> Result<(f64, Vec<usize>)> {
    let pb = ctx.progress(n as u64, what);
    let mut preds = Vec::with_capacity(n);
    for r in data::ranges(n, batch) {
        let len = r.len();
        preds.extend(argmax(&runner.logits(&data::batch(ds, r))?));
        pb.inc(len as u64);
    }
    pb.finish_and_clear();
    let correct = preds.iter().zip(&ds.labels).filter(|(p, l)| **p == **l as usize).count();
    Ok((correct as f64 / n.max(1) as f64, preds))
}

/// Runs the command.
pub fn run(args: &ModelArgs, d: &DataArgs, engine: EngineKind, ctx: &Context) -> Result<()> {
    let ds = data::load(d, Split::Test)?;
    let n = d.limit.unwrap_or(ds.len()).min(ds.len());
    let loaded = model::load(args)?;
    let plan = match (&loaded, engine) {
        (Loaded::Int(m), EngineKind::Fast) => {
            Some(hawq_engine::fast::Plan::new(m, hawq_kernels::isa()?)?)
        }
        _ => None,
    };
    let (runner, engine) = match (&loaded, &plan) {
        (Loaded::Float(g), _) => (Runner::Float(g), "fp32 reference interpreter".to_string()),
        (Loaded::Int(_), Some(p)) => (Runner::Fast(p), format!("fast integer engine, {}", p.isa())),
        (Loaded::Int(m), None) => (Runner::Int(m), "integer reference engine".to_string()),
    };
    if let Loaded::Float(g) = &loaded
        && g.inputs[0].shape.matches(&[1, ds.shape[0], ds.shape[1], ds.shape[2]]).is_none()
    {
        bail!("model input {} does not fit data images {:?}", g.inputs[0].shape, ds.shape);
    }
    let (acc, _) = accuracy(&runner, &ds, n, d.batch, ctx, "eval")?;
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({"model": args.model, "engine": engine, "images": n, "top1": acc})
        );
    } else {
        crate::outln!("{}: top-1 {:.2}% on {n} images ({engine})", args.model, acc * 100.0);
    }
    Ok(())
}
