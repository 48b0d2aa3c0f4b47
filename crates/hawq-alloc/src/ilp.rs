//! The production solver: a 0/1 integer program solved with `good_lp` over the pure-Rust
//! `microlp` backend.
//!
//! Variables: one binary `x[g][w]` per free group and candidate width, with `Σ_w x[g][w] = 1`.
//! Objective and budget rows are written relative to each group's cheapest choice and divided by
//! the metric's largest achievable total, so every coefficient lies in [0, 1] whatever the units
//! (bytes, 1e11 BOPs, 1e-6 sensitivities). The answer is re-checked in f64 against the exact
//! budgets; a row the solver's tolerances let slip is tightened and the problem solved again.

use good_lp::solvers::microlp::microlp;
use good_lp::{
    Expression, ProblemVariables, ResolutionError, Solution as _, SolutionStatus, SolverModel,
    Variable, WithTimeLimit, variable,
};

use crate::error::{AllocError, Result};
use crate::model::{Metric, Model, REL_TOL};
use crate::solver::{Problem, Solution, Solver};

/// How many times a solution that breaks a budget (by solver tolerance) is re-solved.
const MAX_TIGHTENINGS: usize = 4;

/// Branch-and-bound ILP through `good_lp` + `microlp`.
#[derive(Clone, Copy, Debug, Default)]
pub struct IlpSolver {
    /// Wall-clock limit in seconds; on expiry the best solution found so far is returned with
    /// `optimal = false`. `None` runs to proven optimality.
    pub time_limit_s: Option<f64>,
}

impl Solver for IlpSolver {
    fn name(&self) -> &'static str {
        "ilp-microlp"
    }

    fn solve(&self, problem: &Problem<'_>) -> Result<Option<Solution>> {
        let model = problem.model;
        if model.free_groups().is_empty() {
            return Ok(problem
                .is_feasible(&[])
                .then(|| Solution { picks: Vec::new(), optimal: true }));
        }
        let mut tightening = vec![0.0; problem.limits.len()];
        for attempt in 0..=MAX_TIGHTENINGS {
            let Some((picks, proven)) = self.solve_once(problem, &tightening)? else {
                return Ok(None);
            };
            let mut all_fit = true;
            for (r, &(m, limit)) in problem.limits.iter().enumerate() {
                let total = model.total(m, &picks);
                if !model.fits(m, total, limit) {
                    all_fit = false;
                    // Push the row's right-hand side below this solution's value.
                    tightening[r] += (total - limit) / model.scale(m) + REL_TOL;
                }
            }
            if all_fit {
                // A tightened row may have cut off a better feasible point: no proof then.
                return Ok(Some(Solution { picks, optimal: proven && attempt == 0 }));
            }
        }
        Err(AllocError::Solver(format!(
            "the solution still broke a budget after {MAX_TIGHTENINGS} tightenings"
        )))
    }
}

impl IlpSolver {
    /// Builds and solves the program once; `tightening[r]` is subtracted from row `r`'s
    /// normalised right-hand side. Returns the picks and whether optimality was proven.
    fn solve_once(
        &self,
        problem: &Problem<'_>,
        tightening: &[f64],
    ) -> Result<Option<(Vec<usize>, bool)>> {
        let model = problem.model;
        let groups = model.free_groups();
        let mut vars = ProblemVariables::new();
        let x: Vec<Vec<Variable>> = groups
            .iter()
            .map(|g| g.choices.iter().map(|_| vars.add(variable().binary())).collect())
            .collect();

        let objective = normalised_row(model, problem.objective, &x).0;
        let mut lp = vars.minimise(objective).using(microlp);
        if let Some(seconds) = self.time_limit_s {
            lp = lp.with_time_limit(seconds);
        }
        for xs in &x {
            let mut one = Expression::with_capacity(xs.len());
            for &v in xs {
                one.add_mul(1.0, v);
            }
            lp.add_constraint(one.eq(1.0));
        }
        for (r, &(m, limit)) in problem.limits.iter().enumerate() {
            let (row, base) = normalised_row(model, m, &x);
            let rhs = (limit - base) / model.scale(m) + REL_TOL - tightening[r];
            lp.add_constraint(row.leq(rhs));
        }
        let solved = match lp.solve() {
            Ok(s) => s,
            Err(ResolutionError::Infeasible) => return Ok(None),
            Err(e) => return Err(AllocError::Solver(e.to_string())),
        };
        let picks = x
            .iter()
            .map(|xs| {
                // The group's binary closest to 1 (the solver returns values within its
                // integrality tolerance of 0 or 1).
                let values = xs.iter().map(|&v| solved.value(v));
                values
                    .enumerate()
                    .fold((0, f64::NEG_INFINITY), |b, (i, v)| if v > b.1 { (i, v) } else { b })
                    .0
            })
            .collect();
        Ok(Some((picks, matches!(solved.status(), SolutionStatus::Optimal))))
    }
}

