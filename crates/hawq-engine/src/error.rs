//! Typed errors of the integer engine, its lowering and the `.hawq` file.

use thiserror::Error;

/// Everything that can go wrong building, loading or running an integer model.
#[allow(missing_docs)] // each variant's message describes its fields
#[derive(Debug, Error)]
pub enum EngineError {
    /// The float graph is malformed.
    #[error(transparent)]
    Ir(#[from] hawq_ir::IrError),
    /// A quantizer refused its input.
    #[error("layer '{layer}': {source}")]
    Quant { layer: String, source: hawq_quant::QuantError },
    /// A scale ratio cannot be represented as a dyadic number.
    #[error("node '{node}': {source}")]
    Dyadic { node: String, source: hawq_quant::BadRatio },
    /// The float graph uses an op the integer engine cannot run (no silent float fallback).
    #[error("node '{node}' ({op}): not supported by the integer engine: {why}")]
    Unsupported { node: String, op: &'static str, why: String },
    /// No calibration range was collected for a value that needs a scale.
    #[error("value '{value}' has no calibration range (was calibration run on this graph?)")]
    MissingRange { value: String },
    /// A bit width that the engine does not support.
    #[error("layer '{layer}': unsupported bit width {bits} (supported: 4, 8)")]
    Bits { layer: String, bits: u32 },
    /// int32 accumulation could overflow for this layer.
    #[error(
        "layer '{layer}': int32 accumulator could overflow (bound {bound} > 2^31-1 for K = {k})"
    )]
    AccumulatorOverflow { layer: String, k: usize, bound: i128 },
    /// The input tensor does not fit the model.
    #[error("input: expected shape {expected}, got {got:?}")]
    InputShape { expected: String, got: Vec<usize> },
    /// The input contains NaN or infinity.
    #[error("input contains a non-finite value at flat index {index}")]
    NonFiniteInput { index: usize },
    /// An integer model is internally inconsistent.
    #[error("node '{node}': invalid model: {detail}")]
    InvalidModel { node: String, detail: String },
    /// A `.hawq` file is malformed.
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
    /// A compute kernel refused a call (a fast-engine plan that does not fit the kernels).
    #[error("node '{node}': kernel: {source}")]
    Kernel { node: String, source: hawq_kernels::KernelError },
    /// The fast engine could not start its worker threads.
    #[error("cannot start {threads} worker threads: {detail}")]
    Threads { threads: usize, detail: String },
    /// I/O failure.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Result alias of the engine crate.
pub type Result<T> = std::result::Result<T, EngineError>;
