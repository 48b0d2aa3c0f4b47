//! Pareto sweeps: the best sensitivity for a range of fractional budgets on one resource.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::allocate::{Allocation, allocate_model};
use crate::budget::{Budget, BudgetKind};
use crate::error::Result;
use crate::ilp::IlpSolver;
use crate::model::Model;
use crate::solver::Solver;
use crate::table::LayerTable;

/// One point of a sweep: the budget and the optimal allocation under it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParetoPoint {
    /// The swept resource.
    pub kind: BudgetKind,
    /// The fraction `α`.
    pub alpha: f64,
    /// The budget `α` resolves to, in base units (bytes, BOPs, ms).
    pub budget: f64,
    /// The allocation; its fields appear at the top level of the JSON object.
    #[serde(flatten)]
    pub allocation: Allocation,
}

/// `n` evenly spaced fractions from 0 to 1 (`[0.0]` for `n = 1`, empty for 0).
pub fn alpha_grid(n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![0.0],
        _ => (0..n).map(|i| i as f64 / (n - 1) as f64).collect(),
    }
}

/// Solves `table` with the ILP for each fraction in `alphas` of the `kind` budget.
pub fn pareto(table: &LayerTable, kind: BudgetKind, alphas: &[f64]) -> Result<Vec<ParetoPoint>> {
    pareto_with(table, kind, alphas, &[], &IlpSolver::default())
}

/// Like [`pareto`], with extra fixed budgets on other resources and a chosen solver.
pub fn pareto_with(
    table: &LayerTable,
    kind: BudgetKind,
    alphas: &[f64],
    other_budgets: &[Budget],
    solver: &dyn Solver,
) -> Result<Vec<ParetoPoint>> {
    let model = Model::new(table)?;
    let mut budgets = other_budgets.to_vec();
    budgets.push(Budget::fraction(kind, 0.0));
    let last = budgets.len() - 1;
    alphas
        .iter()
        .map(|&alpha| {
            budgets[last] = Budget::fraction(kind, alpha);
            let budget = model.resolve(&budgets[last])?;
            let allocation = allocate_model(&model, &budgets, solver)?;
            Ok(ParetoPoint { kind, alpha, budget, allocation })
        })
        .collect()
}

/// A markdown table of a sweep: budget, objective, totals and how many layers take each width.
pub fn render_markdown(points: &[ParetoPoint]) -> String {
    let kind = points.first().map_or(BudgetKind::Size, |p| p.kind);
    let mut out = format!(
        "| α | {kind} budget | objective | size (MB) | GBOPs | latency (ms) | widths | optimal |\n\
         |---|---|---|---|---|---|---|---|\n"
    );
    for p in points {
        let a = &p.allocation;
        let latency = a.latency_ms.map_or_else(|| "—".to_string(), |l| format!("{l:.3}"));
        // Writing into a String cannot fail.
        let _ = writeln!(
            out,
            "| {:.3} | {} | {:.6e} | {:.3} | {:.2} | {latency} | {} | {} |",
            p.alpha,
            p.kind.format(p.budget),
            a.objective,
            a.size_bytes / 1e6,
            a.bops / 1e9,
            width_counts(&a.bits),
            if a.optimal { "yes" } else { "no" },
        );
    }
    out
}

/// A sweep as a JSON array of points.
pub fn render_json(points: &[ParetoPoint]) -> Result<String> {
    Ok(serde_json::to_string(points)?)
}

/// "4b×22 8b×30": layers per width.
fn width_counts(bits: &BTreeMap<String, u32>) -> String {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for &b in bits.values() {
        *counts.entry(b).or_default() += 1;
    }
    counts.iter().map(|(b, n)| format!("{b}b×{n}")).collect::<Vec<_>>().join(" ")
}