/// `Σ_g Σ_w (cost[g][w] − min_w cost[g]) / scale · x[g][w]` for `metric`, and the constant the
/// shift removed (fixed cost plus every group's minimum), in base units.
fn normalised_row(model: &Model, metric: Metric, x: &[Vec<Variable>]) -> (Expression, f64) {
    let m = metric.index();
    let scale = model.scale(metric);
    let mut row = Expression::with_capacity(x.iter().map(Vec::len).sum());
    let mut base = model.fixed_cost(metric);
    for (g, xs) in model.free_groups().iter().zip(x) {
        let min = g.choices.iter().map(|c| c.cost[m]).fold(f64::INFINITY, f64::min);
        base += min;
        for (c, &v) in g.choices.iter().zip(xs) {
            let coef = (c.cost[m] - min) / scale;
            if coef != 0.0 {
                row.add_mul(coef, v);
            }
        }
    }
    (row, base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::{Budget, BudgetKind};
    use crate::exhaustive::ExhaustiveSolver;
    use crate::table::{Layer, LayerTable};
    use crate::{allocate_model, resolve_budgets};

    /// Ill-scaled on purpose: sensitivities near 1e-12, BOPs near 1e15.
    fn table(widths: &[u32]) -> LayerTable {
        let layers = (0..12u64)
            .map(|i| Layer {
                name: format!("l{i}"),
                params: 1_000 + 7_919 * i * i,
                macs: 3_000_000_000 + 1_000_003 * i,
                trace: 1e-9 * (1.0 + (i % 5) as f64),
                delta: widths
                    .iter()
                    .map(|&b| (b, 1e-3 / f64::from(b * b) * (1.0 + (i % 3) as f64)))
                    .collect(),
                latency_ms: Some(
                    widths
                        .iter()
                        .map(|&b| (b, 0.1 + 0.01 * f64::from(b) * (i % 4) as f64))
                        .collect(),
                ),
                pin: None,
                trace_stderr: None,
                method: None,
            })
            .collect();
        LayerTable { layers, tie: Vec::new() }
    }

    #[test]
    fn budgets_at_the_extremes_are_feasible() {
        let t = table(&[4, 8]);
        let m = Model::new(&t).unwrap();
        for kind in BudgetKind::ALL {
            let low =
                allocate_model(&m, &[Budget::fraction(kind, 0.0)], &IlpSolver::default()).unwrap();
            assert!(low.optimal);
            let high =
                allocate_model(&m, &[Budget::fraction(kind, 1.0)], &IlpSolver::default()).unwrap();
            assert!(high.bits.values().all(|&b| b == 8), "{kind}: {:?}", high.bits);
        }
        // All-4-bit is the only allocation at α = 0 for size.
        let low =
            allocate_model(&m, &[Budget::fraction(BudgetKind::Size, 0.0)], &IlpSolver::default())
                .unwrap();
        assert!(low.bits.values().all(|&b| b == 4));
    }

    #[test]
    fn three_widths_match_the_oracle() {
        let t = table(&[2, 4, 8]);
        let m = Model::new(&t).unwrap();
        for alpha in [0.1, 0.37, 0.5, 0.8] {
            let budgets = [
                Budget::fraction(BudgetKind::Bops, alpha),
                Budget::fraction(BudgetKind::Size, 0.6),
            ];
            let limits = resolve_budgets(&m, &budgets).unwrap();
            let p = Problem { model: &m, objective: Metric::Omega, limits };
            let ilp = IlpSolver::default().solve(&p).unwrap().unwrap();
            let exact = ExhaustiveSolver.solve(&p).unwrap().unwrap();
            let (a, b) = (m.total(Metric::Omega, &ilp.picks), m.total(Metric::Omega, &exact.picks));
            assert!((a - b).abs() <= 1e-9 * b, "α = {alpha}: {a} vs {b}");
            assert!(p.is_feasible(&ilp.picks) && ilp.optimal);
            // A tight BOPs budget must use the extra low width.
            if alpha < 0.2 {
                assert!(m.bits(&ilp.picks).values().any(|&b| b == 2));
            }
        }
    }
}
