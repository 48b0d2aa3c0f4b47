//! # hawq-onnx
//!
//! ONNX in and out for hawq's IR.
//!
//! - [`import_file`] / [`import_bytes`]: an ONNX CNN (default domain, opsets 11..=21) →
//!   [`hawq_ir::Graph`] with its parameters under their initializer names. The integer shape
//!   chains exporters emit around `Reshape` (`Shape → Gather → Unsqueeze → Concat`) are
//!   constant-folded with a symbolic batch; `MatMul` + constant `Add` becomes one `Linear`.
//!   Unsupported ops, attributes and opsets are typed errors naming the node, op type and
//!   opset; nothing is half-imported.
//! - [`export_float`]: the IR back to a standard float ONNX model with a dynamic batch
//!   dimension `N` (used to produce fixtures and to compare against ONNX Runtime).
//! - [`export_qdq`] / [`qdq_model`]: a hawq integer model ([`hawq_engine::QModel`]) as an ONNX
//!   QDQ model (opset 21: `QuantizeLinear`/`DequantizeLinear` around float ops, INT8/INT4
//!   per-channel weights, INT32 biases); the mapping and its numeric differences from hawq's
//!   integer engine are in docs/EXPORT.md.
//!
//! Protobuf bindings are generated from the vendored official `onnx.proto` and checked in
//! ([`pb`]); the build needs no protobuf compiler.
//!
//! ## What is imported
//!
//! | ONNX | IR |
//! |---|---|
//! | `Conv` (2-D; `auto_pad` turned into explicit pads) | [`hawq_ir::Op::Conv2d`] |
//! | `BatchNormalization` (inference) | `BatchNorm` |
//! | `Relu`, `Clip` (constant bounds) | `Relu`, `Clip` |
//! | `Add` of two activations | `Add` |
//! | `Gemm` (`alpha = beta = 1`, `transA = 0`), `MatMul` (+ constant `Add`) | `Linear` (`[out, in]`) |
//! | `MaxPool`, `AveragePool`, `GlobalAveragePool` | `MaxPool`, `AvgPool`, `GlobalAvgPool` |
//! | `Concat` of activations, `Flatten` (axis 1), `Reshape` | `Concat`, `Flatten`, `Reshape` |
//! | `Dropout`, `Identity` | `Dropout`, `Identity` |
//! | `Constant`, `Shape`, `Gather`, `Unsqueeze`, `Squeeze`, `Cast`, `Slice`, `Concat` of integers | folded ([`fold`]) |
//!
//! Tensors must live inside the file (external data is rejected). Weights must be FLOAT, shape
//! tensors INT64/INT32. The first dim of every graph input becomes the dynamic batch.

pub mod error;
mod export;
pub mod fold;
mod import;
pub mod pb;
mod qdq;

mod attrs;
mod ops;
mod tensor_data;

pub use error::{NodeRef, OnnxError, Result};
pub use export::{export_float, float_model};
pub use import::{Imported, OPSET_RANGE, import_bytes, import_file, import_model};
pub use qdq::{QDQ_OPSET, export_qdq, qdq_model};
