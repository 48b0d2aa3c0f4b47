//! Graph structure, naming, options, determinism and typed errors.

use crate::build_with;
use hawq_ir::{Dim, Graph, IrError, Op, Shape};
use hawq_zoo::{INPUT, OUTPUT, ZooError, ZooOptions, build, names};
use std::collections::HashSet;

fn logits_shape(g: &Graph) -> Shape {
    g.infer_shapes().unwrap()[OUTPUT].clone()
}

fn conv<'a>(g: &'a Graph, node: &str) -> &'a hawq_ir::Conv2d {
    match &g.nodes[g.node_index(node).unwrap()].op {
        Op::Conv2d(c) => c,
        other => panic!("{node} is {}", other.name()),
    }
}

#[test]
fn names_are_the_eight_models() {
    assert_eq!(
        names(),
        [
            "resnet18",
            "resnet34",
            "resnet50",
            "resnet20",
            "resnet32",
            "resnet56",
            "mobilenet_v2",
            "inception_v3"
        ]
    );
}

#[test]
fn every_model_infers_to_batch_by_classes() {
    for &name in names() {
        let opts = ZooOptions::for_model(name).unwrap();
        let g = build(name, &opts).unwrap();
        assert_eq!(g.inputs.len(), 1);
        assert_eq!(g.inputs[0].name, INPUT);
        assert_eq!(g.inputs[0].shape, Shape::batched(&[opts.in_channels, opts.height, opts.width]));
        assert_eq!(g.outputs, [OUTPUT]);
        assert_eq!(logits_shape(&g), Shape(vec![Dim::Batch, Dim::Fixed(opts.num_classes)]));
        let node_names: HashSet<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(node_names.len(), g.nodes.len(), "{name}: node names are unique");
        for n in &g.nodes {
            if n.output != OUTPUT {
                assert_eq!(n.output, n.name, "{name}: output value carries the node name");
            }
        }
        // Every parameter is read by some node: nothing left over from a builder slip.
        let mut pruned = g.clone();
        pruned.prune_params();
        assert_eq!(pruned.params.len(), g.params.len(), "{name}: no unused parameters");
    }
}

#[test]
fn default_options_per_model() {
    let r18 = ZooOptions::for_model("resnet18").unwrap();
    assert_eq!((r18.in_channels, r18.height, r18.width, r18.num_classes), (3, 224, 224, 1000));
    let inc = ZooOptions::for_model("inception_v3").unwrap();
    assert_eq!((inc.height, inc.width, inc.num_classes), (299, 299, 1000));
    let r20 = ZooOptions::for_model("resnet56").unwrap();
    assert_eq!((r20.in_channels, r20.height, r20.width, r20.num_classes), (3, 32, 32, 10));
    assert!(!r20.randomize_bn);
}

#[test]
fn resnet_names_follow_torchvision() {
    let g = build_with("resnet18", |_| {});
    for node in [
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1.0.conv1",
        "layer1.0.bn1",
        "layer1.0.relu",
        "layer1.0.add",
        "layer1.0.relu2",
        "layer2.0.downsample.0",
        "layer2.0.downsample.1",
        "layer4.1.bn2",
        "avgpool",
        "flatten",
        "fc",
    ] {
        assert!(g.node_index(node).is_some(), "missing node {node}");
    }
    assert_eq!(g.nodes[g.node_index("fc").unwrap()].output, OUTPUT);
    // torchvision's state_dict minus the 20 `num_batches_tracked` counters.
    assert_eq!(g.params.len(), 102);
    for p in ["conv1.weight", "bn1.running_var", "layer2.0.downsample.1.running_mean", "fc.bias"] {
        assert!(g.params.contains_key(p), "missing parameter {p}");
    }
    assert!(!g.params.contains_key("layer1.0.downsample.0.weight"));
    assert!(!g.params.contains_key("conv1.bias"), "convs before BN have no bias");
    match &g.nodes[g.node_index("bn1").unwrap()].op {
        Op::BatchNorm(b) => assert_eq!(b.eps, 1e-5),
        other => panic!("bn1 is {}", other.name()),
    }
}

