//! `hawq sensitivity`: per-layer Hessian traces of a float model on labelled data, with the
//! 4- and 8-bit quantization perturbations, as the table `hawq allocate --table` reads.
//!
//! Results are cached under `$HAWQ_CACHE` (default `.hawq-cache/` in the current directory),
//! keyed by a hash of the graph, its parameters, the selected samples and every setting that
//! changes the numbers, so re-running the same command is instant.

use crate::args::{DataArgs, ModelArgs};
use crate::output::{Context, Table};
use crate::{data, model};
use anyhow::{Context as _, Result, bail};
use clap::ValueEnum;
use hawq_alloc::{Layer, LayerTable};
use hawq_data::{Dataset, Normalize, Split};
use hawq_train::hessian::{self, HessianProgress, HutchinsonOptions, Method, SensitivityConfig};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The estimator asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Exact traces through the Gauss–Newton identity (exact for every op hawq supports).
    Exact,
    /// Hutchinson's stochastic estimator with Rademacher probes.
    Hutchinson,
}

/// The float type the traces are computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// f64 (default: the oracle precision of the tests).
    F64,
    /// f32 (about twice as fast; traces agree to ~1e-6 relative).
    F32,
}

/// The command's options.
pub struct Options {
    /// The float model (its `--seed` also seeds the Hutchinson probes).
    pub model: ModelArgs,
    /// `--data` (default `fmnist-subset`), unless `inputs`/`labels` are given.
    pub data: Option<String>,
    /// Images `.npy` (float32 NCHW or NHW).
    pub inputs: Option<PathBuf>,
    /// Labels `.npy` (integers).
    pub labels: Option<PathBuf>,
    /// Samples used (the first N of the training split or of the `.npy` files).
    pub samples: usize,
    /// Most Hutchinson probes.
    pub probes: usize,
    /// Hutchinson's relative-change tolerance.
    pub tol: f64,
    /// Estimator (default: exact where it applies).
    pub method: Option<MethodArg>,
    /// Float type.
    pub precision: PrecisionArg,
    /// Samples per pass.
    pub batch: usize,
    /// Worker threads (0 = one per CPU).
    pub threads: usize,
    /// Ignore and do not write the cache.
    pub no_cache: bool,
    /// Write the table here.
    pub output: Option<PathBuf>,
}

/// The samples: `.npy` images are taken as they are (already normalised, `channels` of them).
fn load_samples(o: &Options, channels: usize) -> Result<Dataset> {
    match (&o.inputs, &o.labels, &o.data) {
        (Some(x), Some(y), None) => Dataset::from_npy(x, y, &Normalize::identity(channels))
            .with_context(|| format!("loading {} and {}", x.display(), y.display())),
        (None, None, d) => {
            let args = DataArgs {
                data: d.clone().unwrap_or_else(|| "fmnist-subset".into()),
                limit: None,
                batch: o.batch,
            };
            data::load(&args, Split::Train)
        }
        _ => bail!("give either --data or both --inputs and --labels"),
    }
}

fn cache_path(key: u64) -> PathBuf {
    super::cache::dir().join(format!("sensitivity-{key:016x}.json"))
}

fn cache_key(g: &hawq_ir::Graph, images: &[f32], o: &Options, method: Option<Method>) -> u64 {
    let mut h = super::cache::Fnv::new();
    h.bytes(format!("{:?}{:?}{:?}", g.inputs, g.outputs, g.nodes).as_bytes());
    for (name, t) in &g.params {
        h.bytes(name.as_bytes()).bytes(format!("{:?}", t.shape()).as_bytes());
        for v in t.data() {
            h.bytes(&v.to_le_bytes());
        }
    }
    for v in images {
        h.bytes(&v.to_le_bytes());
    }
    let settings = format!(
        "v1 {:?} {:?} {} {} {} {} {}",
        method, o.precision, o.probes, o.tol, o.model.seed, o.batch, o.samples
    );
    h.bytes(settings.as_bytes());
    h.0
}

