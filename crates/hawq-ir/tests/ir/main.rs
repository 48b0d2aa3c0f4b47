//! Cross-cutting tests of hawq-ir: the interpreter against independent references, malformed
//! graphs, the rewrite passes on whole networks, and weight files. One binary, one module per
//! topic.

mod common;
mod interp;
mod malformed;
mod passes;
mod speed;
mod weights;