#[test]
fn resnet50_is_v1_5_with_stage_one_projection() {
    let g = build_with("resnet50", |_| {});
    assert_eq!(conv(&g, "layer2.0.conv1").stride, [1, 1]);
    assert_eq!(conv(&g, "layer2.0.conv2").stride, [2, 2]);
    assert_eq!(conv(&g, "layer2.0.downsample.0").stride, [2, 2]);
    // Stage 1 widens 64 -> 256, so its first block projects without striding.
    assert_eq!(conv(&g, "layer1.0.downsample.0").stride, [1, 1]);
    assert!(g.node_index("layer1.0.relu3").is_some());
    assert!(g.node_index("layer1.1.downsample.0").is_none());
}

#[test]
fn mobilenet_v2_names_follow_torchvision() {
    let g = build_with("mobilenet_v2", |_| {});
    // torchvision's state_dict minus the 52 `num_batches_tracked` counters.
    assert_eq!(g.params.len(), 262);
    for p in [
        "features.0.0.weight",
        "features.0.1.running_mean",
        "features.1.conv.0.0.weight",
        "features.1.conv.1.weight",
        "features.1.conv.2.running_var",
        "features.2.conv.0.0.weight",
        "features.2.conv.1.0.weight",
        "features.2.conv.2.weight",
        "features.2.conv.3.bias",
        "features.18.0.weight",
        "classifier.1.weight",
        "classifier.1.bias",
    ] {
        assert!(g.params.contains_key(p), "missing parameter {p}");
    }
    assert!(matches!(g.nodes[g.node_index("classifier.0").unwrap()].op, Op::Dropout));
    assert!(matches!(
        g.nodes[g.node_index("features.0.2").unwrap()].op,
        Op::Clip { min: 0.0, max: 6.0 }
    ));
    let dw = conv(&g, "features.2.conv.1.0");
    assert_eq!((dw.groups, dw.stride), (96, [2, 2]));
    assert!(dw.is_depthwise());
    // Residual adds only where stride 1 keeps the width: blocks 3, 5, 6, 8, 9, 10, 12, 13, 15, 16.
    let adds: Vec<&str> =
        g.nodes.iter().filter(|n| matches!(n.op, Op::Add)).map(|n| n.name.as_str()).collect();
    assert_eq!(adds.len(), 10);
    assert!(adds.contains(&"features.3.add") && !adds.contains(&"features.4.add"));
}

#[test]
fn inception_v3_names_follow_torchvision() {
    let g = build_with("inception_v3", |_| {});
    // 94 BasicConv2d units x (conv weight + 4 BN tensors) + fc weight and bias.
    assert_eq!(g.params.len(), 94 * 5 + 2);
    for p in [
        "Conv2d_1a_3x3.conv.weight",
        "Conv2d_1a_3x3.bn.running_var",
        "Mixed_5b.branch1x1.conv.weight",
        "Mixed_5b.branch_pool.bn.bias",
        "Mixed_6e.branch7x7dbl_5.conv.weight",
        "Mixed_7c.branch3x3dbl_3b.bn.running_var",
        "fc.weight",
    ] {
        assert!(g.params.contains_key(p), "missing parameter {p}");
    }
    assert!(!g.params.keys().any(|k| k.starts_with("AuxLogits")));
    assert!(matches!(g.nodes[g.node_index("dropout").unwrap()].op, Op::Dropout));
    match &g.nodes[g.node_index("Mixed_5b.branch1x1.bn").unwrap()].op {
        Op::BatchNorm(b) => assert_eq!(b.eps, 1e-3),
        other => panic!("bn is {}", other.name()),
    }
    let row = conv(&g, "Mixed_6b.branch7x7_2.conv");
    assert_eq!((row.kernel, row.pads), ([1, 7], [0, 3, 0, 3]));
    let shapes = g.infer_shapes().unwrap();
    assert_eq!(shapes["Mixed_5b.concat"], Shape::batched(&[256, 35, 35]));
    assert_eq!(shapes["Mixed_6a.concat"], Shape::batched(&[768, 17, 17]));
    assert_eq!(shapes["Mixed_7c.concat"], Shape::batched(&[2048, 8, 8]));
}

