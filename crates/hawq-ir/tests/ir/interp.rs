//! The interpreter against independent references and the shape rules of every op.

use crate::common::{Rng, conv, graph_with_input, naive_conv};
use hawq_ir::infer::window_out;
use hawq_ir::interp::{conv2d, run, run_all};
use hawq_ir::{Activation, AvgPool, Conv2d, Dim, Linear, MaxPool, Op, Reshape, Shape, Tensor};

#[test]
fn conv_matches_direct_definition_on_random_configs() {
    let mut rng = Rng::new(2024);
    for case in 0..60 {
        let groups = [1, 2, 3][rng.int(0, 2)];
        let cin = groups * rng.int(1, 3);
        let cout = groups * rng.int(1, 3);
        let mut cfg = Conv2d::new("w", cin, cout, 1, 1, 0);
        cfg.groups = groups;
        cfg.kernel = [rng.int(1, 3), rng.int(1, 3)];
        cfg.stride = [rng.int(1, 3), rng.int(1, 3)];
        cfg.dilation = [rng.int(1, 2), rng.int(1, 2)];
        cfg.pads = [rng.int(0, 2), rng.int(0, 2), rng.int(0, 2), rng.int(0, 2)];
        cfg.activation =
            [Activation::None, Activation::Relu, Activation::Clip { min: -0.5, max: 0.5 }]
                [rng.int(0, 2)];
        let (h, w) = (rng.int(5, 11), rng.int(5, 11));
        let n = rng.int(1, 2);
        let x = rng.tensor(&[n, cin, h, w], -1.0, 1.0);
        let wt = rng.tensor(&cfg.weight_shape(), -1.0, 1.0);
        let b = (rng.int(0, 1) == 1).then(|| rng.tensor(&[cout], -1.0, 1.0));
        let oh = window_out(
            h,
            cfg.kernel[0],
            cfg.stride[0],
            cfg.pads[0],
            cfg.pads[2],
            cfg.dilation[0],
            false,
        )
        .unwrap();
        let ow = window_out(
            w,
            cfg.kernel[1],
            cfg.stride[1],
            cfg.pads[1],
            cfg.pads[3],
            cfg.dilation[1],
            false,
        )
        .unwrap();
        let y = conv2d(&x, &wt, b.as_ref(), &cfg).unwrap();
        assert_eq!(y.shape(), &[n, cout, oh, ow], "case {case}: {cfg:?}");
        let want = naive_conv(&x, &wt, b.as_ref(), &cfg, oh, ow);
        for (i, (&got, &want)) in y.data().iter().zip(&want).enumerate() {
            assert!(
                (got as f64 - want).abs() <= 1e-5 * want.abs().max(1.0),
                "case {case} elem {i}: {got} vs {want} ({cfg:?})"
            );
        }
    }
}

#[test]
fn batch_items_are_computed_independently_and_bit_identically() {
    let mut rng = Rng::new(5);
    let mut g = graph_with_input(&[3, 9, 9]);
    let c = conv(&mut g, &mut rng, "c", "x", Conv2d::new("", 3, 5, 3, 2, 1), true);
    let p = g.push("gap", Op::GlobalAvgPool, &[&c]);
    g.outputs = vec![c, p];
    let a = rng.tensor(&[1, 3, 9, 9], -1.0, 1.0);
    let b = rng.tensor(&[1, 3, 9, 9], -1.0, 1.0);
    let both = Tensor::new(vec![2, 3, 9, 9], [a.data(), b.data()].concat()).unwrap();
    let ya = run(&g, &[a]).unwrap();
    let yb = run(&g, &[b]).unwrap();
    let yab = run(&g, &[both]).unwrap();
    for k in 0..2 {
        assert_eq!(yab[k].data(), [ya[k].data(), yb[k].data()].concat().as_slice());
    }
}

