//! Allocation: solve a table under budgets, and explain infeasible budgets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::budget::{Budget, BudgetKind};
use crate::error::{AllocError, Result};
use crate::ilp::IlpSolver;
use crate::model::{Metric, Model};
use crate::solver::{Problem, Solution, Solver};
use crate::table::LayerTable;

/// A bit width per layer and the totals it reaches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    /// Layer name → bit width (every layer, pinned ones included).
    pub bits: BTreeMap<String, u32>,
    /// Total sensitivity `Σ Ω_i(b_i)`.
    pub objective: f64,
    /// Weight storage in bytes.
    pub size_bytes: f64,
    /// Bit operations `Σ MACs · b²`.
    pub bops: f64,
    /// Summed latency in ms; `None` (JSON `null`) when the table has no latencies.
    pub latency_ms: Option<f64>,
    /// Whether the solver proved the allocation optimal.
    pub optimal: bool,
}

impl Allocation {
    /// Builds the allocation for a solver's picks.
    pub fn from_solution(model: &Model, solution: &Solution) -> Allocation {
        let picks = &solution.picks;
        Allocation {
            bits: model.bits(picks),
            objective: model.total(Metric::Omega, picks),
            size_bytes: model.total(Metric::Size, picks),
            bops: model.total(Metric::Bops, picks),
            latency_ms: model.has_latency().then(|| model.total(Metric::Latency, picks)),
            optimal: solution.optimal,
        }
    }

    /// The `--json` form: `{"bits":{…},"objective":…,"size_bytes":…,"bops":…,"latency_ms":…,"optimal":…}`.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Reads the `--json` form back.
    pub fn from_json(text: &str) -> Result<Allocation> {
        Ok(serde_json::from_str(text)?)
    }
}

/// Minimises the total sensitivity under `budgets` with the ILP solver.
pub fn allocate(table: &LayerTable, budgets: &[Budget]) -> Result<Allocation> {
    allocate_with(table, budgets, &IlpSolver::default())
}

/// Like [`allocate`], with a chosen solver.
pub fn allocate_with(
    table: &LayerTable,
    budgets: &[Budget],
    solver: &dyn Solver,
) -> Result<Allocation> {
    allocate_model(&Model::new(table)?, budgets, solver)
}

/// Like [`allocate_with`], on an already validated model (saves re-validation in sweeps).
pub fn allocate_model(
    model: &Model,
    budgets: &[Budget],
    solver: &dyn Solver,
) -> Result<Allocation> {
    let limits = resolve_budgets(model, budgets)?;
    let problem = Problem { model, objective: Metric::Omega, limits: limits.clone() };
    match solver.solve(&problem)? {
        Some(solution) => Ok(Allocation::from_solution(model, &solution)),
        None => Err(explain_infeasible(model, budgets, &limits, solver)),
    }
}

/// Resolves each budget to an absolute limit; a kind may appear once.
pub fn resolve_budgets(model: &Model, budgets: &[Budget]) -> Result<Vec<(Metric, f64)>> {
    let mut out = Vec::with_capacity(budgets.len());
    for (i, b) in budgets.iter().enumerate() {
        if budgets[..i].iter().any(|o| o.kind == b.kind) {
            return Err(AllocError::DuplicateBudget { kind: b.kind });
        }
        out.push((Metric::of(b.kind), model.resolve(b)?));
    }
    Ok(out)
}

/// Finds a budget that cannot be met and the smallest value its resource can reach: first under
/// the other budgets, then (when the others are themselves infeasible) under ties and pins only.
fn explain_infeasible(
    model: &Model,
    budgets: &[Budget],
    limits: &[(Metric, f64)],
    solver: &dyn Solver,
) -> AllocError {
    let error = |kind: BudgetKind, limit: f64, min: f64, given_other_budgets| {
        let (limit_text, min_text) = kind.format_pair(limit, min);
        AllocError::Infeasible {
            kind,
            limit: limit_text,
            min: min_text,
            limit_value: limit,
            min_value: min,
            given_other_budgets,
        }
    };
    for with_others in [true, false] {
        for (i, (budget, &(metric, limit))) in budgets.iter().zip(limits).enumerate() {
            let others: Vec<(Metric, f64)> = if with_others {
                limits.iter().enumerate().filter(|&(j, _)| j != i).map(|(_, &l)| l).collect()
            } else {
                Vec::new()
            };
            let problem = Problem { model, objective: metric, limits: others };
            match solver.solve(&problem) {
                Ok(Some(solution)) => {
                    let min = model.total(metric, &solution.picks);
                    if !model.fits(metric, min, limit) {
                        return error(budget.kind, limit, min, !problem.limits.is_empty());
                    }
                    if with_others {
                        return AllocError::Solver(format!(
                            "reported the budgets infeasible, yet minimising {} under the others meets them all",
                            budget.kind
                        ));
                    }
                }
                Ok(None) => {}
                Err(e) => return e,
            }
        }
    }
    AllocError::JointlyInfeasible { kinds: budgets.iter().map(|b| b.kind).collect() }
}