#[test]
fn cifar_resnet_layout() {
    let g = build_with("resnet20", |_| {});
    let shapes = g.infer_shapes().unwrap();
    assert_eq!(shapes["relu"], Shape::batched(&[16, 32, 32]));
    assert_eq!(shapes["layer1.2.relu2"], Shape::batched(&[16, 32, 32]));
    assert_eq!(shapes["layer2.0.relu2"], Shape::batched(&[32, 16, 16]));
    assert_eq!(shapes["layer3.2.relu2"], Shape::batched(&[64, 8, 8]));
    assert!(g.node_index("maxpool").is_none());
    assert!(g.node_index("layer4.0.conv1").is_none());
    let stem = conv(&g, "conv1");
    assert_eq!((stem.kernel, stem.stride, stem.out_channels), ([3, 3], [1, 1], 16));
    let proj = conv(&g, "layer2.0.downsample.0");
    assert_eq!(
        (proj.kernel, proj.stride, proj.in_channels, proj.out_channels),
        ([1, 1], [2, 2], 16, 32)
    );
    assert!(g.node_index("layer1.0.downsample.0").is_none());
    let convs = g.nodes.iter().filter(|n| matches!(n.op, Op::Conv2d(_))).count();
    assert_eq!(convs, 19 + 2, "19 convs of ResNet-20 plus two projections");
}

#[test]
fn any_input_geometry_that_fits_works() {
    let g = build_with("resnet20", |o| (o.in_channels, o.height, o.width) = (1, 28, 28));
    assert_eq!(logits_shape(&g), Shape(vec![Dim::Batch, Dim::Fixed(10)]));
    assert_eq!(g.params["conv1.weight"].shape(), [16, 1, 3, 3]);
    let g = build_with("resnet18", |o| {
        (o.in_channels, o.height, o.width, o.num_classes) = (1, 28, 28, 10)
    });
    assert_eq!(logits_shape(&g), Shape(vec![Dim::Batch, Dim::Fixed(10)]));
    let g = build_with("mobilenet_v2", |o| (o.height, o.width, o.num_classes) = (96, 64, 7));
    assert_eq!(logits_shape(&g), Shape(vec![Dim::Batch, Dim::Fixed(7)]));
    let g = build_with("inception_v3", |o| (o.height, o.width) = (75, 75));
    assert_eq!(logits_shape(&g), Shape(vec![Dim::Batch, Dim::Fixed(1000)]));
}

#[test]
fn same_seed_same_params_other_seed_other_params() {
    let a = build_with("resnet20", |o| o.seed = 11);
    let b = build_with("resnet20", |o| o.seed = 11);
    let c = build_with("resnet20", |o| o.seed = 12);
    assert_eq!(a, b);
    let mut weights = 0;
    for n in a.nodes.iter().filter(|n| n.op.is_weight_layer()) {
        for p in n.op.params() {
            assert_ne!(a.params[p], c.params[p], "{p} should change with the seed");
            weights += 1;
        }
    }
    assert_eq!(weights, 21 + 2, "every conv weight plus fc weight and bias");
}

#[test]
fn init_follows_torchvision() {
    let g = build_with("resnet18", |_| {});
    // Kaiming normal, fan-out, ReLU gain: std = sqrt(2 / (512·3·3)).
    let w = g.params["layer4.1.conv2.weight"].data();
    let mean = w.iter().map(|&v| f64::from(v)).sum::<f64>() / w.len() as f64;
    let var = w.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / w.len() as f64;
    let want = (2.0f64 / 4608.0).sqrt();
    assert!(mean.abs() < 0.01 * want, "mean {mean}");
    assert!((var.sqrt() / want - 1.0).abs() < 0.01, "std {} vs {want}", var.sqrt());
    // Identity BN by default.
    assert!(g.params["bn1.weight"].data().iter().all(|&v| v == 1.0));
    assert!(g.params["bn1.bias"].data().iter().all(|&v| v == 0.0));
    assert!(g.params["bn1.running_mean"].data().iter().all(|&v| v == 0.0));
    assert!(g.params["bn1.running_var"].data().iter().all(|&v| v == 1.0));
    // nn.Linear: uniform within ±1/sqrt(512), and actually spread over that range.
    let bound = 1.0 / 512f32.sqrt();
    for p in ["fc.weight", "fc.bias"] {
        let d = g.params[p].data();
        assert!(d.iter().all(|v| v.abs() <= bound), "{p} out of range");
        assert!(d.iter().any(|&v| v > 0.9 * bound) && d.iter().any(|&v| v < -0.9 * bound));
    }
}

