//! Backward of every op (and of a whole CIFAR ResNet-20) against central differences in f64,
//! and eval-mode forward against the reference interpreter.

use crate::common::{Builder, Rng, check_gradients, conv_cfg};
use hawq_ir::{Activation, AvgPool, MaxPool, Op, Reshape, Tensor};
use hawq_train::{Mode, Network};

const TRAIN: Mode = Mode::Train { dropout_seed: 7 };

/// Eval-mode f32 forward equals `hawq_ir::interp::run` within 1e-5 relative (to the largest
/// logit magnitude).
fn assert_matches_interpreter(graph: &hawq_ir::Graph, batch: usize) {
    let net = Network::<f32>::from_graph(graph).unwrap();
    let mut rng = Rng(99);
    let x: Vec<f32> =
        rng.vec(batch * net.plan().input_len(), -1.0, 1.0).into_iter().map(|v| v as f32).collect();
    let mut shape = graph.inputs[0].shape.resolve(batch);
    shape[0] = batch;
    let want = hawq_ir::interp::run(graph, &[Tensor::new(shape, x.clone()).unwrap()]).unwrap();
    let got = net.forward_eval(&x, batch).unwrap();
    let scale = want[0].max_abs().max(1e-3);
    for (g, w) in got.logits().iter().zip(want[0].data()) {
        assert!((g - w).abs() / scale < 1e-5, "engine {g} vs interpreter {w}");
    }
}

fn check_both_modes(graph: &hawq_ir::Graph, batch: usize) {
    for (mode, seed) in [(Mode::Eval, 1), (TRAIN, 2)] {
        check_gradients(graph, batch, mode, seed, 64);
    }
    assert_matches_interpreter(graph, batch);
}

#[test]
fn conv_with_stride_asymmetric_pads_dilation_bias_and_relu() {
    let mut b = Builder::new(3, 9, 8, 10);
    let cfg = conv_cfg(3, 4, [3, 2], [2, 1], [1, 0, 2, 1], [2, 1], 1, Activation::Relu);
    let y = b.conv("input", cfg, true);
    // Output 4 × ((9+3−5)/2+1 = 4) × ((8+1−2)/1+1 = 8).
    let g = b.head(&y, 4 * 4 * 8, 3);
    check_both_modes(&g, 2);
}

#[test]
fn grouped_depthwise_and_pointwise_convs_with_relu6() {
    let mut b = Builder::new(4, 6, 6, 11);
    let grouped = conv_cfg(4, 6, [3, 3], [1, 1], [1, 1, 1, 1], [1, 1], 2, Activation::None);
    let y = b.conv("input", grouped, false);
    let dw = conv_cfg(
        6,
        6,
        [3, 3],
        [2, 2],
        [1, 1, 1, 1],
        [1, 1],
        6,
        Activation::Clip { min: 0.0, max: 0.6 },
    );
    let y = b.conv(&y, dw, true);
    let pw = conv_cfg(6, 5, [1, 1], [1, 1], [0; 4], [1, 1], 1, Activation::None);
    let y = b.conv(&y, pw, true);
    let g = b.head(&y, 5 * 3 * 3, 4);
    check_both_modes(&g, 3);
}

#[test]
fn batchnorm_relu_clip_and_residual_add() {
    let mut b = Builder::new(3, 5, 5, 12);
    let c1 =
        b.conv("input", conv_cfg(3, 4, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::None), false);
    let n1 = b.bn(&c1, 4);
    let r1 = b.op(Op::Relu, &[&n1]);
    let c2 =
        b.conv(&r1, conv_cfg(4, 4, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::None), false);
    let n2 = b.bn(&c2, 4);
    let sc =
        b.conv("input", conv_cfg(3, 4, [1, 1], [1, 1], [0; 4], [1, 1], 1, Activation::None), false);
    let s = b.op(Op::Add, &[&n2, &sc]);
    let y = b.op(Op::Clip { min: -0.5, max: 0.8 }, &[&s]);
    let g = b.head(&y, 4 * 25, 3);
    check_both_modes(&g, 3);
}