fn compute(
    g: &hawq_ir::Graph,
    images: &[f32],
    n: usize,
    o: &Options,
    method: Option<Method>,
    ctx: &Context,
) -> Result<LayerTable> {
    let cfg = SensitivityConfig {
        method,
        chunk: o.batch.max(1),
        threads: o.threads,
        hutchinson: HutchinsonOptions {
            tol: o.tol,
            max_probes: o.probes,
            seed: o.model.seed,
            chunk: o.batch.max(1),
            ..HutchinsonOptions::default()
        },
    };
    let pb = ctx.progress(0, "hessian");
    let mut progress = |p: HessianProgress| {
        pb.set_length(p.total as u64);
        pb.set_position(p.done as u64);
    };
    let t = match o.precision {
        PrecisionArg::F64 => hessian::sensitivity_table::<f64>(g, images, n, &cfg, &mut progress),
        PrecisionArg::F32 => hessian::sensitivity_table::<f32>(g, images, n, &cfg, &mut progress),
    }?;
    pb.finish_and_clear();
    t.notes.iter().for_each(|m| ctx.note(m));
    Ok(t.table)
}

/// Runs the command.
pub fn run(o: &Options, ctx: &Context) -> Result<()> {
    let g = model::load_float(&o.model)?;
    let channels = match g.inputs[0].shape.fixed_dim(1) {
        Some(c) => c,
        None => bail!("model input {} has no fixed channel count", g.inputs[0].shape),
    };
    let ds = load_samples(o, channels)?;
    if g.inputs[0].shape.matches(&[1, ds.shape[0], ds.shape[1], ds.shape[2]]).is_none() {
        bail!("model input {} does not fit data images {:?}", g.inputs[0].shape, ds.shape);
    }
    if o.samples == 0 {
        bail!("--samples must be at least 1");
    }
    let n = o.samples.min(ds.len());
    let images = &ds.images[..n * ds.image_len()];
    let method = o.method.map(|m| match m {
        MethodArg::Exact => Method::ExactGaussNewton,
        MethodArg::Hutchinson => Method::Hutchinson,
    });
    let key = cache_key(&g, images, o, method);
    let path = cache_path(key);
    let started = Instant::now();
    let cached = (!o.no_cache)
        .then(|| std::fs::read_to_string(&path).ok())
        .flatten()
        .and_then(|text| LayerTable::from_json(&text).ok());
    let table = match cached {
        Some(t) => {
            ctx.note(format!("sensitivity: cached result {}", path.display()));
            t
        }
        None => {
            let t = compute(&g, images, n, o, method, ctx)?;
            if !o.no_cache {
                write_cache(&path, &t.to_json()?, ctx);
            }
            t
        }
    };
    ctx.detail(format!("{n} samples, {:.1} s", started.elapsed().as_secs_f64()));
    let json = table.to_json()?;
    if let Some(out) = &o.output {
        std::fs::write(out, &json).with_context(|| format!("writing {}", out.display()))?;
        ctx.note(format!("wrote {} (use with `hawq allocate --table`)", out.display()));
    }
    if ctx.json {
        crate::outln!("{json}");
    } else {
        crate::output::emit(&render(&table));
    }
    Ok(())
}

/// A failed cache write is not an error: the result is still printed.
fn write_cache(path: &Path, json: &str, ctx: &Context) {
    let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| {
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, path))
    });
    if let Err(e) = written {
        ctx.note(format!("sensitivity: cannot write cache {}: {e}", path.display()));
    }
}

fn sci(v: f64) -> String {
    format!("{v:.3e}")
}

/// The layers ranked by `Ω(4)` (most sensitive first).
fn render(t: &LayerTable) -> String {
    let mut rows: Vec<&Layer> = t.layers.iter().collect();
    rows.sort_by(|a, b| b.omega(4).unwrap_or(0.0).total_cmp(&a.omega(4).unwrap_or(0.0)));
    let mut table = Table::new(&[
        "rank", "layer", "params", "MACs", "trace", "stderr", "Δ4", "Δ8", "Ω4", "Ω8", "method",
        "pin",
    ]);
    for (i, l) in rows.iter().enumerate() {
        let d = |b| l.delta.get(&b).map_or("-".into(), |v| sci(*v));
        let om = |b| l.omega(b).map_or("-".into(), sci);
        table.row(vec![
            (i + 1).to_string(),
            l.name.clone(),
            l.params.to_string(),
            crate::output::si(l.macs as f64),
            sci(l.trace),
            l.trace_stderr.map_or("-".into(), sci),
            d(4),
            d(8),
            om(4),
            om(8),
            l.method.clone().unwrap_or_default(),
            l.pin.map_or(String::new(), |p| p.to_string()),
        ]);
    }
    let mut out = table.render();
    if !t.tie.is_empty() {
        let ties: Vec<String> = t.tie.iter().map(|g| g.join(" = ")).collect();
        out.push_str(&format!("ties: {}\n", ties.join("; ")));
    }
    out
}
