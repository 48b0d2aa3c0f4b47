//! hawq's integer compute kernels: quantized GEMM and convolutions with a fused dyadic
//! requantization epilogue, for each ISA level (scalar reference, AVX2, AVX-512 VNNI), all
//! bit-identical. The only crate of hawq with `unsafe` code; every entry point is safe and
//! validates its views first ([`KernelError`] on bad input, never a panic).
//!
//! - [`PackedWeights`] / [`PackedConv`]: weights packed once at load (panel layout, see `pack`).
//! - [`qgemm`]: `out = epilogue(A·B)` for linear layers and 1×1 convs on NHWC activations.
//! - [`conv2d_nhwc`]: k×k / strided / dilated / grouped convs (im2col) and depthwise (direct).
//! - [`Epilogue`]: bias, `round(acc·mult/2^shift)` ties away from zero (exactly
//!   `hawq_quant::Dyadic::apply`), optional residual, clamp, store as u8/i8/i16/i32/u4; or raw
//!   i32 `acc + bias`.
//! - [`isa`]: the process ISA (best available, or `HAWQ_ISA=scalar|avx2|avx512vnni`; an ISA the
//!   CPU lacks is an error, never a silent substitute). Kernels take the ISA explicitly.
//! - Threads: the current rayon pool (`ThreadPool::install`); results do not depend on it.
//!
//! ```
//! use hawq_kernels::*;
//! // 2×3 activations (u8) times 3×2 weights, requantized by 1/2 to u8 with ReLU.
//! let w_nk = [1i8, 2, 3, /* column 1: */ -1, 0, 1];
//! let b = PackedWeights::from_nk(&w_nk, 2, 3, WeightBits::B8)?;
//! let a = [10u8, 20, 30, 1, 1, 1];
//! let act = ActView { data: ActIn::U8(&a), rows: 2, row_stride: 3 };
//! let (bias, mult, shift) = ([0, 1], [1 << 30, 1 << 30], [31, 31]);
//! let epi = Epilogue { bias: &bias, requant: Some(Requant { mult: &mult, shift: &shift }),
//!                      residual: None, lo: 0, hi: 255 }.relu();
//! let mut out = [0u8; 4];
//! // An engine resolves the ISA once with `isa()?` (honours HAWQ_ISA); here: the best one.
//! qgemm(Isa::best(), &act, &b, &epi, OutView { data: OutBuf::U8(&mut out), row_stride: 2 })?;
//! // row 0: 140/2 = 70, (20+1)/2 = 10.5 → 11; row 1: 6/2 = 3, (0+1)/2 = 0.5 → 1.
//! assert_eq!(out, [70, 11, 3, 1]);
//! # Ok::<(), KernelError>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512vnni;
mod conv;
mod depthwise;
mod drive;
mod epilogue;
mod error;
mod gemm;
mod generic;
mod isa;
mod pack;

pub use conv::{ConvGeometry, PackedConv, conv2d_nhwc};
pub use epilogue::{Epilogue, OutBuf, OutView, Requant, Residual, ResidualData, requantize};
pub use error::KernelError;
pub use gemm::{ActIn, ActView, qgemm};
pub use isa::{Isa, isa, resolve_isa};
pub use pack::{K_GROUP, PANEL_COLS, PackedWeights, WeightBits, pack_i4, unpack_i4};
