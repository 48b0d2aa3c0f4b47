//! Typed errors of the IR: every variant names the node (and op) it is about.

use thiserror::Error;

/// Everything that can be wrong with a graph, a tensor or a weight file.
#[allow(missing_docs)] // each variant's message describes its fields
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IrError {
    /// A node reads a value that no node produces and that is not a graph input.
    #[error(
        "node '{node}' ({op}): input '{value}' is produced by no node and is not a graph input"
    )]
    DanglingInput { node: String, op: &'static str, value: String },
    /// A graph output names a value nobody produces.
    #[error("graph output '{value}' is produced by no node and is not a graph input")]
    DanglingOutput { value: String },
    /// Two producers for one value name.
    #[error("value '{value}' is produced twice (by '{first}' and '{second}')")]
    DuplicateValue { value: String, first: String, second: String },
    /// The graph has a cycle through the listed nodes.
    #[error("graph has a cycle through nodes: {nodes:?}")]
    Cycle { nodes: Vec<String> },
    /// An op got the wrong number of inputs.
    #[error("node '{node}' ({op}): expects {expected} input(s), got {got}")]
    Arity { node: String, op: &'static str, expected: String, got: usize },
    /// A parameter tensor named by an op is missing from the graph's parameters.
    #[error("node '{node}' ({op}): parameter '{param}' is missing")]
    MissingParam { node: String, op: &'static str, param: String },
    /// Shapes do not fit the op's rule.
    #[error("node '{node}' ({op}): {detail}")]
    Shape { node: String, op: &'static str, detail: String },
    /// An op attribute is invalid (zero stride, bad groups, ...).
    #[error("node '{node}' ({op}): invalid attribute: {detail}")]
    Attribute { node: String, op: &'static str, detail: String },
    /// A tensor was constructed with data whose length does not fit its shape.
    #[error("tensor '{name}': shape {shape:?} needs {expected} elements, data has {got}")]
    TensorData { name: String, shape: Vec<usize>, expected: usize, got: usize },
    /// A graph input was fed a tensor of the wrong shape.
    #[error("graph input '{input}': expected shape {expected}, got {got:?}")]
    InputShape { input: String, expected: String, got: Vec<usize> },
    /// The interpreter was fed the wrong number of graph inputs.
    #[error("graph expects {expected} input tensor(s), got {got}")]
    InputCount { expected: usize, got: usize },
    /// A kernel called directly (outside a graph) got operands that do not fit its op.
    #[error("{op}: {detail}")]
    OpInput { op: &'static str, detail: String },
    /// A weight file could not be read or written.
    #[error("weights '{path}': {detail}")]
    Weights { path: String, detail: String },
}

/// Result alias of the IR crate.
pub type Result<T> = std::result::Result<T, IrError>;
