//! The solver interface: minimise one metric over the free groups subject to limits on others.

use crate::error::Result;
use crate::model::{Metric, Model};

/// One optimisation over a [`Model`]: minimise `objective` with every `limits` row met.
#[derive(Clone, Debug)]
pub struct Problem<'a> {
    /// The validated table.
    pub model: &'a Model,
    /// What to minimise (the sensitivity, or a resource when diagnosing infeasibility).
    pub objective: Metric,
    /// Upper limits on totals, in base units.
    pub limits: Vec<(Metric, f64)>,
}

impl Problem<'_> {
    /// Whether `picks` meets every limit (checked in f64 with the model's slack).
    pub fn is_feasible(&self, picks: &[usize]) -> bool {
        self.limits.iter().all(|&(m, limit)| self.model.fits(m, self.model.total(m, picks), limit))
    }
}

/// A solver's answer: one choice index per free group.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// `picks[g]` indexes `model.free_groups()[g].choices`.
    pub picks: Vec<usize>,
    /// Whether the solver proved this solution optimal.
    pub optimal: bool,
}

/// A method that solves [`Problem`]s.
pub trait Solver {
    /// Short name for logs and reports.
    fn name(&self) -> &'static str;

    /// Solves `problem`; `Ok(None)` means no choice meets the limits.
    fn solve(&self, problem: &Problem<'_>) -> Result<Option<Solution>>;
}
