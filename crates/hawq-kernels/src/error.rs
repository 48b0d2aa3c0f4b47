//! The one error type of hawq-kernels: every check a kernel entry point makes on its inputs.

use crate::isa::Isa;
use thiserror::Error;

/// Why a kernel call was refused. Kernels never panic on bad input; they return one of these.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// An ISA was requested (argument or `HAWQ_ISA`) that this CPU does not have.
    #[error("ISA {requested} is not supported by this CPU (best available: {best})")]
    IsaUnsupported {
        /// The ISA asked for.
        requested: Isa,
        /// The best ISA this CPU offers.
        best: Isa,
    },
    /// `HAWQ_ISA` holds a value that names no ISA.
    #[error("HAWQ_ISA={value:?} is not one of scalar, avx2, avx512vnni")]
    BadIsaName {
        /// The environment value as read.
        value: String,
    },
    /// A buffer is shorter than its shape and strides need, or a length does not match.
    #[error("{what}: needs {needed} elements, got {got}")]
    BadLength {
        /// Which argument, e.g. "activations" or "epilogue bias".
        what: &'static str,
        /// Elements required.
        needed: usize,
        /// Elements given.
        got: usize,
    },
    /// A row stride smaller than the row length.
    #[error("{what}: row stride {stride} is smaller than row length {len}")]
    BadStride {
        /// Which argument.
        what: &'static str,
        /// The stride given.
        stride: usize,
        /// The row length it must cover.
        len: usize,
    },
    /// A weight outside the range of its declared bit width.
    #[error("weight {index} = {value} is outside the {bits}-bit range")]
    WeightOutOfRange {
        /// Flat index into the weights as given.
        index: usize,
        /// The value.
        value: i8,
        /// Declared bit width.
        bits: u32,
    },
    /// An epilogue that cannot be applied (clamp range, shift range, output kind mismatch).
    #[error("bad epilogue: {0}")]
    BadEpilogue(String),
    /// A convolution geometry that is inconsistent.
    #[error("bad convolution geometry: {0}")]
    BadGeometry(String),
    /// A size computation overflowed `usize`.
    #[error("size overflow computing {0}")]
    SizeOverflow(&'static str),
}
