//! `hawq allocate`: ILP bit allocation over a sensitivity table.

use crate::output::{Context, Table};
use anyhow::{Context as _, Result, bail};
use hawq_alloc::{
    Budget, BudgetKind, LayerTable, allocate, alpha_grid, pareto, parse_budget, render_markdown,
    render_svg,
};
use std::path::Path;

/// Parses the `--size`, `--bops`, `--latency` options (in that order) that were given.
pub fn parse_budgets(budgets: &[Option<String>; 3]) -> Result<Vec<Budget>> {
    BudgetKind::ALL
        .iter()
        .zip(budgets)
        .filter_map(|(k, b)| b.as_ref().map(|b| (k, b)))
        .map(|(&k, b)| {
            parse_budget(k, b).with_context(|| format!("--{} {b}", k.to_string().to_lowercase()))
        })
        .collect()
}

/// Runs the command: budgets in the order size, BOPs, latency; `plot` writes the swept
/// fronts as SVG.
pub fn run(
    table: &Path,
    budgets: [Option<String>; 3],
    sweep: Option<usize>,
    plot: Option<&Path>,
    ctx: &Context,
) -> Result<()> {
    // Size capped by HAWQ_MAX_FILE_BYTES, like every other input file.
    let bytes = hawq_ir::limits::Limits::from_env()?.read_file(table)?;
    let text = String::from_utf8(bytes)
        .with_context(|| format!("{}: allocation table is not UTF-8", table.display()))?;
    let t = LayerTable::from_json(&text)
        .with_context(|| format!("{}: invalid allocation table", table.display()))?;
    let parsed = parse_budgets(&budgets)?;
    if parsed.is_empty() && sweep.is_none() {
        bail!("give at least one budget (--size, --bops, --latency) or --pareto N");
    }
    if let Some(n) = sweep {
        let kinds: Vec<BudgetKind> = BudgetKind::ALL
            .into_iter()
            .filter(|k| {
                *k != BudgetKind::Latency || t.layers.iter().all(|l| l.latency_ms.is_some())
            })
            .collect();
        let mut fronts = Vec::new();
        let mut swept = Vec::new();
        for k in kinds {
            let points = pareto(&t, k, &alpha_grid(n))?;
            if !ctx.json {
                crate::outln!("Pareto front, {k} budget:\n{}", render_markdown(&points));
            }
            fronts.push(serde_json::json!({"budget": k.to_string(), "points": points}));
            swept.push(points);
        }
        if ctx.json {
            crate::outln!("{}", serde_json::to_string_pretty(&fronts)?);
        }
        if let Some(path) = plot {
            std::fs::write(path, render_svg(&swept)?)
                .with_context(|| format!("writing {}", path.display()))?;
            ctx.note(format!("wrote the Pareto plot {}", path.display()));
        }
        if parsed.is_empty() {
            return Ok(());
        }
    }
    let a = allocate(&t, &parsed)?;
    if ctx.json {
        crate::outln!("{}", a.to_json()?);
        return Ok(());
    }
    let mut table = Table::new(&["layer", "bits", "params", "Ω(chosen)"]);
    for l in &t.layers {
        let b = a.bits.get(&l.name).copied().unwrap_or(0);
        let omega = l.omega(b).unwrap_or(f64::NAN);
        table.row(vec![
            l.name.clone(),
            b.to_string(),
            l.params.to_string(),
            format!("{omega:.4e}"),
        ]);
    }
    crate::output::emit(&table.render());
    let lat = a.latency_ms.map_or(String::new(), |l| format!(", latency {l:.3} ms"));
    crate::outln!(
        "\nobjective Σ Ω = {:.6e}, size {:.3} MB, {:.3} GBOPs{lat}, {}",
        a.objective,
        a.size_bytes / 1e6,
        a.bops / 1e9,
        if a.optimal { "proven optimal" } else { "NOT proven optimal" }
    );
    Ok(())
}
