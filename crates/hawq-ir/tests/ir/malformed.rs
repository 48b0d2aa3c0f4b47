//! Malformed graphs and inputs give typed errors naming the culprit, never panics.

use crate::common::graph_with_input;
use hawq_ir::interp::run;
use hawq_ir::{BatchNorm, Conv2d, Graph, IrError, Linear, Op, Reshape, Shape, Tensor, ValueInfo};

fn input() -> Tensor {
    Tensor::full(vec![1, 2, 4, 4], 1.0)
}

/// Runs the graph on a `[1, 2, 4, 4]` input; shape inference must fail identically.
fn run_err(g: &Graph) -> IrError {
    let e = run(g, &[input()]).expect_err("malformed graph must not run");
    assert_eq!(g.infer_shapes().expect_err("and must not infer"), e);
    e
}

fn conv_graph(cfg: Conv2d, weight_shape: &[usize]) -> Graph {
    let mut g = graph_with_input(&[2, 4, 4]);
    g.params.insert("w".into(), Tensor::zeros(weight_shape.to_vec()));
    let c = g.push("c", Op::Conv2d(cfg), &["x"]);
    g.outputs = vec![c];
    g
}

#[test]
fn dangling_input_and_output() {
    let mut g = graph_with_input(&[2, 4, 4]);
    g.push("r", Op::Relu, &["ghost"]);
    g.outputs = vec!["r".into()];
    assert!(
        matches!(run_err(&g), IrError::DanglingInput { node, value, .. } if node == "r" && value == "ghost")
    );

    let mut g = graph_with_input(&[2, 4, 4]);
    g.push("r", Op::Relu, &["x"]);
    g.outputs = vec!["nobody".into()];
    assert!(matches!(run_err(&g), IrError::DanglingOutput { value } if value == "nobody"));
}

#[test]
fn cycles_and_duplicate_producers() {
    let mut g = graph_with_input(&[2, 4, 4]);
    g.push("a", Op::Add, &["x", "b"]);
    g.push("b", Op::Relu, &["a"]);
    g.outputs = vec!["b".into()];
    match run_err(&g) {
        IrError::Cycle { nodes } => assert_eq!(nodes, ["a", "b"]),
        e => panic!("expected a cycle, got {e}"),
    }

    let mut g = graph_with_input(&[2, 4, 4]);
    g.push("v", Op::Relu, &["x"]);
    g.push("v", Op::Identity, &["x"]);
    g.outputs = vec!["v".into()];
    assert!(matches!(run_err(&g), IrError::DuplicateValue { value, .. } if value == "v"));

    let mut g = graph_with_input(&[2, 4, 4]);
    g.push("x", Op::Relu, &["x"]);
    g.outputs = vec!["x".into()];
    assert!(matches!(run_err(&g), IrError::DuplicateValue { value, .. } if value == "x"));
}

#[test]
fn wrong_arity() {
    for (op, inputs) in
        [(Op::Add, vec!["x"]), (Op::Relu, vec!["x", "x"]), (Op::Concat { axis: 1 }, vec![])]
    {
        let mut g = graph_with_input(&[2, 4, 4]);
        let name = op.name();
        g.push("n", op, &inputs);
        g.outputs = vec!["n".into()];
        assert!(matches!(run_err(&g), IrError::Arity { node, .. } if node == "n"), "{name}");
    }
}