#[test]
fn run_all_exposes_every_value_and_agrees_with_run() {
    let mut rng = Rng::new(6);
    let mut g = graph_with_input(&[2, 4, 4]);
    let c = conv(&mut g, &mut rng, "c", "x", Conv2d::new("", 2, 2, 3, 1, 1), true);
    let r = g.push("r", Op::Relu, &[&c]);
    let s = g.push("s", Op::Add, &[&r, &c]);
    // Outputs in a chosen order, one of them the graph input itself.
    g.outputs = vec![s.clone(), "x".into(), r.clone()];
    let x = rng.tensor(&[3, 2, 4, 4], -1.0, 1.0);
    let outs = run(&g, std::slice::from_ref(&x)).unwrap();
    let all = run_all(&g, std::slice::from_ref(&x)).unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(outs[0], all[&s]);
    assert_eq!(outs[1], x);
    assert_eq!(outs[2], all[&r]);
    // s = relu(c) + c, element by element.
    let want: Vec<f32> = all[&c].data().iter().map(|v| v.max(0.0) + v).collect();
    assert_eq!(all[&s].data(), want.as_slice());
}

/// Parameter names and shapes a test op needs.
type ParamShapes<'a> = Vec<(&'a str, Vec<usize>)>;

/// One single-op graph on input `[N, rest]`: inferred shape (symbolic) and run shape (N = 2).
fn shape_of(rest: &[usize], op: Op, params: &[(&str, Vec<usize>)]) -> (Shape, Vec<usize>) {
    let mut g = graph_with_input(rest);
    for (name, shape) in params {
        g.params.insert(name.to_string(), Tensor::full(shape.clone(), 0.5));
    }
    let out = g.push("op", op, &["x"]);
    g.outputs = vec![out.clone()];
    let inferred = g.infer_shapes().unwrap()[&out].clone();
    let mut dims = vec![2];
    dims.extend_from_slice(rest);
    let got = run(&g, &[Tensor::full(dims, 1.0)]).unwrap().remove(0);
    (inferred, got.shape().to_vec())
}

#[test]
fn shape_rules_of_every_single_input_op() {
    let n = Dim::Batch;
    let mut conv_cfg = Conv2d::new("w", 3, 4, 3, 2, 0);
    // H: (7 + 1 + 2 - 3) / 2 + 1 = 4; W: (7 + 0 + 1 - 3) / 2 + 1 = 3.
    conv_cfg.pads = [1, 0, 2, 1];
    let conv_w = ("w", conv_cfg.weight_shape());
    let mp = |ceil| MaxPool {
        kernel: [3, 3],
        stride: [2, 2],
        pads: [0; 4],
        dilation: [1, 1],
        ceil_mode: ceil,
    };
    let ap = AvgPool {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [1, 1, 0, 0],
        ceil_mode: false,
        count_include_pad: false,
    };
    let lin = Linear {
        weight: "w".into(),
        bias: Some("b".into()),
        in_features: 6,
        out_features: 4,
        activation: Activation::Relu,
    };
    let bn = hawq_ir::BatchNorm {
        scale: "g".into(),
        bias: "b".into(),
        mean: "m".into(),
        var: "v".into(),
        eps: 1e-5,
        channels: 3,
    };
    let bn_params: ParamShapes = ["g", "b", "m", "v"].iter().map(|&p| (p, vec![3])).collect();
    let cases: Vec<(&[usize], Op, ParamShapes, Vec<Dim>)> = vec![
        (
            &[3, 7, 7],
            Op::Conv2d(conv_cfg),
            vec![conv_w],
            vec![n, Dim::Fixed(4), Dim::Fixed(4), Dim::Fixed(3)],
        ),
        // (6 − 3) / 2 + 1 = 2 with floor; ceil(3 / 2) + 1 = 3 with ceil_mode.
        (
            &[3, 6, 6],
            Op::MaxPool(mp(false)),
            vec![],
            vec![n, Dim::Fixed(3), Dim::Fixed(2), Dim::Fixed(2)],
        ),
        (
            &[3, 6, 6],
            Op::MaxPool(mp(true)),
            vec![],
            vec![n, Dim::Fixed(3), Dim::Fixed(3), Dim::Fixed(3)],
        ),
        // H: (5 + 1 − 2) / 2 + 1 = 3; W: (4 + 1 − 2) / 2 + 1 = 2.
        (&[3, 5, 4], Op::AvgPool(ap), vec![], vec![n, Dim::Fixed(3), Dim::Fixed(3), Dim::Fixed(2)]),
        (
            &[3, 5, 4],
            Op::GlobalAvgPool,
            vec![],
            vec![n, Dim::Fixed(3), Dim::Fixed(1), Dim::Fixed(1)],
        ),
        (
            &[3, 5, 4],
            Op::BatchNorm(bn),
            bn_params,
            vec![n, Dim::Fixed(3), Dim::Fixed(5), Dim::Fixed(4)],
        ),
        (&[3, 5, 4], Op::Relu, vec![], vec![n, Dim::Fixed(3), Dim::Fixed(5), Dim::Fixed(4)]),
        (
            &[3, 5, 4],
            Op::Clip { min: 0.0, max: 6.0 },
            vec![],
            vec![n, Dim::Fixed(3), Dim::Fixed(5), Dim::Fixed(4)],
        ),
        (&[3, 5, 4], Op::Dropout, vec![], vec![n, Dim::Fixed(3), Dim::Fixed(5), Dim::Fixed(4)]),
        (&[3, 5, 4], Op::Identity, vec![], vec![n, Dim::Fixed(3), Dim::Fixed(5), Dim::Fixed(4)]),
        (&[6], Op::Linear(lin), vec![("w", vec![4, 6]), ("b", vec![4])], vec![n, Dim::Fixed(4)]),
        (&[3, 5, 4], Op::Flatten { axis: 1 }, vec![], vec![n, Dim::Fixed(60)]),
        (&[3, 5, 4], Op::Flatten { axis: 2 }, vec![], vec![n, Dim::Fixed(3), Dim::Fixed(20)]),
        (&[3, 5, 4], Op::Reshape(Reshape { shape: vec![0, -1] }), vec![], vec![n, Dim::Fixed(60)]),
        (
            &[3, 5, 4],
            Op::Reshape(Reshape { shape: vec![0, 0, 4, -1] }),
            vec![],
            vec![n, Dim::Fixed(3), Dim::Fixed(4), Dim::Fixed(5)],
        ),
        (
            &[3, 5, 4],
            Op::Reshape(Reshape { shape: vec![-1, 12, 5] }),
            vec![],
            vec![n, Dim::Fixed(12), Dim::Fixed(5)],
        ),
    ];
    for (rest, op, params, want) in cases {
        let name = op.name();
        let (inferred, got) = shape_of(rest, op, &params);
        assert_eq!(inferred, Shape(want.clone()), "{name}");
        assert_eq!(got, Shape(want).resolve(2), "{name}");
    }
}

