//! The float32 reference interpreter: simple, obviously correct kernels (the oracle for ONNX
//! imports and float accuracy) and a graph runner.
//!
//! Every kernel is a free function usable on its own. Each accumulates in f32 in a fixed,
//! documented order, so results are deterministic run to run. Kernels check their operands
//! and return [`crate::IrError::OpInput`]; the graph runner re-labels such errors with the node.

mod buffer;
mod conv;
mod elementwise;
mod layout;
mod linear;
mod pool;
mod run;

pub use conv::conv2d;
pub use elementwise::{add, apply_activation, batch_norm, clip, relu};
pub use layout::{concat, flatten, reshape};
pub use linear::linear;
pub use pool::{avg_pool, global_avg_pool, max_pool};
pub use run::{run, run_all};