#[test]
fn pools_concat_reshape_and_dropout() {
    let mut b = Builder::new(2, 7, 7, 13);
    let c =
        b.conv("input", conv_cfg(2, 3, [3, 3], [1, 1], [1; 4], [1, 1], 1, Activation::None), true);
    let mp = MaxPool {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1, 1, 1, 1],
        dilation: [1, 1],
        ceil_mode: false,
    };
    let m = b.op(Op::MaxPool(mp), &[&c]);
    let ap = AvgPool {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [1, 0, 1, 1],
        ceil_mode: true,
        count_include_pad: true,
    };
    let a = b.op(Op::AvgPool(ap), &[&c]);
    let ap2 = AvgPool {
        kernel: [2, 3],
        stride: [2, 2],
        pads: [0, 1, 1, 1],
        ceil_mode: false,
        count_include_pad: false,
    };
    let a2 = b.op(Op::AvgPool(ap2), &[&c]);
    let cat = b.op(Op::Concat { axis: 1 }, &[&m, &a, &a2]);
    let dil = MaxPool {
        kernel: [2, 2],
        stride: [1, 1],
        pads: [0; 4],
        dilation: [2, 2],
        ceil_mode: false,
    };
    let m2 = b.op(Op::MaxPool(dil), &[&cat]);
    let gap = b.op(Op::GlobalAvgPool, &[&cat]);
    let r = b.op(Op::Reshape(Reshape { shape: vec![0, -1] }), &[&m2]);
    let d = b.op(Op::Dropout, &[&r]);
    let f = b.linear(&d, 9 * 2 * 2, 5, Activation::Relu);
    let gf = b.op(Op::Flatten { axis: 1 }, &[&gap]);
    let cat2 = b.op(Op::Concat { axis: 1 }, &[&f, &gf]);
    let g = b.head(&cat2, 5 + 9, 3);
    check_both_modes(&g, 2);
}

#[test]
fn whole_cifar_resnet20_at_8x8() {
    let opts = hawq_zoo::ZooOptions {
        seed: 3,
        in_channels: 3,
        height: 8,
        width: 8,
        num_classes: 10,
        randomize_bn: true,
    };
    let graph = hawq_zoo::build("resnet20", &opts).unwrap();
    check_gradients(&graph, 2, Mode::Eval, 4, 0);
    check_gradients(&graph, 2, TRAIN, 5, 0);
    assert_matches_interpreter(&graph, 2);
}

#[test]
fn bn_train_mode_updates_running_stats_like_pytorch() {
    let mut b = Builder::new(2, 3, 3, 14);
    let n = b.bn("input", 2);
    let g = b.head(&n, 18, 2);
    let mut net = Network::<f64>::from_graph(&g).unwrap();
    let batch = 4;
    let x = Rng(5).vec(batch * 18, -2.0, 3.0);
    let old_mean = net.param("bn1.running_mean").unwrap().to_vec();
    let old_var = net.param("bn1.running_var").unwrap().to_vec();
    net.forward(&x, batch, TRAIN).unwrap();
    for c in 0..2 {
        let vals: Vec<f64> =
            (0..batch).flat_map(|n| x[(n * 2 + c) * 9..(n * 2 + c + 1) * 9].to_vec()).collect();
        let m = vals.iter().sum::<f64>() / 36.0;
        let unbiased = vals.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 35.0;
        let want_mean = 0.9 * old_mean[c] + 0.1 * m;
        let want_var = 0.9 * old_var[c] + 0.1 * unbiased;
        // Running statistics are stored via f64 here, so only rounding separates them.
        assert!((net.param("bn1.running_mean").unwrap()[c] - want_mean).abs() < 1e-12);
        assert!((net.param("bn1.running_var").unwrap()[c] - want_var).abs() < 1e-12);
    }
    // Eval mode leaves them alone.
    let before = net.params().to_vec();
    net.forward(&x, batch, Mode::Eval).unwrap();
    assert_eq!(before, net.params());
}
