//! hawq-kernels integration tests: every ISA against the scalar reference, the scalar reference
//! against a naive model built on `hawq_quant::Dyadic::apply`.

mod common;
mod conv;
mod gemm;
