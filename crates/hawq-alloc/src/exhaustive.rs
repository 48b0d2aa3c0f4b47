//! The reference solver: enumerate every combination of choices. Exact by construction, used to
//! test the ILP and usable on small networks (ResNet18 has 16 free groups).

use crate::error::{AllocError, Result};
use crate::model::Metric;
use crate::solver::{Problem, Solution, Solver};

/// Enumerates all combinations; refuses more than [`ExhaustiveSolver::MAX_GROUPS`] free groups.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExhaustiveSolver;

impl ExhaustiveSolver {
    /// Largest number of free groups it accepts (2^20 ≈ 1M combinations at two widths).
    pub const MAX_GROUPS: usize = 20;
}

impl Solver for ExhaustiveSolver {
    fn name(&self) -> &'static str {
        "exhaustive"
    }

    fn solve(&self, problem: &Problem<'_>) -> Result<Option<Solution>> {
        let model = problem.model;
        let groups = model.free_groups();
        let n = groups.len();
        if n > Self::MAX_GROUPS {
            return Err(AllocError::TooLarge { groups: n, max: Self::MAX_GROUPS });
        }
        // Metric 0 is the objective, the rest follow `problem.limits`.
        let metrics: Vec<Metric> = std::iter::once(problem.objective)
            .chain(problem.limits.iter().map(|&(m, _)| m))
            .collect();
        // prefix[k][j] = fixed + Σ_{g<j} cost: the same left-to-right sum as `Model::total`, so
        // the totals compared here are bit-equal to those the ILP's answer is checked with.
        let width = n + 1;
        let mut prefix = vec![0.0; metrics.len() * width];
        for (k, &m) in metrics.iter().enumerate() {
            prefix[k * width] = model.fixed_cost(m);
        }
        let mut digits = vec![0usize; n];
        let mut best: Option<(f64, Vec<usize>)> = None;
        let mut changed = 0;
        loop {
            for j in changed..n {
                let cost = &groups[j].choices[digits[j]].cost;
                for (k, &m) in metrics.iter().enumerate() {
                    prefix[k * width + j + 1] = prefix[k * width + j] + cost[m.index()];
                }
            }
            let feasible = problem
                .limits
                .iter()
                .enumerate()
                .all(|(r, &(m, limit))| model.fits(m, prefix[(r + 1) * width + n], limit));
            let value = prefix[n];
            if feasible && best.as_ref().is_none_or(|(b, _)| value < *b) {
                best = Some((value, digits.clone()));
            }
            // Advance the odometer (last group fastest); stop once every digit wrapped.
            let mut j = n;
            loop {
                if j == 0 {
                    return Ok(best.map(|(_, picks)| Solution { picks, optimal: true }));
                }
                j -= 1;
                digits[j] += 1;
                if digits[j] < groups[j].choices.len() {
                    break;
                }
                digits[j] = 0;
            }
            changed = j;
        }
    }
}
