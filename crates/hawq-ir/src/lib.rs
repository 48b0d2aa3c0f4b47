//! # hawq-ir
//!
//! The typed graph IR every stage of hawq shares: a closed [`Op`] enum with one config struct
//! per op, symbolic shapes with a dynamic batch dimension, structural validation with a
//! topological order, shape inference whose errors name the node, rewrite passes, per-layer
//! counters, safetensors weights and a float32 reference interpreter (the oracle for imports
//! and float accuracy).

pub mod counters;
pub mod error;
pub mod graph;
pub mod infer;
pub mod interp;
pub mod limits;
pub mod op;
pub mod passes;
pub mod shape;
pub mod tensor;
pub mod weights;

pub use error::{IrError, Result};
pub use graph::{Graph, Node, ValueInfo};
pub use op::{Activation, AvgPool, BatchNorm, Conv2d, Linear, MaxPool, Op, Pads, Reshape};
pub use shape::{Dim, Shape};
pub use tensor::Tensor;
