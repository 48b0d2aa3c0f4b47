//! The passes on whole networks: structure after `simplify` and unchanged outputs.

use crate::common::{Rng, bn, conv, graph_with_input, rel_diff, resnet50};
use hawq_ir::interp::run;
use hawq_ir::passes::{fold_batchnorm, fuse_activation, remove_identity, simplify};
use hawq_ir::{Activation, Conv2d, Linear, Op, Tensor};

/// A small MobileNet-ish net: stem, depthwise-separable block with ReLU6, residual add,
/// dropout, pooling and a classifier followed by BN1d.
fn small_net(rng: &mut Rng) -> hawq_ir::Graph {
    let mut g = graph_with_input(&[3, 12, 12]);
    let mut stem = Conv2d::new("", 3, 8, 3, 2, 1);
    stem.pads = [1, 1, 0, 0];
    let c = conv(&mut g, rng, "stem", "x", stem, false);
    let b = bn(&mut g, rng, "stem_bn", &c, 8);
    let r = g.push("stem_relu", Op::Clip { min: 0.0, max: 6.0 }, &[&b]);
    let mut dw = Conv2d::new("", 8, 8, 3, 1, 2);
    dw.groups = 8;
    dw.dilation = [2, 2];
    let c = conv(&mut g, rng, "dw", &r, dw, false);
    let d = g.push("drop", Op::Dropout, &[&c]);
    let b = bn(&mut g, rng, "dw_bn", &d, 8);
    let a = g.push("dw_relu", Op::Relu, &[&b]);
    let c = conv(&mut g, rng, "pw", &a, Conv2d::new("", 8, 8, 1, 1, 0), true);
    let b = bn(&mut g, rng, "pw_bn", &c, 8);
    let s = g.push("add", Op::Add, &[&b, &r]);
    let pool = hawq_ir::AvgPool {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1; 4],
        ceil_mode: true,
        count_include_pad: false,
    };
    let p = g.push("pool", Op::AvgPool(pool), &[&s]);
    let f = g.push("flat", Op::Flatten { axis: 1 }, &[&p]);
    let id = g.push("id", Op::Identity, &[&f]);
    let feats = 8 * 4 * 4;
    g.params.insert("fc.weight".into(), rng.tensor(&[5, feats], -0.2, 0.2));
    let lin = Linear {
        weight: "fc.weight".into(),
        bias: None,
        in_features: feats,
        out_features: 5,
        activation: Activation::None,
    };
    let fc = g.push("fc", Op::Linear(lin), &[&id]);
    let out = bn(&mut g, rng, "fc_bn", &fc, 5);
    g.outputs = vec![out];
    g
}

#[test]
fn each_pass_alone_keeps_outputs() {
    let mut rng = Rng::new(77);
    let base = small_net(&mut rng);
    let x = rng.tensor(&[2, 3, 12, 12], -1.0, 1.0);
    let want = run(&base, std::slice::from_ref(&x)).unwrap().remove(0);

    let mut g = base.clone();
    assert_eq!(remove_identity(&mut g).unwrap(), 2);
    assert!(rel_diff(&want, &run(&g, std::slice::from_ref(&x)).unwrap()[0]) <= 1e-5);

    let mut g = base.clone();
    // The Dropout between `dw` and `dw_bn` blocks that fold until it is removed.
    assert_eq!(fold_batchnorm(&mut g).unwrap(), 3);
    assert!(rel_diff(&want, &run(&g, std::slice::from_ref(&x)).unwrap()[0]) <= 1e-5);

    let mut g = base.clone();
    // Each activation reads a BN, not a layer, until BNs are folded.
    assert_eq!(fuse_activation(&mut g).unwrap(), 0);
}

#[test]
fn simplify_small_net() {
    let mut rng = Rng::new(78);
    let before = small_net(&mut rng);
    let mut g = before.clone();
    simplify(&mut g).unwrap();
    let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.name()).collect();
    assert_eq!(ops, ["Conv2d", "Conv2d", "Conv2d", "Add", "AvgPool", "Flatten", "Linear"]);
    let acts: Vec<Activation> = g
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Conv2d(c) => Some(c.activation),
            Op::Linear(l) => Some(l.activation),
            _ => None,
        })
        .collect();
    assert_eq!(
        acts,
        [
            Activation::Clip { min: 0.0, max: 6.0 },
            Activation::Relu,
            Activation::None,
            Activation::None
        ]
    );
    // Every conv and the linear gained or kept a bias named after its weight.
    for w in ["stem", "dw", "pw", "fc"] {
        assert!(g.params.contains_key(&format!("{w}.weight")), "{w}");
        assert!(g.params.contains_key(&format!("{w}.bias")), "{w}");
    }
    assert_eq!(g.params.len(), 8, "only folded weights and biases remain");
    assert_eq!(g.outputs, before.outputs);
    for seed in 0..3 {
        let x = Rng::new(seed).tensor(&[3, 3, 12, 12], -2.0, 2.0);
        let a = run(&before, std::slice::from_ref(&x)).unwrap().remove(0);
        let b = run(&g, &[x]).unwrap().remove(0);
        assert!(rel_diff(&a, &b) <= 1e-5, "seed {seed}: {}", rel_diff(&a, &b));
    }
}

#[test]
fn simplify_resnet50_small_input() {
    let mut rng = Rng::new(50);
    let before = resnet50(&mut rng, 32);
    let mut g = before.clone();
    simplify(&mut g).unwrap();
    let count =
        |g: &hawq_ir::Graph, name: &str| g.nodes.iter().filter(|n| n.op.name() == name).count();
    assert_eq!(count(&before, "BatchNorm"), 53);
    assert_eq!(count(&g, "BatchNorm"), 0);
    assert_eq!(count(&g, "Conv2d"), 53);
    // 33 ReLUs fold into convs; the 16 after residual adds stay.
    assert_eq!(count(&before, "Relu"), 49);
    assert_eq!(count(&g, "Relu"), 16);
    assert!(g.params.keys().all(|k| k.ends_with(".weight") || k.ends_with(".bias")));
    assert_eq!(g.params.len(), 2 * 54);
    let x = rng.tensor(&[1, 3, 32, 32], -1.0, 1.0);
    let a = run(&before, std::slice::from_ref(&x)).unwrap().remove(0);
    let b = run(&g, &[x]).unwrap().remove(0);
    let d = rel_diff(&a, &b);
    assert!(d <= 1e-5, "ResNet-50 folded vs unfolded: relative difference {d}");
}

#[test]
fn passes_reject_malformed_graphs() {
    let mut g = graph_with_input(&[2, 2, 2]);
    g.push("a", Op::Relu, &["b"]);
    g.push("b", Op::Relu, &["a"]);
    g.outputs = vec!["b".into()];
    assert!(remove_identity(&mut g.clone()).is_err());
    assert!(fold_batchnorm(&mut g.clone()).is_err());
    assert!(fuse_activation(&mut g.clone()).is_err());
    assert!(simplify(&mut g).is_err());
    // A BN with a mis-shaped statistic is a typed error, not a panic inside the fold.
    let mut rng = Rng::new(1);
    let mut g = graph_with_input(&[2, 3, 3]);
    let c = conv(&mut g, &mut rng, "c", "x", Conv2d::new("", 2, 2, 1, 1, 0), false);
    let b = bn(&mut g, &mut rng, "bn", &c, 2);
    g.outputs = vec![b];
    g.params.insert("bn.running_mean".into(), Tensor::zeros(vec![3]));
    assert!(
        matches!(fold_batchnorm(&mut g), Err(hawq_ir::IrError::Shape { node, .. }) if node == "bn")
    );
}