#[test]
fn randomized_bn_is_seeded_and_in_range() {
    let plain = build_with("resnet20", |o| o.seed = 3);
    let a = build_with("resnet20", |o| (o.seed, o.randomize_bn) = (3, true));
    let b = build_with("resnet20", |o| (o.seed, o.randomize_bn) = (3, true));
    let c = build_with("resnet20", |o| (o.seed, o.randomize_bn) = (4, true));
    assert_eq!(a, b);
    // Conv weights do not depend on the BN choice: each tensor has its own stream.
    assert_eq!(a.params["layer3.2.conv2.weight"], plain.params["layer3.2.conv2.weight"]);
    let ranges = [
        ("weight", 0.5, 1.5),
        ("bias", -0.2, 0.2),
        ("running_mean", -0.2, 0.2),
        ("running_var", 0.5, 2.0),
    ];
    for (suffix, lo, hi) in ranges {
        let name = format!("layer2.0.bn1.{suffix}");
        let d = a.params[&name].data();
        assert!(d.iter().all(|v| (lo..hi).contains(v)), "{name} outside [{lo}, {hi})");
        let spread =
            d.iter().cloned().fold(f32::MIN, f32::max) - d.iter().cloned().fold(f32::MAX, f32::min);
        assert!(spread > 0.5 * (hi - lo), "{name} is not spread out");
        assert_ne!(a.params[&name], c.params[&name]);
    }
}

#[test]
fn unknown_model_lists_valid_names() {
    let err = build("resnet19", &ZooOptions::for_model("resnet18").unwrap()).unwrap_err();
    match &err {
        ZooError::UnknownModel { name, valid } => {
            assert_eq!(name, "resnet19");
            for n in names() {
                assert!(valid.contains(n));
            }
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("mobilenet_v2"));
    assert!(matches!(ZooOptions::for_model("vgg16"), Err(ZooError::UnknownModel { .. })));
}

#[test]
fn bad_options_are_typed_errors() {
    type Edit = fn(&mut ZooOptions);
    let cases: [(&str, Edit); 6] = [
        ("in_channels", |o| o.in_channels = 0),
        ("height", |o| o.height = 0),
        ("width", |o| o.width = 0),
        ("num_classes", |o| o.num_classes = 0),
        ("in_channels", |o| o.in_channels = 1 << 20),
        ("width", |o| o.width = usize::MAX),
    ];
    for (want, edit) in cases {
        let mut opts = ZooOptions::for_model("resnet20").unwrap();
        edit(&mut opts);
        match build("resnet20", &opts) {
            Err(ZooError::InvalidOption { model, option, .. }) => {
                assert_eq!((model.as_str(), option), ("resnet20", want));
            }
            other => panic!("{want}: unexpected {other:?}"),
        }
    }
}

#[test]
fn too_small_input_names_the_failing_node() {
    let mut opts = ZooOptions::for_model("inception_v3").unwrap();
    (opts.height, opts.width) = (64, 64);
    let Err(ZooError::Input { model, height: 64, width: 64, source, .. }) =
        build("inception_v3", &opts)
    else {
        panic!("a 64x64 input must be rejected as too small");
    };
    assert_eq!(model, "inception_v3");
    let IrError::Shape { node, .. } = *source else { panic!("unexpected {source:?}") };
    assert!(node.starts_with("Mixed_") || node.starts_with("maxpool"), "{node}");
    // 74x74 is one pixel short of Inception-v3's minimum.
    (opts.height, opts.width) = (74, 74);
    assert!(matches!(build("inception_v3", &opts), Err(ZooError::Input { .. })));
}
