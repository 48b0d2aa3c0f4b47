//! Integration tests of the training engine: gradient and JVP checks against central
//! differences in f64, agreement with the reference interpreter, optimiser and checkpoint
//! behaviour, and a short real training run on the committed Fashion-MNIST subset.

mod common;
mod gradcheck;
mod hessian;
mod hessian_torch;
mod jvp;
mod optim;
mod qat;
mod training;
