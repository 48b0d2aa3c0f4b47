//! Fuses a ReLU or Clip into the conv or linear layer that feeds it.

use super::sole_consumer;
use crate::error::Result;
use crate::graph::Graph;
use crate::op::{Activation, Op};

/// Folds every Relu or Clip whose input is the output of a Conv2d or Linear with
/// `Activation::None`, when that output has no other reader and is not a graph output, into
/// the layer's `activation` field. The layer keeps its node name and takes over the activation's
/// output value; the activation node is removed. A Clip with invalid bounds (min > max or NaN)
/// is left for validation to report. Returns the number of activations fused.
pub fn fuse_activation(g: &mut Graph) -> Result<usize> {
    g.topo_order()?;
    let mut fused = 0;
    while let Some((li, ai, act)) = next_candidate(g) {
        let out = g.nodes[ai].output.clone();
        match &mut g.nodes[li].op {
            Op::Conv2d(c) => c.activation = act,
            Op::Linear(l) => l.activation = act,
            _ => break, // next_candidate only returns weight layers
        }
        g.nodes[li].output = out;
        g.nodes.remove(ai);
        fused += 1;
    }
    Ok(fused)
}

/// The next `(layer index, activation index, activation)` to fuse.
fn next_candidate(g: &Graph) -> Option<(usize, usize, Activation)> {
    let producers = g.producers();
    g.nodes.iter().enumerate().find_map(|(ai, node)| {
        let act = match node.op {
            Op::Relu => Activation::Relu,
            Op::Clip { min, max } if min <= max => Activation::Clip { min, max },
            _ => return None,
        };
        let value = node.inputs.first()?;
        let &li = producers.get(value.as_str())?;
        let plain = match &g.nodes[li].op {
            Op::Conv2d(c) => c.activation == Activation::None,
            Op::Linear(l) => l.activation == Activation::None,
            _ => false,
        };
        (plain && sole_consumer(g, value) == Some(ai)).then_some((li, ai, act))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Conv2d, Linear};
    use crate::passes::test_util::{Rng, add_conv, assert_same_outputs, graph_with_input};

    #[test]
    fn fuses_relu_and_relu6_into_convs() {
        let mut rng = Rng::new(21);
        let mut g = graph_with_input(&[2, 5, 5]);
        let c1 = add_conv(&mut g, &mut rng, "c1", "x", Conv2d::new("", 2, 3, 3, 1, 1), true);
        let r1 = g.push("r1", Op::Relu, &[&c1]);
        let c2 = add_conv(&mut g, &mut rng, "c2", &r1, Conv2d::new("", 3, 3, 1, 1, 0), true);
        let r2 = g.push("r2", Op::Clip { min: 0.0, max: 0.25 }, &[&c2]);
        let p = g.push("gap", Op::GlobalAvgPool, &[&r2]);
        g.outputs = vec![p];
        let before = g.clone();

        assert_eq!(fuse_activation(&mut g).unwrap(), 2);
        assert_eq!(g.nodes.len(), 3);
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["c1", "c2", "gap"]);
        assert_eq!(g.nodes[0].output, "r1");
        assert_eq!(g.nodes[1].inputs, ["r1"]);
        let Op::Conv2d(c) = &g.nodes[1].op else { panic!("conv") };
        assert_eq!(c.activation, Activation::Clip { min: 0.0, max: 0.25 });
        assert_same_outputs(&before, &g, &[rng.tensor(&[2, 2, 5, 5], -1.0, 1.0)]);
    }

    #[test]
    fn fuses_into_linear_and_keeps_graph_output_name() {
        let mut rng = Rng::new(4);
        let mut g = Graph {
            inputs: vec![crate::graph::ValueInfo {
                name: "x".into(),
                shape: crate::shape::Shape::batched(&[3]),
            }],
            ..Graph::default()
        };
        g.params.insert("fc.weight".into(), rng.tensor(&[2, 3], -1.0, 1.0));
        let lin = Linear {
            weight: "fc.weight".into(),
            bias: None,
            in_features: 3,
            out_features: 2,
            activation: Activation::None,
        };
        g.push("fc", Op::Linear(lin), &["x"]);
        g.push("act", Op::Relu, &["fc"]);
        g.outputs = vec!["act".into()];
        let before = g.clone();
        assert_eq!(fuse_activation(&mut g).unwrap(), 1);
        assert_eq!(g.nodes[0].output, "act");
        assert_same_outputs(&before, &g, &[rng.tensor(&[6, 3], -1.0, 1.0)]);
    }

    #[test]
    fn leaves_unfusable_activations_alone() {
        let mut rng = Rng::new(9);
        let mut g = graph_with_input(&[1, 3, 3]);
        // Relu on a graph input; conv output read twice; conv output that is a graph output;
        // a conv that already has an activation; Relu after a pool.
        let r0 = g.push("r0", Op::Relu, &["x"]);
        let c1 = add_conv(&mut g, &mut rng, "c1", &r0, Conv2d::new("", 1, 1, 1, 1, 0), false);
        let r1 = g.push("r1", Op::Relu, &[&c1]);
        let s = g.push("s", Op::Add, &[&r1, &c1]);
        let c2 = add_conv(&mut g, &mut rng, "c2", &s, Conv2d::new("", 1, 1, 1, 1, 0), false);
        let r2 = g.push("r2", Op::Relu, &[&c2]);
        let mut pre = Conv2d::new("", 1, 1, 1, 1, 0);
        pre.activation = Activation::Relu;
        let c3 = add_conv(&mut g, &mut rng, "c3", &r2, pre, false);
        let r3 = g.push("r3", Op::Clip { min: -1.0, max: 1.0 }, &[&c3]);
        let gap = g.push("gap", Op::GlobalAvgPool, &[&r3]);
        let r4 = g.push("r4", Op::Relu, &[&gap]);
        g.outputs = vec![r4, c2];
        let before = g.clone();
        assert_eq!(fuse_activation(&mut g).unwrap(), 0);
        assert_eq!(g, before);
    }
}
