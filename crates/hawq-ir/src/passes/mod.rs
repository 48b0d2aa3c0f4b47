//! Graph rewrite passes, one per file. Each validates the graph first (so malformed graphs give
//! typed errors), rewrites in place and returns how many rewrites it made.
//!
//! Naming convention shared by the fusing passes: the surviving layer keeps its node name (and
//! so its weight names), and takes over the *value* name of the node it absorbed, so the
//! absorbed node's consumers and any graph output keep reading the same value name.

mod activation;
mod batchnorm;
mod identity;
mod simplify;
#[cfg(test)]
mod test_util;

pub use activation::fuse_activation;
pub use batchnorm::fold_batchnorm;
pub use identity::remove_identity;
pub use simplify::simplify;

use crate::graph::Graph;

/// The single node reading `value` if there is exactly one and `value` is not a graph output:
/// the condition for absorbing that reader into `value`'s producer.
fn sole_consumer(g: &Graph, value: &str) -> Option<usize> {
    if g.outputs.iter().any(|o| o == value) {
        return None;
    }
    let mut readers =
        g.nodes.iter().enumerate().filter(|(_, n)| n.inputs.iter().any(|v| v == value));
    let (first, node) = readers.next()?;
    // A node reading the value twice (e.g. `Add(x, x)`) is not a sole, single-use reader.
    let reads = node.inputs.iter().filter(|v| *v == value).count();
    (readers.next().is_none() && reads == 1).then_some(first)
}
