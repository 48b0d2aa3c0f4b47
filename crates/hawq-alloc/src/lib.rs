//! # hawq-alloc
//!
//! HAWQ-V3's bit allocation (spec §5): choose a bit width per weight layer to minimise the total
//! Hessian-weighted perturbation `Σ_i Ω_i(b_i)`, `Ω_i(b) = trace_i · delta_i(b)`, under any mix
//! of budgets on model size (`Σ params·b/8` bytes), bit operations (`Σ MACs·b²`) and latency
//! (`Σ latency_ms[b]`), with tied layers sharing a width and pinned layers fixed.
//!
//! The input is a plain [`LayerTable`] (JSON), so this crate depends on no other hawq crate.
//! Each tie group is one decision over a list of candidate widths, so widths other than 4 and 8
//! only need new table entries. Two [`Solver`]s: [`IlpSolver`] (good_lp + microlp, the default)
//! and [`ExhaustiveSolver`] (the test oracle, ≤ 20 free groups).
//! [`pareto`] sweeps one budget's fraction; [`render_svg`] draws the fronts as an SVG plot.
//!
//! ```
//! use hawq_alloc::{allocate, parse_budget, BudgetKind, LayerTable};
//!
//! let table = LayerTable::from_json(r#"{"layers":[
//!   {"name":"a","params":1000,"macs":1000000,"trace":2.0,"delta":{"4":1.0,"8":0.01}},
//!   {"name":"b","params":3000,"macs":1000000,"trace":0.1,"delta":{"4":1.0,"8":0.01}}]}"#)?;
//! // All-4-bit is 2000 bytes, all-8-bit 4000: 2.6 kB leaves room for `a` only.
//! let budget = parse_budget(BudgetKind::Size, "2.6kB")?;
//! let alloc = allocate(&table, &[budget])?;
//! assert_eq!(alloc.bits["a"], 8);
//! assert_eq!(alloc.bits["b"], 4);
//! assert!(alloc.optimal);
//! # Ok::<(), hawq_alloc::AllocError>(())
//! ```

pub mod allocate;
pub mod budget;
pub mod error;
pub mod exhaustive;
pub mod ilp;
pub mod model;
pub mod pareto;
pub mod plot;
pub mod solver;
pub mod table;

pub use allocate::{Allocation, allocate, allocate_model, allocate_with, resolve_budgets};
pub use budget::{Budget, BudgetKind, Limit, parse_budget};
pub use error::{AllocError, Result};
pub use exhaustive::ExhaustiveSolver;
pub use ilp::IlpSolver;
pub use model::{Choice, Group, Metric, Model, REL_TOL};
pub use pareto::{ParetoPoint, alpha_grid, pareto, pareto_with, render_json, render_markdown};
pub use plot::render_svg;
pub use solver::{Problem, Solution, Solver};
pub use table::{Layer, LayerTable};
