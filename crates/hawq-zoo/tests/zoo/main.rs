//! Integration tests of the model zoo (one test binary, one module per concern).

mod counts;
mod fold;
mod structure;

use hawq_ir::Graph;
use hawq_zoo::{ZooOptions, build};

/// Builds `name` with its default options, changed by `edit`.
pub fn build_with(name: &str, edit: impl FnOnce(&mut ZooOptions)) -> Graph {
    let mut opts = ZooOptions::for_model(name).unwrap();
    edit(&mut opts);
    build(name, &opts).unwrap()
}
