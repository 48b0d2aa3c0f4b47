//! Output allocation and kernel errors shared by the kernels.

use crate::error::{IrError, Result};
use crate::tensor::{Tensor, checked_numel};

/// A kernel error naming the op.
pub(crate) fn op_err(op: &'static str, detail: impl Into<String>) -> IrError {
    IrError::OpInput { op, detail: detail.into() }
}

/// A zero tensor whose allocation fails with a typed error (instead of aborting the process)
/// when the shape is absurd, e.g. from huge pads in an imported model.
pub(crate) fn zeros(op: &'static str, shape: Vec<usize>) -> Result<Tensor> {
    let n = checked_numel(&shape)
        .ok_or_else(|| op_err(op, format!("output shape {shape:?} overflows")))?;
    let mut data: Vec<f32> = Vec::new();
    data.try_reserve_exact(n)
        .map_err(|_| op_err(op, format!("cannot allocate output of shape {shape:?}")))?;
    data.resize(n, 0.0);
    Tensor::new(shape, data)
}

/// Checks that `t` has rank 4 with no zero dim and returns `[n, c, h, w]`.
pub(crate) fn nchw(op: &'static str, t: &Tensor) -> Result<[usize; 4]> {
    match *t.shape() {
        [n, c, h, w] if n > 0 && c > 0 && h > 0 && w > 0 => Ok([n, c, h, w]),
        _ => Err(op_err(
            op,
            format!("expects an NCHW input without zero dims, got shape {:?}", t.shape()),
        )),
    }
}

/// A zeroed scratch buffer of `len` floats, failing with a typed error instead of aborting.
pub(crate) fn scratch(op: &'static str, len: usize) -> Result<Vec<f32>> {
    let mut data: Vec<f32> = Vec::new();
    data.try_reserve_exact(len)
        .map_err(|_| op_err(op, format!("cannot allocate a scratch buffer of {len} floats")))?;
    data.resize(len, 0.0);
    Ok(data)
}
