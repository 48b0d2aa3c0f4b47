//! Typed errors of the training engine; each names the node, parameter or file it is about.

use thiserror::Error;

/// Everything that can go wrong while compiling, running or training a graph.
#[derive(Debug, Error)]
pub enum TrainError {
    /// The graph itself is invalid (structure, shapes, parameters).
    #[error(transparent)]
    Ir(#[from] hawq_ir::IrError),
    /// Lowering or running the integer model failed (QAT evaluation and export).
    #[error(transparent)]
    Engine(#[from] hawq_engine::EngineError),
    /// Reading or batching a dataset failed.
    #[error(transparent)]
    Data(#[from] hawq_data::DataError),
    /// The graph uses something the engine does not support.
    #[error("node '{node}' ({op}): {detail}")]
    Unsupported {
        /// Node name.
        node: String,
        /// Op name.
        op: &'static str,
        /// What is unsupported.
        detail: String,
    },
    /// A buffer handed to the engine has the wrong size.
    #[error("{what}: expected {expected} values, got {got}")]
    Size {
        /// Which buffer.
        what: String,
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// A parameter name is unknown to the compiled network.
    #[error("unknown parameter '{name}'")]
    UnknownParam {
        /// The name asked for.
        name: String,
    },
    /// A label is out of range for the logits.
    #[error("label {label} of sample {sample} is not below the {classes} classes")]
    Label {
        /// Offending label.
        label: u32,
        /// Its position in the batch.
        sample: usize,
        /// Number of logits per sample.
        classes: usize,
    },
    /// A setting is invalid.
    #[error("invalid {what}: {detail}")]
    Config {
        /// Which setting.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A checkpoint does not fit the network.
    #[error("checkpoint '{path}': {detail}")]
    Checkpoint {
        /// File.
        path: String,
        /// What does not fit.
        detail: String,
    },
    /// The loss became NaN or infinite.
    #[error("loss is not finite ({loss}) at epoch {epoch}, step {step}")]
    Diverged {
        /// The loss value.
        loss: f64,
        /// Epoch (0-based).
        epoch: usize,
        /// Step within the epoch.
        step: usize,
    },
}

/// Result alias of the training engine.
pub type Result<T> = std::result::Result<T, TrainError>;