#[test]
fn shape_mismatches_name_the_node() {
    // Conv expecting 3 channels on a 2-channel input.
    let cfg = Conv2d::new("w", 3, 4, 3, 1, 1);
    let e = run_err(&conv_graph(cfg.clone(), &cfg.weight_shape()));
    assert!(matches!(&e, IrError::Shape { node, .. } if node == "c"), "{e}");
    assert!(e.to_string().contains("channels"), "{e}");

    // Add of [N,2,4,4] and [N,2,2,2].
    let mut g = graph_with_input(&[2, 4, 4]);
    let pool = hawq_ir::MaxPool {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        dilation: [1, 1],
        ceil_mode: false,
    };
    let p = g.push("p", Op::MaxPool(pool), &["x"]);
    let s = g.push("sum", Op::Add, &["x", &p]);
    g.outputs = vec![s];
    assert!(matches!(run_err(&g), IrError::Shape { node, .. } if node == "sum"));

    // Linear expecting 10 features after a flatten giving 32.
    let mut g = graph_with_input(&[2, 4, 4]);
    let f = g.push("flat", Op::Flatten { axis: 1 }, &["x"]);
    g.params.insert("w".into(), Tensor::zeros(vec![3, 10]));
    let lin = Linear {
        weight: "w".into(),
        bias: None,
        in_features: 10,
        out_features: 3,
        activation: Default::default(),
    };
    let fc = g.push("fc", Op::Linear(lin), &[&f]);
    g.outputs = vec![fc];
    assert!(matches!(run_err(&g), IrError::Shape { node, .. } if node == "fc"));

    // Concat whose operands disagree outside the axis.
    let mut g = graph_with_input(&[2, 4, 4]);
    let pool = hawq_ir::AvgPool {
        kernel: [2, 2],
        stride: [2, 2],
        pads: [0; 4],
        ceil_mode: false,
        count_include_pad: true,
    };
    let p = g.push("p", Op::AvgPool(pool), &["x"]);
    let c = g.push("cat", Op::Concat { axis: 1 }, &["x", &p]);
    g.outputs = vec![c];
    assert!(matches!(run_err(&g), IrError::Shape { node, .. } if node == "cat"));
}

#[test]
fn missing_and_mis_shaped_params() {
    let cfg = Conv2d::new("w", 2, 4, 3, 1, 1);
    let mut g = conv_graph(cfg.clone(), &cfg.weight_shape());
    g.params.clear();
    assert!(
        matches!(run_err(&g), IrError::MissingParam { node, param, .. } if node == "c" && param == "w")
    );

    let e = run_err(&conv_graph(cfg, &[4, 2, 1, 3]));
    assert!(
        matches!(&e, IrError::Shape { node, detail, .. } if node == "c" && detail.contains("'w'")),
        "{e}"
    );

    let mut g = graph_with_input(&[2, 4, 4]);
    for p in ["g", "b", "m"] {
        g.params.insert(p.into(), Tensor::zeros(vec![2]));
    }
    g.params.insert("v".into(), Tensor::zeros(vec![3]));
    let bn = BatchNorm {
        scale: "g".into(),
        bias: "b".into(),
        mean: "m".into(),
        var: "v".into(),
        eps: 1e-5,
        channels: 2,
    };
    g.push("bn", Op::BatchNorm(bn), &["x"]);
    g.outputs = vec!["bn".into()];
    assert!(
        matches!(run_err(&g), IrError::Shape { node, detail, .. } if node == "bn" && detail.contains("'v'"))
    );
}

#[test]
fn bad_attributes() {
    let mut zero_stride = Conv2d::new("w", 2, 4, 3, 1, 1);
    zero_stride.stride = [0, 1];
    let mut bad_groups = Conv2d::new("w", 2, 4, 3, 1, 1);
    bad_groups.groups = 3;
    let mut zero_groups = Conv2d::new("w", 2, 4, 3, 1, 1);
    zero_groups.groups = 0;
    for cfg in [zero_stride, bad_groups, zero_groups] {
        let shape = [4, 2, 3, 3];
        let e = run_err(&conv_graph(cfg.clone(), &shape));
        assert!(matches!(&e, IrError::Attribute { node, .. } if node == "c"), "{cfg:?}: {e}");
    }
    let ops = [
        Op::Clip { min: 1.0, max: 0.0 },
        Op::Clip { min: f32::NAN, max: 0.0 },
        Op::Concat { axis: 0 },
        Op::Concat { axis: 4 },
        Op::Flatten { axis: 0 },
        Op::MaxPool(hawq_ir::MaxPool {
            kernel: [2, 2],
            stride: [1, 1],
            pads: [0; 4],
            dilation: [0, 1],
            ceil_mode: false,
        }),
        Op::AvgPool(hawq_ir::AvgPool {
            kernel: [0, 2],
            stride: [1, 1],
            pads: [0; 4],
            ceil_mode: false,
            count_include_pad: true,
        }),
    ];
    for op in ops {
        let mut g = graph_with_input(&[2, 4, 4]);
        let dbg = format!("{op:?}");
        g.push("n", op, &["x"]);
        g.outputs = vec!["n".into()];
        assert!(matches!(run_err(&g), IrError::Attribute { node, .. } if node == "n"), "{dbg}");
    }
}

