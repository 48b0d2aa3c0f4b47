//! The standard clean-up pipeline run after import.

use super::{fold_batchnorm, fuse_activation, remove_identity};
use crate::error::Result;
use crate::graph::Graph;

/// Runs [`remove_identity`], [`fold_batchnorm`] and [`fuse_activation`] in that order (so a
/// Dropout between a conv and its BN does not block folding, and a folded conv + BN can then
/// absorb its ReLU), then sorts the nodes topologically.
pub fn simplify(g: &mut Graph) -> Result<()> {
    remove_identity(g)?;
    fold_batchnorm(g)?;
    fuse_activation(g)?;
    g.sort()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{Conv2d, Op};
    use crate::passes::test_util::{Rng, add_bn, add_conv, assert_same_outputs, graph_with_input};

    #[test]
    fn conv_identity_bn_relu_becomes_one_node() {
        let mut rng = Rng::new(31);
        let mut g = graph_with_input(&[3, 5, 5]);
        // Nodes pushed out of order on purpose: simplify must also sort.
        let c = add_conv(&mut g, &mut rng, "conv", "x", Conv2d::new("", 3, 4, 3, 2, 1), false);
        let d = g.push("drop", Op::Identity, &[&c]);
        let b = add_bn(&mut g, &mut rng, "bn", &d, 4);
        let r = g.push("relu", Op::Relu, &[&b]);
        g.outputs = vec![r];
        g.nodes.reverse();
        let before = g.clone();
        simplify(&mut g).unwrap();
        assert_eq!(g.nodes.len(), 1);
        let Op::Conv2d(conv) = &g.nodes[0].op else { panic!("conv survives") };
        assert_eq!(conv.activation, crate::op::Activation::Relu);
        assert_eq!(conv.bias.as_deref(), Some("conv.bias"));
        assert_eq!(g.nodes[0].output, "relu");
        assert_same_outputs(&before, &g, &[rng.tensor(&[2, 3, 5, 5], -1.0, 1.0)]);
    }

    #[test]
    fn malformed_graph_is_a_typed_error() {
        let mut g = graph_with_input(&[1, 2, 2]);
        g.push("r", Op::Relu, &["nowhere"]);
        g.outputs = vec!["r".into()];
        assert!(matches!(simplify(&mut g), Err(crate::IrError::DanglingInput { .. })));
    }
}
