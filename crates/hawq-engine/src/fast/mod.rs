//! The fast integer engine: the same integers as [`crate::reference`], computed with hawq's
//! SIMD kernels (`hawq-kernels`) on NHWC activations.
//!
//! - [`Plan::new`] compiles a validated [`crate::QModel`] once: every value gets NHWC storage
//!   in the narrowest type of its format (u8 for unsigned 4/8-bit, i8 for signed 4/8-bit —
//!   4-bit values take one byte each —, i16 for 16-bit, i32 for 32-bit); conv/linear weights
//!   are packed for the kernels, with bias, per-channel dyadic requantization, residual and
//!   clamp fused into the kernel epilogue (final layers keep their raw i32 accumulator);
//!   requant/add/clamp/pools/concat/flatten are NHWC integer loops; a liveness pass assigns
//!   values to a small set of reusable buffers ([`Plan::peak_activation_bytes`]).
//! - [`Plan::run`] quantizes the float input exactly as [`crate::reference::quantize_input`],
//!   runs every op on a rayon pool of the requested size (pools are built once per thread
//!   count and cached in the plan) and dequantizes exactly as [`crate::reference::dequantize`].
//!   No float is touched in between. Flatten writes features in NCHW order, so `[N, C·H·W]`
//!   values match the reference element for element.
//! - [`profile`] times every node inside full runs and charges it to a conv/linear layer: the
//!   per-layer latency table of the bit allocator.

mod arena;
mod layer;
mod layout;
mod ops;
mod plan;
pub mod profile;

pub use layout::Store;
pub use plan::Plan;
