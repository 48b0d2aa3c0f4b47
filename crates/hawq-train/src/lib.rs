//! # hawq-train
//!
//! hawq's own CPU training engine for the IR op set, generic over `f32` (training) and `f64`
//! (gradient checks, Hessian oracle):
//!
//! - [`Plan`]: a [`hawq_ir::Graph`] compiled to steps over indexed values and parameters;
//! - [`Network::forward`] in [`Mode::Train`] (batch-statistics BN with PyTorch's running-stat
//!   update, seeded dropout) or [`Mode::Eval`], recording a [`Tape`];
//! - [`Network::backward`]: hand-written vector–Jacobian products per op from any logit
//!   gradient, giving parameter gradients, optionally the input gradient and per-item squared
//!   gradient norms (for exact Hessian traces `Tr(H_ii) = (1/N) Σ_n ‖L_nᵀ J_{n,i}‖²`);
//! - [`Network::jvp`]: forward-mode tangents along input and/or parameter directions in eval
//!   mode (J·v for Gauss–Newton products);
//! - [`hessian`]: exact per-layer Hessian traces, Hutchinson estimates, Hessian block–vector
//!   products and HAWQ-V3's sensitivity table (`hawq sensitivity`);
//! - losses ([`cross_entropy`], [`distillation`]), [`Sgd`] with [`LrSchedule`]s, resumable
//!   checkpoints, and the [`train`] loop;
//! - [`qat`]: quantization-aware training of the BN-folded graph, fake-quantized exactly where
//!   and how `hawq_engine::lower` quantizes, evaluated and exported through the integer
//!   engine (plan hook: [`Plan::add_fake_quant`] + [`FakeQuantHook`]).
//!
//! Conv and linear layers run on GEMM (`faer` over the `gemm` crate); work is split over batch
//! items on the current rayon pool, deterministically for a given thread count.

mod backward;
mod checkpoint;
mod error;
pub mod hessian;
mod jvp;
mod kernels;
mod loss;
mod network;
mod optim;
mod plan;
pub mod qat;
mod scalar;
mod train;

pub use backward::{BackwardOptions, Gradients};
pub use checkpoint::{load_checkpoint, save_checkpoint};
pub use error::{Result, TrainError};
pub use jvp::Tangent;
pub use loss::{LossOutput, argmax, cross_entropy, distillation};
pub use network::{DEFAULT_DROPOUT_RATE, FakeQuantHook, Mode, Network, Tape};
pub use optim::{LrSchedule, Schedule, Sgd, SgdConfig};
pub use plan::{ParamInfo, ParamKind, Plan};
pub use scalar::{Layout, Real};
pub use train::{
    EpochReport, Progress, TrainConfig, TrainReport, evaluate, train, train_step,
    train_with_progress,
};
