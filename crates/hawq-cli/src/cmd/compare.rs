//! `hawq compare`: per-value divergence between a float model and its integer model, in
//! execution order, so the layer that hurts stands out.

use super::eval::argmax;
use crate::args::{DataArgs, ModelArgs};
use crate::data;
use crate::model;
use crate::output::{Context, Table};
use anyhow::{Context as _, Result};
use hawq_data::Split;
use hawq_engine::qmodel::{Dequant, OutputMode, QOp};

/// Runs the command.
pub fn run(
    args: &ModelArgs,
    quantized: &std::path::Path,
    d: &DataArgs,
    ctx: &Context,
) -> Result<()> {
    let mut g = model::load_float(args)?;
    hawq_ir::passes::simplify(&mut g)?;
    let qm = hawq_engine::format::load(quantized)
        .with_context(|| format!("loading {}", quantized.display()))?;
    let ds = data::load(d, Split::Test)?;
    let n = d.limit.unwrap_or(64).min(ds.len());
    let x = data::batch(&ds, 0..n);
    let float = hawq_ir::interp::run_all(&g, std::slice::from_ref(&x))?;
    let ints = hawq_engine::reference::run_all(&qm, &x)?;
    let mut table = Table::new(&["value", "format", "scale", "rel. error", "clipped %"]);
    let mut rows = Vec::new();
    for (id, v) in qm.values.iter().enumerate() {
        let (Some(q), Some(f)) = (&ints[id], float.get(&v.name)) else { continue };
        if f.numel() != q.data.len() {
            continue;
        }
        let producer = qm.nodes.iter().find(|n| n.output == id);
        let per_channel: Option<&[f32]> = match (producer.map(|p| &p.op), &qm.dequant) {
            (Some(QOp::Layer(l)), Dequant::PerChannel(s))
                if matches!(l.mode, OutputMode::Accumulator) =>
            {
                Some(s)
            }
            _ => None,
        };
        let c = q.shape.get(1).copied().unwrap_or(1).max(1);
        let inner: usize = q.shape.iter().skip(2).product();
        let (mut num, mut den, mut clipped) = (0f64, 0f64, 0usize);
        let (lo, hi) = v.format.range();
        for (i, (&qi, &fi)) in q.data.iter().zip(f.data()).enumerate() {
            let s = per_channel.map_or(v.scale, |s| s[(i / inner.max(1)) % c]);
            let deq = qi as f64 * s as f64;
            num += (deq - fi as f64).powi(2);
            den += (fi as f64).powi(2);
            clipped += (v.format.bits < 32 && (qi as i64 == lo || qi as i64 == hi)) as usize;
        }
        let rel = (num / den.max(1e-30)).sqrt();
        let fmt = format!("{}{}", if v.format.signed { "i" } else { "u" }, v.format.bits);
        let pct = 100.0 * clipped as f64 / q.data.len().max(1) as f64;
        table.row(vec![
            v.name.clone(),
            fmt.clone(),
            format!("{:.3e}", v.scale),
            format!("{rel:.4}"),
            format!("{pct:.2}"),
        ]);
        rows.push(serde_json::json!({"value": v.name, "format": fmt, "scale": v.scale, "rel_error": rel, "clipped_pct": pct}));
    }
    let fl = float.get(&g.outputs[0]).map(argmax).unwrap_or_default();
    let ql = argmax(&hawq_engine::reference::dequantize(
        &qm,
        ints[qm.output].as_ref().expect("output computed"),
    )?);
    let agree = fl.iter().zip(&ql).filter(|(a, b)| a == b).count();
    if ctx.json {
        crate::outln!(
            "{}",
            serde_json::json!({"images": n, "top1_agreement": agree as f64 / n as f64, "values": rows})
        );
    } else {
        crate::output::emit(&table.render());
        crate::outln!(
            "\nrel. error = ‖dequantized integer − float‖ / ‖float‖ over {n} images; top-1 agreement {agree}/{n}"
        );
    }
    Ok(())
}
