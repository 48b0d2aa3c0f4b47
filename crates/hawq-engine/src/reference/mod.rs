//! The integer reference engine: simple, scalar, obviously correct NCHW loops over `i32`
//! tensors. It is THE definition of hawq's quantized forward; fast kernels, QAT evaluation and
//! export checks are all tested against it.

mod layer;
mod ops;
mod run;

pub use layer::layer_forward;
pub use ops::{add, avg_pool, clamp, concat, global_avg_pool, max_pool, requant};
pub use run::{RunOutput, dequantize, quantize_input, run, run_all};

/// A dense NCHW (or `[N, F]`) integer tensor; every hawq format fits in `i32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QTensor {
    /// Concrete shape.
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: Vec<i32>,
}

impl QTensor {
    /// A zero tensor.
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Self { shape, data: vec![0; n] }
    }
}