#[test]
fn multi_input_ops_run_in_graphs() {
    let mut g = graph_with_input(&[2, 1, 2]);
    g.inputs.push(hawq_ir::ValueInfo { name: "y".into(), shape: Shape::batched(&[1, 1, 2]) });
    let cat = g.push("cat", Op::Concat { axis: 1 }, &["x", "y", "x"]);
    let sum = g.push("sum", Op::Add, &["x", "x"]);
    g.outputs = vec![cat, sum];
    let x = Tensor::new(vec![1, 2, 1, 2], vec![1., 2., 3., 4.]).unwrap();
    let y = Tensor::new(vec![1, 1, 1, 2], vec![9., 8.]).unwrap();
    let out = run(&g, &[x, y]).unwrap();
    assert_eq!(out[0].shape(), &[1, 5, 1, 2]);
    assert_eq!(out[0].data(), &[1., 2., 3., 4., 9., 8., 1., 2., 3., 4.]);
    assert_eq!(out[1].data(), &[2., 4., 6., 8.]);
}

#[test]
fn small_network_outputs_stay_finite_and_sane() {
    // Conv → ReLU6 → global average: with all-positive weights and inputs, every output is
    // min(6, Σ) averaged, i.e. in (0, 6].
    let mut g = graph_with_input(&[1, 4, 4]);
    let mut c = Conv2d::new("w", 1, 2, 3, 1, 1);
    c.activation = Activation::Clip { min: 0.0, max: 6.0 };
    g.params.insert("w".into(), Tensor::full(c.weight_shape(), 1.0));
    let c = g.push("c", Op::Conv2d(c), &["x"]);
    let p = g.push("p", Op::GlobalAvgPool, &[&c]);
    g.outputs = vec![p];
    let out = run(&g, &[Tensor::full(vec![1, 1, 4, 4], 1.0)]).unwrap().remove(0);
    // Corners see 4 ones, edges 6, the 4 centre cells 9 -> clipped to 6:
    // (4·4 + 8·6 + 4·6) / 16 = 88 / 16 = 5.5 for both channels.
    assert_eq!(out.data(), &[5.5, 5.5]);
}
