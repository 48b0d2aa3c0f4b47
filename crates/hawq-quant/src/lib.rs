//! # hawq-quant
//!
//! The quantization math of HAWQ-V3, pure and exhaustively tested: rounding policies, dyadic
//! numbers (`m / 2^e`), symmetric per-channel weight quantizers, per-tensor activation
//! quantizers and range observers, and accumulator-overflow bounds. Every other crate (the
//! integer engine, the SIMD kernels, QAT, export) takes its numeric rules from here; the rules
//! are written out in `docs/NUMERICS.md`.

pub mod accumulator;
pub mod dyadic;
pub mod observer;
pub mod quantizer;
pub mod rounding;
mod select;

pub use accumulator::{
    AccRange, AccumulatorError, channel_bound, channel_range, check_accumulator,
    check_generic_accumulator, generic_bound, generic_range, residual_add, residual_range,
};
pub use dyadic::{BadRatio, Dyadic};
pub use observer::{DEFAULT_MOMENTUM, ObserverKind, RangeObserver, activation_percentile_ranks};
pub use quantizer::{
    ActFormat, QuantError, QuantizedWeights, quantize_bias, quantize_weights,
    quantize_weights_percentile, weight_percentile_ranks,
};
pub use rounding::Rounding;
