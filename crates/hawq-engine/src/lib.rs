//! # hawq-engine
//!
//! hawq's integer-only model and its single definition of the quantized forward pass:
//! [`qmodel`] (the model: integer ops, per-tensor activation scales, per-channel weights,
//! dyadic requantization), [`lower`] (float IR + calibration ranges + per-layer bits →
//! integer model, with accumulator-overflow proofs), [`reference`] (the scalar reference
//! engine every fast kernel, QAT evaluation and export is tested against), [`fast`] (the
//! SIMD engine, bit-identical to the reference) and [`format`]
//! (the `.hawq` file: safetensors tensors + JSON metadata).

pub mod calibrate;
pub mod error;
pub mod fast;
pub mod format;
pub mod lower;
pub mod qmodel;
pub mod reference;
pub mod validate;

pub use error::{EngineError, Result};
pub use lower::{LowerConfig, Ranges, lower};
pub use qmodel::{QLayer, QModel, QNode, QOp, QValue};
