//! `hawq latency-table MODEL [--batch B] [--threads T] [--into TABLE.json] [-o FILE]`: per-layer
//! INT4/INT8 latency of a model on hawq's fast integer engine on this machine ([`table`]),
//! cached under `$HAWQ_CACHE` (default `.hawq-cache/`), optionally merged into a sensitivity
//! table as its `latency_ms` so `hawq allocate --latency` works on measured numbers.

pub mod table;

use super::bench::{concrete, random_input};
use crate::args::ModelArgs;
use crate::model;
use crate::output::{Context, Table};
use anyhow::{Context as _, Result, bail};
use hawq_alloc::LayerTable;
use hawq_ir::{Graph, Tensor};
use std::path::{Path, PathBuf};
use table::{LatencyTable, Measure};

/// The command's options.
pub struct Options {
    /// The float model (zoo name, checkpoint or ONNX).
    pub model: ModelArgs,
    /// Images per forward pass.
    pub batch: usize,
    /// Engine worker threads (0 = one per CPU).
    pub threads: usize,
    /// Timed runs of each of the all-4 and all-8 models.
    pub reps: usize,
    /// Untimed runs of each first.
    pub warmup: usize,
    /// Neither read nor write the cache.
    pub no_cache: bool,
    /// Write the latency table (JSON) here.
    pub output: Option<PathBuf>,
    /// Merge the latencies into this allocation table, in place.
    pub into: Option<PathBuf>,
}

/// Measures, or reads the cache.
fn build(o: &Options, ctx: &Context) -> Result<LatencyTable> {
    let mut g = model::load_float(&o.model)?;
    hawq_ir::passes::simplify(&mut g)?;
    table_for(&g, o, ctx)
}

/// The latency table of the BN-folded graph `g` (measured, or read from the cache); `o.model`
/// is not read.
pub fn table_for(g: &Graph, o: &Options, ctx: &Context) -> Result<LatencyTable> {
    let shape = &g.inputs[0].shape;
    let calib: Vec<Tensor> =
        (0..2).map(|i| random_input(concrete(shape, 2)?, 100 + i)).collect::<Result<_>>()?;
    let (m4, m8) = table::uniform_models(g, &calib)?;
    let x = random_input(concrete(shape, o.batch)?, 1)?;
    let how =
        Measure { isa: hawq_kernels::isa()?, threads: o.threads, warmup: o.warmup, reps: o.reps };
    let sig = table::signature(&m4, &m8, &x, &how);
    let dir = super::cache::dir();
    if let Some(t) = (!o.no_cache).then(|| table::load_cached(&dir, &sig)).flatten() {
        ctx.note(format!("latency-table: cached {}", table::cache_file(&dir, &sig).display()));
        return Ok(t);
    }
    ctx.note(format!(
        "latency-table: profiling {} layers at 4 and 8 bits, {} runs each ({}, batch {}, {} threads)",
        m8.layers().count(),
        o.reps,
        how.isa,
        o.batch,
        o.threads
    ));
    let t = table::measure(&m4, &m8, &x, &how)?;
    if !o.no_cache {
        // A failed cache write is not an error: the table is still printed.
        if let Err(e) = table::store(&dir, &t) {
            ctx.note(format!("latency-table: {e:#}"));
        }
    }
    Ok(t)
}

/// Merges `t` into the allocation table at `path`, rewriting it.
fn merge(t: &LatencyTable, path: &Path, ctx: &Context) -> Result<()> {
    let bytes = hawq_ir::limits::Limits::from_env()?.read_file(path)?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{}: allocation table is not UTF-8", path.display()))?;
    let mut layers = LayerTable::from_json(&text)
        .with_context(|| format!("{}: invalid allocation table", path.display()))?;
    t.merge_into(&mut layers).with_context(|| format!("merging into {}", path.display()))?;
    std::fs::write(path, layers.to_json()?)
        .with_context(|| format!("writing {}", path.display()))?;
    ctx.note(format!("latency-table: wrote latency_ms into {}", path.display()));
    Ok(())
}

/// Runs the command.
pub fn run(o: &Options, ctx: &Context) -> Result<()> {
    if o.batch == 0 || o.reps == 0 {
        bail!("--batch and --reps must be at least 1");
    }
    let t = build(o, ctx)?;
    let json = serde_json::to_string_pretty(&t)?;
    if let Some(out) = &o.output {
        std::fs::write(out, &json).with_context(|| format!("writing {}", out.display()))?;
    }
    if let Some(into) = &o.into {
        merge(&t, into, ctx)?;
    }
    if ctx.json {
        crate::outln!("{json}");
    } else {
        crate::output::emit(&render(&t));
    }
    Ok(())
}

fn render(t: &LatencyTable) -> String {
    let f = |m: &table::Millis, b: u32| m.get(&b).map_or("-".into(), |v| format!("{v:.4}"));
    let mut table = Table::new(&["layer", "int4 ms", "int8 ms", "int4/int8"]);
    for l in &t.layers {
        let (a, b) = (l.latency_ms.get(&4).copied(), l.latency_ms.get(&8).copied());
        let ratio = a.zip(b).map_or("-".into(), |(a, b)| format!("{:.2}", a / b));
        table.row(vec![l.name.clone(), f(&l.latency_ms, 4), f(&l.latency_ms, 8), ratio]);
    }
    let row = |name: &str, a: String, b: String| vec![name.to_string(), a, b, String::new()];
    table.row(row("(fixed overhead)", f(&t.overhead_ms, 4), f(&t.overhead_ms, 8)));
    let uniform = |b| {
        t.predict_ms(&std::collections::HashMap::new(), b).map_or("-".into(), |v| format!("{v:.4}"))
    };
    table.row(row("sum + overhead (prediction)", uniform(4), uniform(8)));
    table.row(row("whole model (measured)", f(&t.total_ms, 4), f(&t.total_ms, 8)));
    let s = &t.signature;
    format!(
        "{}\n{} on {}, batch {}, {} threads, {} timed runs each; model {}\n",
        table.render(),
        s.isa,
        s.cpu,
        s.batch,
        s.threads,
        s.reps,
        s.model_hash
    )
}
