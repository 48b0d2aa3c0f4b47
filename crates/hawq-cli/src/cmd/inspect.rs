//! `hawq inspect`: the per-layer table of a float or integer model.

use crate::args::ModelArgs;
use crate::model::{self, Loaded};
use crate::output::{Context, Table, si};
use anyhow::Result;
use hawq_engine::QModel;
use hawq_engine::qmodel::{OutputMode, QOp};
use hawq_ir::Graph;
use hawq_ir::counters::{bops, count_layers, totals};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// Runs the command.
pub fn run(args: &ModelArgs, bits: Option<&Path>, ctx: &Context) -> Result<()> {
    let bits = bits.map(super::read_bits_config).transpose()?;
    match model::load(args)? {
        Loaded::Float(g) => float_table(&g, &args.model, bits.as_ref(), ctx),
        Loaded::Int(m) => int_table(&m, &args.model, ctx),
    }
}

fn float_table(
    g: &Graph,
    name: &str,
    bits: Option<&HashMap<String, u32>>,
    ctx: &Context,
) -> Result<()> {
    let layers = count_layers(g)?;
    let t = totals(&layers);
    let mut table = Table::new(&["layer", "op", "output", "params", "MACs", "bits", "GBOPs"]);
    let mut rows = Vec::new();
    let mut total_bops = 0u64;
    let mut size_bits = 0u64;
    for l in layers.iter().filter(|l| l.weight.is_some()) {
        let w = l.weight.clone().unwrap_or_default();
        let b = bits.map_or(32, |m| m.get(&w).copied().unwrap_or(8));
        let lb = bops(l.macs, b, b);
        total_bops += lb;
        size_bits += l.weight_params * b as u64;
        table.row(vec![
            w.clone(),
            l.op.to_string(),
            format!("{:?}", l.out_shape),
            l.params.to_string(),
            l.macs.to_string(),
            b.to_string(),
            format!("{:.3}", lb as f64 / 1e9),
        ]);
        rows.push(json!({"layer": w, "node": l.node, "op": l.op, "output": l.out_shape, "params": l.params,
                         "weight_params": l.weight_params, "macs": l.macs, "bits": b, "bops": lb}));
    }
    let size_mb = size_bits as f64 / 8.0 / 1e6;
    if ctx.json {
        let out = json!({"model": name, "layers": rows, "total_params": t.params, "weight_params": t.weight_params,
                         "total_macs": t.macs, "total_bops": total_bops, "weight_size_mb": size_mb});
        crate::outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        crate::output::emit(&table.render());
        crate::outln!(
            "\n{name}: {} parameters ({} in conv/linear weights), {} MACs, {} BOPs, weights {:.2} MB at {}",
            si(t.params as f64),
            si(t.weight_params as f64),
            si(t.macs as f64),
            si(total_bops as f64),
            size_mb,
            if bits.is_some() { "the given bits" } else { "fp32" }
        );
    }
    Ok(())
}

fn int_table(m: &QModel, name: &str, ctx: &Context) -> Result<()> {
    let mut table = Table::new(&[
        "layer", "op", "bits", "in", "out", "kernel", "MACs", "GBOPs", "shift", "out fmt",
    ]);
    let mut rows = Vec::new();
    let (mut total_macs, mut total_bops, mut size_bits) = (0u64, 0u64, 0u64);
    for node in &m.nodes {
        let QOp::Layer(l) = &node.op else { continue };
        let out = &m.values[node.output];
        let spatial: usize = out.shape.dims().iter().skip(2).filter_map(|d| d.fixed()).product();
        let macs = (l.geom.out_channels * l.geom.reduction() * spatial) as u64;
        let b = bops(macs, l.bits, l.bits);
        total_macs += macs;
        total_bops += b;
        size_bits += l.weights.len() as u64 * l.bits as u64;
        let (shift_lo, shift_hi) = match &l.mode {
            OutputMode::Requantize { requant, .. } => (
                requant.iter().map(|d| d.shift).min().unwrap_or(0),
                requant.iter().map(|d| d.shift).max().unwrap_or(0),
            ),
            OutputMode::Accumulator => (0, 0),
        };
        let fmt = format!("{}{}", if out.format.signed { "i" } else { "u" }, out.format.bits);
        table.row(vec![
            l.name.clone(),
            node.op.name().to_string(),
            l.bits.to_string(),
            l.geom.in_channels.to_string(),
            l.geom.out_channels.to_string(),
            format!("{}x{}", l.geom.kernel[0], l.geom.kernel[1]),
            macs.to_string(),
            format!("{:.3}", b as f64 / 1e9),
            if shift_hi == 0 { "acc".into() } else { format!("{shift_lo}..{shift_hi}") },
            fmt.clone(),
        ]);
        rows.push(json!({"layer": l.name, "op": node.op.name(), "bits": l.bits, "macs": macs, "bops": b,
                         "in_channels": l.geom.in_channels, "out_channels": l.geom.out_channels,
                         "kernel": l.geom.kernel, "w_scales": l.w_scales, "s_in": l.s_in, "mode": l.mode,
                         "output_format": fmt}));
    }
    let size_mb = size_bits as f64 / 8.0 / 1e6;
    if ctx.json {
        let out = json!({"model": name, "layers": rows, "total_macs": total_macs, "total_bops": total_bops,
                         "weight_size_mb": size_mb, "nodes": m.nodes.len()});
        crate::outln!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        crate::output::emit(&table.render());
        crate::outln!(
            "\n{name}: {} integer ops, {} MACs, {} BOPs, weights {:.3} MB (packed), output dequantized {}",
            m.nodes.len(),
            si(total_macs as f64),
            si(total_bops as f64),
            size_mb,
            match m.dequant {
                hawq_engine::qmodel::Dequant::PerChannel(_) => "per channel",
                hawq_engine::qmodel::Dequant::PerTensor => "per tensor",
            }
        );
    }
    Ok(())
}
