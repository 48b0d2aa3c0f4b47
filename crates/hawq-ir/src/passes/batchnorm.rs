//! Folds an inference batch norm into the conv or linear layer that feeds it.
//!
//! With σ = sqrt(var + eps), per output channel c:
//! `W'[c] = W[c] · γ[c]/σ[c]` and `b'[c] = (b[c] − μ[c]) · γ[c]/σ[c] + β[c]` (b = 0 when the layer
//! had no bias). The layer keeps its weight parameter *name* (downstream stages name layers by
//! their weights), so the folded values overwrite the original weight.

use super::sole_consumer;
use crate::error::{IrError, Result};
use crate::graph::Graph;
use crate::op::{BatchNorm, Op};

/// Folds every BatchNorm that directly follows a Conv2d or Linear whose output has that BN as
/// its only reader and is not a graph output. The BN node and its parameters (where nothing
/// else uses them) are removed; the layer takes over the BN's output value. A layer without a
/// bias gains one named like its weight (`x.weight` → `x.bias`, otherwise `{weight}.bias`,
/// suffixed `_1`, `_2`, … if taken). Layers whose weight or bias is shared with another node,
/// and BNs anywhere else, are left alone. Returns the number of BNs folded.
pub fn fold_batchnorm(g: &mut Graph) -> Result<usize> {
    // Validates structure and every parameter's shape, so the folding below can index freely.
    g.infer_shapes()?;
    // Check every BN's variance before touching anything, so an error leaves `g` unchanged.
    for (i, node) in g.nodes.iter().enumerate() {
        if let Op::BatchNorm(bn) = &node.op {
            bn_factors(g, i, bn)?;
        }
    }
    let mut folded = 0;
    while let Some((layer, bn)) = next_candidate(g) {
        fold_one(g, layer, bn)?;
        folded += 1;
    }
    Ok(folded)
}

/// The next `(layer index, bn index)` pair that can be folded.
fn next_candidate(g: &Graph) -> Option<(usize, usize)> {
    let producers = g.producers();
    g.nodes.iter().enumerate().find_map(|(bi, node)| {
        if !matches!(node.op, Op::BatchNorm(_)) {
            return None;
        }
        let value = node.inputs.first()?;
        let &li = producers.get(value.as_str())?;
        let layer = &g.nodes[li];
        let foldable = layer.op.is_weight_layer()
            && sole_consumer(g, value) == Some(bi)
            && layer.op.params().iter().all(|p| param_users(g, p) == 1);
        foldable.then_some((li, bi))
    })
}

/// How many nodes read parameter `name`.
fn param_users(g: &Graph, name: &str) -> usize {
    g.nodes.iter().filter(|n| n.op.params().contains(&name)).count()
}

/// A bias name derived from the weight name that no parameter uses yet.
fn fresh_bias_name(g: &Graph, weight: &str) -> String {
    let base = match weight.strip_suffix(".weight") {
        Some(stem) => format!("{stem}.bias"),
        None => format!("{weight}.bias"),
    };
    if !g.params.contains_key(&base) {
        return base;
    }
    (1..).map(|i| format!("{base}_{i}")).find(|n| !g.params.contains_key(n)).unwrap_or(base)
}

/// Per-channel multiplier γ/σ and the BN's mean and β.
fn bn_factors(
    g: &Graph,
    bn_index: usize,
    bn: &BatchNorm,
) -> Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let node = &g.nodes[bn_index];
    let get = |name: &str| g.require_param(node, name).map(|t| t.data().to_vec());
    let (gamma, beta, mean, var) = (get(&bn.scale)?, get(&bn.bias)?, get(&bn.mean)?, get(&bn.var)?);
    let mut mult = Vec::with_capacity(gamma.len());
    for (c, (&g_c, &v_c)) in gamma.iter().zip(&var).enumerate() {
        let denom = v_c + bn.eps;
        if denom.is_nan() || denom <= 0.0 {
            return Err(IrError::Attribute {
                node: node.name.clone(),
                op: node.op.name(),
                detail: format!("channel {c}: var + eps = {denom} is not positive"),
            });
        }
        mult.push(g_c / denom.sqrt());
    }
    Ok((mult, mean, beta))
}

