//! Forward-mode tangents against central differences, their adjoint relation to backward, and
//! per-item gradient norms against single-item backward passes.

use crate::common::{Builder, Rng, conv_cfg, rel_err};
use hawq_ir::{Activation, MaxPool, Op};
use hawq_train::{BackwardOptions, Mode, Network, Tangent};

fn resnet20_8x8() -> hawq_ir::Graph {
    let opts = hawq_zoo::ZooOptions {
        seed: 9,
        in_channels: 1,
        height: 8,
        width: 8,
        num_classes: 10,
        randomize_bn: true,
    };
    hawq_zoo::build("resnet20", &opts).unwrap()
}

/// A net with every JVP-relevant op: conv+bias+ReLU6, BN, max-pool, concat, avg-pool, linear.
fn mixed_net() -> hawq_ir::Graph {
    let mut b = Builder::new(2, 6, 6, 21);
    let c = b.conv(
        "input",
        conv_cfg(2, 3, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::Clip { min: 0.0, max: 6.0 }),
        true,
    );
    let n = b.bn(&c, 3);
    let mp = MaxPool {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        dilation: [1, 1],
        ceil_mode: false,
    };
    let m = b.op(Op::MaxPool(mp), &[&n]);
    let d = b.conv(&m, conv_cfg(3, 3, [3, 3], [1, 1], [1; 4], [1, 1], 3, Activation::Relu), false);
    let cat = b.op(Op::Concat { axis: 1 }, &[&m, &d]);
    let gap = b.op(Op::GlobalAvgPool, &[&cat]);
    b.head(&gap, 6, 4)
}

fn check_jvp_against_differences(graph: &hawq_ir::Graph, batch: usize) {
    let mut net = Network::<f64>::from_graph(graph).unwrap();
    let mut rng = Rng(31);
    let x = rng.vec(batch * net.plan().input_len(), -1.0, 1.0);
    let tape = net.forward_eval(&x, batch).unwrap();
    let h = 1e-6;
    let infos = net.plan().params().to_vec();
    for (i, info) in infos.iter().enumerate().filter(|(_, p)| p.kind.trainable()) {
        let dir = rng.vec(info.numel(), -1.0, 1.0);
        let jv = net.jvp_param(&tape, &info.name, &dir).unwrap();
        let base = net.params()[i].clone();
        let logits_at = |s: f64, net: &mut Network<f64>| {
            for ((w, b), d) in net.params_mut()[i].iter_mut().zip(&base).zip(&dir) {
                *w = b + s * h * d;
            }
            net.forward_eval(&x, batch).unwrap().logits().to_vec()
        };
        let (up, down) = (logits_at(1.0, &mut net), logits_at(-1.0, &mut net));
        net.params_mut()[i].copy_from_slice(&base);
        let scale = jv.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for ((j, u), d) in jv.iter().zip(&up).zip(&down) {
            let fd = (u - d) / (2.0 * h);
            let e = rel_err(*j, fd, scale.max(1e-8));
            assert!(e < 1e-6, "{}: jvp {j} vs fd {fd} (rel {e})", info.name);
        }
    }
    // Input tangent.
    let dir = rng.vec(x.len(), -1.0, 1.0);
    let jv = net.jvp(&tape, &Tangent { input: Some(&dir), params: vec![] }).unwrap();
    let shifted = |s: f64| x.iter().zip(&dir).map(|(a, d)| a + s * h * d).collect::<Vec<_>>();
    let up = net.forward_eval(&shifted(1.0), batch).unwrap().logits().to_vec();
    let down = net.forward_eval(&shifted(-1.0), batch).unwrap().logits().to_vec();
    let scale = jv.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    for ((j, u), d) in jv.iter().zip(&up).zip(&down) {
        let fd = (u - d) / (2.0 * h);
        assert!(rel_err(*j, fd, scale) < 1e-6, "input: jvp {j} vs fd {fd}");
    }
}

