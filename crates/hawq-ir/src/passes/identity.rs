//! Removes ops that are the identity at inference: Identity and Dropout.

use crate::error::Result;
use crate::graph::Graph;
use crate::op::Op;

/// Removes every Identity and Dropout node, reading its input directly instead.
///
/// Graph input and output names are part of the graph's interface and never change: when the
/// removed node's output is a graph output, the producer of its input is renamed to produce
/// that output instead (all readers follow). A node copying a graph input, or a value that is
/// itself a graph output, straight to a graph output cannot be removed without renaming the
/// interface and is kept. Returns the number of nodes removed.
pub fn remove_identity(g: &mut Graph) -> Result<usize> {
    g.topo_order()?;
    let mut removed = 0;
    while let Some(i) = next_removable(g) {
        let node = g.nodes.remove(i);
        let (Some(input), output) = (node.inputs.first(), &node.output) else {
            continue; // arity was validated: an identity has exactly one input
        };
        if g.outputs.contains(output) {
            rename_value(g, input, output);
        } else {
            g.rename_uses(output, input);
        }
        removed += 1;
    }
    Ok(removed)
}

/// Index of the next Identity/Dropout that can go.
fn next_removable(g: &Graph) -> Option<usize> {
    g.nodes.iter().position(|n| {
        if !matches!(n.op, Op::Identity | Op::Dropout) {
            return false;
        }
        let Some(input) = n.inputs.first() else { return false };
        let feeds_output = g.outputs.contains(&n.output);
        let input_fixed = g.inputs.iter().any(|v| &v.name == input) || g.outputs.contains(input);
        !(feeds_output && input_fixed)
    })
}

/// Renames value `from` to `to` everywhere: its producer, its readers and graph outputs.
fn rename_value(g: &mut Graph, from: &str, to: &str) {
    for n in &mut g.nodes {
        if n.output == from {
            n.output = to.to_string();
        }
    }
    g.rename_uses(from, to);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Conv2d;
    use crate::passes::test_util::{Rng, add_conv, assert_same_outputs, graph_with_input};

    #[test]
    fn removes_inner_identities_and_dropouts() {
        let mut rng = Rng::new(1);
        let mut g = graph_with_input(&[2, 4, 4]);
        let i0 = g.push("id0", Op::Identity, &["x"]);
        let c = add_conv(&mut g, &mut rng, "c", &i0, Conv2d::new("", 2, 2, 3, 1, 1), true);
        let d = g.push("drop", Op::Dropout, &[&c]);
        let r = g.push("relu", Op::Relu, &[&d]);
        let s = g.push("sum", Op::Add, &[&r, &d]);
        g.outputs = vec![s];
        let before = g.clone();
        assert_eq!(remove_identity(&mut g).unwrap(), 2);
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["c", "relu", "sum"]);
        assert_eq!(g.nodes[0].inputs, ["x"]);
        assert_eq!(g.nodes[2].inputs, ["relu", "c"]);
        assert_same_outputs(&before, &g, &[rng.tensor(&[1, 2, 4, 4], -1.0, 1.0)]);
    }

    #[test]
    fn identity_feeding_a_graph_output_renames_its_producer() {
        let mut rng = Rng::new(2);
        let mut g = graph_with_input(&[1, 3, 3]);
        let c = add_conv(&mut g, &mut rng, "c", "x", Conv2d::new("", 1, 1, 1, 1, 0), false);
        let r = g.push("relu", Op::Relu, &[&c]);
        let out = g.push("out", Op::Identity, &[&c]);
        g.outputs = vec![out, r];
        let before = g.clone();
        assert_eq!(remove_identity(&mut g).unwrap(), 1);
        assert_eq!(g.outputs, ["out", "relu"]);
        assert_eq!(g.nodes[0].name, "c");
        assert_eq!(g.nodes[0].output, "out");
        assert_eq!(g.nodes[1].inputs, ["out"]);
        assert_same_outputs(&before, &g, &[rng.tensor(&[2, 1, 3, 3], -1.0, 1.0)]);
    }

    #[test]
    fn keeps_identities_that_define_the_interface() {
        let mut g = graph_with_input(&[1, 2, 2]);
        let a = g.push("a", Op::Identity, &["x"]);
        let r = g.push("r", Op::Relu, &["x"]);
        let b = g.push("b", Op::Dropout, &[&r]);
        g.outputs = vec![a, r, b];
        let before = g.clone();
        assert_eq!(remove_identity(&mut g).unwrap(), 0);
        assert_eq!(g, before);
    }
}
