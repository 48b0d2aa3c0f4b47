//! The one error type of this crate.

use crate::budget::BudgetKind;

/// Everything that can go wrong while reading a table, parsing a budget or allocating bits.
#[derive(Debug, thiserror::Error)]
pub enum AllocError {
    /// The table is not valid JSON or does not have the expected shape.
    #[error("layer table JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// The table lists no layer at all.
    #[error("the layer table lists no layers")]
    EmptyTable,

    /// Two layers share a name.
    #[error("layer name `{name}` appears more than once in the table")]
    DuplicateLayer {
        /// The repeated name.
        name: String,
    },

    /// A tie names layers the table does not list.
    #[error("tie {tie} names unknown layer(s): {}", names.join(", "))]
    UnknownTieLayer {
        /// Index of the tie in the `tie` list.
        tie: usize,
        /// The unknown names.
        names: Vec<String>,
    },

    /// A tie lists fewer than two layers.
    #[error("tie {tie} must name at least two layers, it names {count}")]
    ShortTie {
        /// Index of the tie in the `tie` list.
        tie: usize,
        /// How many names it has.
        count: usize,
    },

    /// A number in the table is negative, NaN or infinite.
    #[error("layer `{layer}`: {field} is {value}; it must be a finite number >= 0")]
    BadNumber {
        /// The layer.
        layer: String,
        /// Which field (`trace`, `delta[4]`, `latency_ms[8]`, …).
        field: String,
        /// The offending value.
        value: f64,
    },

    /// A layer offers no bit width, or one outside 1..=32.
    #[error("layer `{layer}`: {reason}")]
    BadWidths {
        /// The layer.
        layer: String,
        /// What is wrong with its widths.
        reason: String,
    },

    /// A layer is pinned to a width its `delta` does not offer.
    #[error("layer `{layer}` is pinned to {bits} bits, but it only offers {offered:?}")]
    PinNotOffered {
        /// The layer.
        layer: String,
        /// The pinned width.
        bits: u32,
        /// The widths in its `delta`.
        offered: Vec<u32>,
    },

    /// Tied layers are pinned to different widths.
    #[error(
        "layers `{first}` (pinned to {first_bits} bits) and `{second}` (pinned to {second_bits} bits) are tied and so cannot differ"
    )]
    ContradictoryPins {
        /// One pinned layer.
        first: String,
        /// Its pin.
        first_bits: u32,
        /// Another pinned layer of the same tie group.
        second: String,
        /// Its pin.
        second_bits: u32,
    },

    /// Tied layers have no width in common (or the common widths exclude the group's pin).
    #[error("tied layers {} have no bit width in common{}", layers.join(", "), pin.map(|b| format!(" with their pin of {b} bits")).unwrap_or_default())]
    NoCommonWidth {
        /// The layers of the tie group.
        layers: Vec<String>,
        /// The group's pin, if it has one.
        pin: Option<u32>,
    },

    /// A latency budget was asked for, but some layers carry no latency table.
    #[error("a latency budget needs `latency_ms` on every layer; it is missing on: {}", layers.join(", "))]
    MissingLatency {
        /// Layers without `latency_ms`.
        layers: Vec<String>,
    },

    /// A budget string could not be parsed.
    #[error("{kind} budget `{input}`: {reason}")]
    BudgetSyntax {
        /// Which budget.
        kind: BudgetKind,
        /// The text given.
        input: String,
        /// What is wrong, including the accepted units.
        reason: String,
    },

    /// The same budget kind was given twice.
    #[error("the {kind} budget is given more than once")]
    DuplicateBudget {
        /// Which budget.
        kind: BudgetKind,
    },

    /// No allocation meets the budgets.
    #[error(
        "{kind} budget {limit} is infeasible; the smallest achievable {kind} is {min}{}",
        if *given_other_budgets { " under the other budgets" } else { "" }
    )]
    Infeasible {
        /// The budget that cannot be met.
        kind: BudgetKind,
        /// The budget, formatted with its unit.
        limit: String,
        /// The smallest value of that resource, formatted with the same unit.
        min: String,
        /// The budget in base units (bytes, BOPs, ms).
        limit_value: f64,
        /// The smallest achievable value in base units.
        min_value: f64,
        /// Whether `min` respects the other budgets (false when they are infeasible too).
        given_other_budgets: bool,
    },

    /// Each budget can be met on its own, but no set of all but one of them can.
    #[error("the budgets {} cannot be met together, although each can be met alone", kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "))]
    JointlyInfeasible {
        /// The budgets given.
        kinds: Vec<BudgetKind>,
    },

    /// The exhaustive solver was given more free choices than it enumerates.
    #[error(
        "the exhaustive solver handles at most {max} free layer groups, this problem has {groups}"
    )]
    TooLarge {
        /// Free groups after ties and pins.
        groups: usize,
        /// The limit.
        max: usize,
    },

    /// The ILP backend failed for a reason other than infeasibility.
    #[error("ILP solver: {0}")]
    Solver(String),

    /// Drawing a plot failed.
    #[error("plot: {0}")]
    Plot(String),
}

/// This crate's result type.
pub type Result<T, E = AllocError> = std::result::Result<T, E>;