#[test]
fn jvp_matches_central_differences_on_resnet20() {
    check_jvp_against_differences(&resnet20_8x8(), 2);
}

#[test]
fn jvp_matches_central_differences_on_mixed_ops() {
    check_jvp_against_differences(&mixed_net(), 3);
}

/// `rᵀ(J v) = (Jᵀ r)ᵀ v`: forward and reverse mode are adjoint, to rounding.
#[test]
fn jvp_and_backward_are_adjoint() {
    for graph in [mixed_net(), resnet20_8x8()] {
        check_adjoint(&graph);
    }
}

fn check_adjoint(graph: &hawq_ir::Graph) {
    let net = Network::<f64>::from_graph(graph).unwrap();
    let batch = 3;
    let mut rng = Rng(41);
    let x = rng.vec(batch * net.plan().input_len(), -1.0, 1.0);
    let r = rng.vec(batch * net.plan().output_len(), -1.0, 1.0);
    let tape = net.forward_eval(&x, batch).unwrap();
    let grads = net
        .backward(&tape, &r, BackwardOptions { input_grad: true, per_item_norms: false })
        .unwrap();
    let dirs: Vec<Vec<f64>> = net
        .plan()
        .params()
        .iter()
        .map(|p| if p.kind.trainable() { rng.vec(p.numel(), -1.0, 1.0) } else { Vec::new() })
        .collect();
    let dx = rng.vec(x.len(), -1.0, 1.0);
    let tangent = Tangent {
        input: Some(&dx),
        params: dirs
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.is_empty())
            .map(|(i, d)| (i, d.as_slice()))
            .collect(),
    };
    let jv = net.jvp(&tape, &tangent).unwrap();
    let lhs: f64 = jv.iter().zip(&r).map(|(a, b)| a * b).sum();
    let mut rhs: f64 = grads.input.unwrap().iter().zip(&dx).map(|(a, b)| a * b).sum();
    for (g, d) in grads.params.iter().zip(&dirs) {
        rhs += g.iter().zip(d).map(|(a, b)| a * b).sum::<f64>();
    }
    assert!(rel_err(lhs, rhs, 1e-12) < 1e-12, "{lhs} vs {rhs}");
}

/// Per-item squared norms equal those of single-item backward passes.
#[test]
fn per_item_norms_match_single_item_backward() {
    for graph in [resnet20_8x8(), mixed_net()] {
        let net = Network::<f64>::from_graph(&graph).unwrap();
        let batch = 3;
        let mut rng = Rng(51);
        let (il, ol) = (net.plan().input_len(), net.plan().output_len());
        let x = rng.vec(batch * il, -1.0, 1.0);
        let r = rng.vec(batch * ol, -1.0, 1.0);
        let tape = net.forward_eval(&x, batch).unwrap();
        let opts = BackwardOptions { input_grad: false, per_item_norms: true };
        let all = net.backward(&tape, &r, opts).unwrap();
        for n in 0..batch {
            let t1 = net.forward_eval(&x[n * il..(n + 1) * il], 1).unwrap();
            let g1 =
                net.backward(&t1, &r[n * ol..(n + 1) * ol], BackwardOptions::default()).unwrap();
            for (i, info) in net.plan().params().iter().enumerate() {
                if !info.kind.trainable() {
                    assert!(all.per_item_sq_norms[i].is_empty());
                    continue;
                }
                let want: f64 = g1.params[i].iter().map(|v| v * v).sum();
                let got = all.per_item_sq_norms[i][n];
                assert!(
                    rel_err(got, want, 1e-14) < 1e-10,
                    "{} item {n}: {got} vs {want}",
                    info.name
                );
            }
        }
        // Train-mode tapes refuse: BN couples the items there.
        let mut net = net;
        let tape = net.forward(&x, batch, Mode::Train { dropout_seed: 0 }).unwrap();
        assert!(net.backward(&tape, &r, opts).is_err());
    }
}