#[test]
fn invalid_reshape_targets() {
    for target in [vec![0, -2], vec![-1, -1], vec![], vec![0, 0, 0, 0, 0]] {
        let mut g = graph_with_input(&[2, 4, 4]);
        g.push("r", Op::Reshape(Reshape { shape: target.clone() }), &["x"]);
        g.outputs = vec!["r".into()];
        let e = run_err(&g);
        assert!(
            matches!(&e, IrError::Attribute { node, .. } | IrError::Shape { node, .. } if node == "r"),
            "{target:?}: {e}"
        );
    }
    // Element counts that cannot match, and a target that drops the batch dim.
    for target in [vec![0, 5, -1], vec![0, 7], vec![32, -1]] {
        let mut g = graph_with_input(&[2, 4, 4]);
        g.push("r", Op::Reshape(Reshape { shape: target.clone() }), &["x"]);
        g.outputs = vec!["r".into()];
        assert!(matches!(run_err(&g), IrError::Shape { node, .. } if node == "r"), "{target:?}");
    }
}

#[test]
fn windows_that_do_not_fit() {
    let cfg = Conv2d::new("w", 2, 4, 7, 1, 1);
    let e = run_err(&conv_graph(cfg.clone(), &cfg.weight_shape()));
    assert!(matches!(&e, IrError::Shape { node, .. } if node == "c"), "{e}");
}

#[test]
fn zero_dims_and_bad_inputs() {
    // A declared zero dim.
    let mut g = graph_with_input(&[0, 4, 4]);
    g.push("r", Op::Relu, &["x"]);
    g.outputs = vec!["r".into()];
    assert!(matches!(g.infer_shapes(), Err(IrError::InputShape { .. })));
    assert!(run(&g, &[Tensor::zeros(vec![1, 0, 4, 4])]).is_err());

    let mut g = graph_with_input(&[2, 4, 4]);
    g.push("r", Op::Relu, &["x"]);
    g.outputs = vec!["r".into()];
    // A zero batch, a wrong shape, a wrong rank, the wrong number of inputs.
    let e = run(&g, &[Tensor::zeros(vec![0, 2, 4, 4])]).unwrap_err();
    assert!(matches!(&e, IrError::InputShape { input, .. } if input == "x"), "{e}");
    let e = run(&g, &[Tensor::zeros(vec![1, 3, 4, 4])]).unwrap_err();
    assert!(
        matches!(&e, IrError::InputShape { input, got, .. } if input == "x" && got == &[1, 3, 4, 4]),
        "{e}"
    );
    assert!(matches!(run(&g, &[Tensor::zeros(vec![2, 4, 4])]), Err(IrError::InputShape { .. })));
    assert!(matches!(run(&g, &[]), Err(IrError::InputCount { expected: 1, got: 0 })));
    assert!(matches!(
        run(&g, &[input(), input()]),
        Err(IrError::InputCount { expected: 1, got: 2 })
    ));

    // Two batched inputs fed different batch sizes.
    g.inputs.push(ValueInfo { name: "y".into(), shape: Shape::batched(&[2, 4, 4]) });
    let e = run(&g, &[input(), Tensor::zeros(vec![3, 2, 4, 4])]).unwrap_err();
    assert!(matches!(&e, IrError::InputShape { input, .. } if input == "y"), "{e}");
}

#[test]
fn non_positive_bn_variance_fails_at_run_time_naming_the_node() {
    let mut g = graph_with_input(&[2, 4, 4]);
    for p in ["g", "b", "m"] {
        g.params.insert(p.into(), Tensor::zeros(vec![2]));
    }
    g.params.insert("v".into(), Tensor::full(vec![2], -1.0));
    let bn = BatchNorm {
        scale: "g".into(),
        bias: "b".into(),
        mean: "m".into(),
        var: "v".into(),
        eps: 1e-5,
        channels: 2,
    };
    g.push("bn", Op::BatchNorm(bn), &["x"]);
    g.outputs = vec!["bn".into()];
    let e = run(&g, &[input()]).unwrap_err();
    assert!(
        matches!(&e, IrError::Shape { node, detail, .. } if node == "bn" && detail.contains("var")),
        "{e}"
    );
}
