//! Typed errors of the zoo: every variant names the model (and option or parameter) involved.

use thiserror::Error;

/// Why a zoo model could not be built.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ZooError {
    /// The model name is not in [`crate::names`].
    #[error("unknown model '{name}'; valid names: {valid}")]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The valid names, comma separated.
        valid: String,
    },
    /// An option is out of range (zero channels, zero classes, absurd sizes).
    #[error("model '{model}': option {option} = {value} is out of range 1..={max}")]
    InvalidOption {
        /// Model name.
        model: String,
        /// Option field name.
        option: &'static str,
        /// The value given.
        value: usize,
        /// Largest allowed value (the smallest is 1).
        max: usize,
    },
    /// The model cannot run on the requested input (usually: too small for its unpadded
    /// convolutions and pools).
    #[error("model '{model}' does not accept input {channels}x{height}x{width}: {source}")]
    Input {
        /// Model name.
        model: String,
        /// Input channels.
        channels: usize,
        /// Input height.
        height: usize,
        /// Input width.
        width: usize,
        /// The shape-inference failure, naming the node (boxed: it is large and rare).
        source: Box<hawq_ir::IrError>,
    },
    /// A float checkpoint is malformed or unreadable.
    #[error("checkpoint {path}: {detail}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A seeded initializer could not be set up for a parameter (a non-finite bound).
    #[error("parameter '{param}': cannot initialize: {detail}")]
    Init {
        /// Parameter name.
        param: String,
        /// What went wrong.
        detail: String,
    },
}