fn fold_one(g: &mut Graph, li: usize, bi: usize) -> Result<()> {
    let bn_node = g.nodes[bi].clone();
    let Op::BatchNorm(bn) = &bn_node.op else {
        return Ok(()); // next_candidate only returns BN nodes
    };
    let (mult, mean, beta) = bn_factors(g, bi, bn)?;
    let (weight, bias) = match &g.nodes[li].op {
        Op::Conv2d(c) => (c.weight.clone(), c.bias.clone()),
        Op::Linear(l) => (l.weight.clone(), l.bias.clone()),
        _ => return Ok(()), // next_candidate only returns weight layers
    };
    let layer = &g.nodes[li];
    let w = g.params.get_mut(&weight).ok_or_else(|| IrError::MissingParam {
        node: layer.name.clone(),
        op: layer.op.name(),
        param: weight.clone(),
    })?;
    // Shape inference checked that the weight's leading dim and the BN channels agree.
    let per_channel = w.numel() / mult.len().max(1);
    for (row, &m) in w.data_mut().chunks_exact_mut(per_channel.max(1)).zip(&mult) {
        row.iter_mut().for_each(|v| *v *= m);
    }
    let old_bias = match &bias {
        Some(b) => g.require_param(&g.nodes[li], b)?.data().to_vec(),
        None => vec![0.0; mult.len()],
    };
    let new_bias: Vec<f32> =
        (0..mult.len()).map(|c| (old_bias[c] - mean[c]) * mult[c] + beta[c]).collect();
    let bias_name = bias.unwrap_or_else(|| fresh_bias_name(g, &weight));
    g.params.insert(bias_name.clone(), crate::tensor::Tensor::from_vec(new_bias));
    match &mut g.nodes[li].op {
        Op::Conv2d(c) => c.bias = Some(bias_name),
        Op::Linear(l) => l.bias = Some(bias_name),
        _ => {}
    }
    g.nodes[li].output = bn_node.output.clone();
    g.nodes.remove(bi);
    for p in bn_node.op.params() {
        if param_users(g, p) == 0 {
            g.params.remove(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::run;
    use crate::op::{Activation, Conv2d, Linear};
    use crate::passes::test_util::{Rng, add_bn, add_conv, assert_same_outputs, graph_with_input};
    use crate::tensor::Tensor;

    #[test]
    fn folds_hand_computed_values() {
        // 1x1 conv, one channel, weight 2, bias 1; BN γ = 3, β = 0.5, μ = 1, var = 3, eps = 1
        // so σ = 2 and γ/σ = 1.5. Folded: W' = 3, b' = (1 − 1)·1.5 + 0.5 = 0.5.
        // x = 4: conv 9 -> BN (9 − 1)·1.5 + 0.5 = 12.5; folded 3·4 + 0.5 = 12.5.
        let mut g = graph_with_input(&[1, 1, 1]);
        let mut cfg = Conv2d::new("c.weight", 1, 1, 1, 1, 0);
        cfg.bias = Some("c.bias".into());
        g.params.insert("c.weight".into(), Tensor::full(vec![1, 1, 1, 1], 2.0));
        g.params.insert("c.bias".into(), Tensor::from_vec(vec![1.0]));
        g.push("c", Op::Conv2d(cfg), &["x"]);
        for (name, v) in [("bn.g", 3.0), ("bn.b", 0.5), ("bn.m", 1.0), ("bn.v", 3.0)] {
            g.params.insert(name.into(), Tensor::from_vec(vec![v]));
        }
        let bn = BatchNorm {
            scale: "bn.g".into(),
            bias: "bn.b".into(),
            mean: "bn.m".into(),
            var: "bn.v".into(),
            eps: 1.0,
            channels: 1,
        };
        g.push("bn", Op::BatchNorm(bn), &["c"]);
        g.outputs = vec!["bn".into()];
        let x = Tensor::full(vec![1, 1, 1, 1], 4.0);
        assert_eq!(run(&g, std::slice::from_ref(&x)).unwrap()[0].data(), &[12.5]);

        assert_eq!(fold_batchnorm(&mut g).unwrap(), 1);
        assert_eq!(g.nodes.len(), 1);
        assert_eq!(g.nodes[0].name, "c");
        assert_eq!(g.nodes[0].output, "bn");
        assert_eq!(g.params["c.weight"].data(), &[3.0]);
        assert_eq!(g.params["c.bias"].data(), &[0.5]);
        assert_eq!(g.params.len(), 2, "BN parameters are pruned");
        assert_eq!(run(&g, &[x]).unwrap()[0].data(), &[12.5]);
    }

    #[test]
    fn conv_without_bias_gets_one_and_outputs_match() {
        let mut rng = Rng::new(7);
        let mut g = graph_with_input(&[3, 6, 6]);
        let mut cfg = Conv2d::new("", 3, 4, 3, 2, 1);
        cfg.pads = [1, 0, 2, 1];
        let c = add_conv(&mut g, &mut rng, "conv1", "x", cfg, false);
        let b = add_bn(&mut g, &mut rng, "bn1", &c, 4);
        let mut dw = Conv2d::new("", 4, 4, 3, 1, 1);
        dw.groups = 4;
        let c2 = add_conv(&mut g, &mut rng, "dw", &b, dw, true);
        let b2 = add_bn(&mut g, &mut rng, "bn2", &c2, 4);
        g.outputs = vec![b2];
        let before = g.clone();

        assert_eq!(fold_batchnorm(&mut g).unwrap(), 2);
        assert!(g.nodes.iter().all(|n| !matches!(n.op, Op::BatchNorm(_))));
        let Op::Conv2d(c1) = &g.nodes[0].op else { panic!("conv stays first") };
        assert_eq!(c1.weight, "conv1.weight");
        assert_eq!(c1.bias.as_deref(), Some("conv1.bias"));
        assert_eq!(g.outputs, vec!["bn2".to_string()], "graph output name is kept");
        assert!(!g.params.keys().any(|k| k.starts_with("bn")));
        let x = Rng::new(8).tensor(&[2, 3, 6, 6], -1.0, 1.0);
        assert_same_outputs(&before, &g, &[x]);
    }

    #[test]
    fn linear_bn_and_fresh_bias_name() {
        // Weight not ending in ".weight", and "fc_w.bias" already taken by another tensor.
        let mut rng = Rng::new(3);
        let mut g = Graph {
            inputs: vec![crate::graph::ValueInfo {
                name: "x".into(),
                shape: crate::shape::Shape::batched(&[5]),
            }],
            ..Graph::default()
        };
        g.params.insert("fc_w".into(), rng.tensor(&[3, 5], -1.0, 1.0));
        g.params.insert("fc_w.bias".into(), rng.tensor(&[3], -1.0, 1.0));
        let lin = Linear {
            weight: "fc_w".into(),
            bias: None,
            in_features: 5,
            out_features: 3,
            activation: Activation::None,
        };
        g.push("fc", Op::Linear(lin), &["x"]);
        let b = add_bn(&mut g, &mut rng, "bn", "fc", 3);
        g.outputs = vec![b];
        let before = g.clone();
        assert_eq!(fold_batchnorm(&mut g).unwrap(), 1);
        let Op::Linear(l) = &g.nodes[0].op else { panic!("linear stays") };
        assert_eq!(l.bias.as_deref(), Some("fc_w.bias_1"));
        assert!(g.params.contains_key("fc_w.bias"), "unrelated tensors are kept");
        assert_same_outputs(&before, &g, &[rng.tensor(&[4, 5], -2.0, 2.0)]);
    }

    #[test]
    fn leaves_unfoldable_bns_alone() {
        let mut rng = Rng::new(11);
        let mut g = graph_with_input(&[2, 4, 4]);
        // BN after a graph input, BN whose conv output is also a graph output, BN whose conv
        // output has a second reader, and BN after a ReLU.
        let b0 = add_bn(&mut g, &mut rng, "bn0", "x", 2);
        let c1 = add_conv(&mut g, &mut rng, "c1", &b0, Conv2d::new("", 2, 2, 1, 1, 0), true);
        let b1 = add_bn(&mut g, &mut rng, "bn1", &c1, 2);
        let c2 = add_conv(&mut g, &mut rng, "c2", &b1, Conv2d::new("", 2, 2, 1, 1, 0), false);
        let b2 = add_bn(&mut g, &mut rng, "bn2", &c2, 2);
        let sum = g.push("sum", Op::Add, &[&b2, &c2]);
        let r = g.push("relu", Op::Relu, &[&sum]);
        let b3 = add_bn(&mut g, &mut rng, "bn3", &r, 2);
        g.outputs = vec![b3, c1];
        let before = g.clone();
        assert_eq!(fold_batchnorm(&mut g).unwrap(), 0);
        assert_eq!(g, before);
    }

    #[test]
    fn shared_weights_are_not_folded() {
        let mut rng = Rng::new(5);
        let mut g = graph_with_input(&[2, 3, 3]);
        let c1 = add_conv(&mut g, &mut rng, "c1", "x", Conv2d::new("", 2, 2, 1, 1, 0), false);
        let mut shared = Conv2d::new("c1.weight", 2, 2, 1, 1, 0);
        shared.bias = None;
        let c2 = g.push("c2", Op::Conv2d(shared), &[&c1]);
        let b = add_bn(&mut g, &mut rng, "bn", &c2, 2);
        g.outputs = vec![b];
        assert_eq!(fold_batchnorm(&mut g).unwrap(), 0);
    }

    #[test]
    fn non_positive_variance_is_a_typed_error() {
        let mut rng = Rng::new(2);
        let mut g = graph_with_input(&[1, 2, 2]);
        let c0 = add_conv(&mut g, &mut rng, "c0", "x", Conv2d::new("", 1, 1, 1, 1, 0), false);
        let b0 = add_bn(&mut g, &mut rng, "bn0", &c0, 1);
        let c = add_conv(&mut g, &mut rng, "c", &b0, Conv2d::new("", 1, 1, 1, 1, 0), false);
        let b = add_bn(&mut g, &mut rng, "bn", &c, 1);
        g.outputs = vec![b];
        g.params.insert("bn.running_var".into(), Tensor::from_vec(vec![-1.0]));
        // A foldable conv + BN ahead of the broken one must not be folded either.
        let before = g.clone();
        let e = fold_batchnorm(&mut g).unwrap_err();
        assert!(matches!(&e, IrError::Attribute { node, .. } if node == "bn"), "{e}");
        assert_eq!(g, before, "a failed fold leaves the graph unchanged");
    }
}
