//! # hawq-quant
//!
//! The quantization math of HAWQ-V3, pure and exhaustively tested: rounding policies, dyadic
//! numbers (`m / 2^e`), symmetric per-channel weight quantizers, per-tensor activation
//! quantizers and range observers, and accumulator-overflow bounds. Every other crate (the
//! integer engine, the SIMD kernels, QAT, export) takes its numeric rules from here.

pub mod dyadic;
pub mod quantizer;
pub mod rounding;

pub use dyadic::{BadRatio, Dyadic};
pub use quantizer::{ActFormat, QuantError, QuantizedWeights, quantize_bias, quantize_weights};
pub use rounding::Rounding;
