//! hawq integer models exported as ONNX QDQ (opset 21), run by ONNX Runtime and compared with
//! hawq's integer reference engine (`hawq_engine::reference::run`, the definition of hawq's
//! quantized forward). ORT requantizes in float (round half to even) where hawq uses dyadic
//! integers (round half away from zero) and truncates average pools where ORT rounds, so the
//! comparison is by top-1 agreement and relative logit error, not bit equality
//! (docs/EXPORT.md).

use crate::support::{Rng, ort_run, ort_skipped, ort_values, rel_err, scratch};
use hawq_engine::calibrate::calibrate;
use hawq_engine::qmodel::{OutputMode, QNode, QOp};
use hawq_engine::reference::QTensor;
use hawq_engine::{LowerConfig, QModel, lower, reference};
use hawq_ir::{Graph, Op, Tensor};
use hawq_onnx::pb::tensor_proto::DataType;
use hawq_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;
use hawq_onnx::pb::type_proto::Value as TypeValue;
use hawq_onnx::{OnnxError, QDQ_OPSET, export_qdq, qdq_model};
use hawq_zoo::ZooOptions;
use prost::Message;
use std::collections::HashMap;
use std::path::Path;

/// A zoo model with random weights and BN statistics, BN folded and activations fused.
fn simplified_zoo(name: &str, channels: usize, side: usize) -> Graph {
    let opts = ZooOptions {
        in_channels: channels,
        height: side,
        width: side,
        num_classes: 10,
        randomize_bn: true,
        seed: 11,
    };
    let mut g = hawq_zoo::build(name, &opts).unwrap();
    hawq_ir::passes::simplify(&mut g).unwrap();
    g
}

/// Weight names of the conv/linear layers, in graph order.
fn layer_names(g: &Graph) -> Vec<String> {
    g.nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Conv2d(c) => Some(c.weight.clone()),
            Op::Linear(l) => Some(l.weight.clone()),
            _ => None,
        })
        .collect()
}

/// The three precisions under test: all 8-bit, all 4-bit (first and last layer included), and
/// mixed (first and last 8-bit, the others alternating 4/8).
fn configs(g: &Graph) -> Vec<(&'static str, LowerConfig)> {
    let names = layer_names(g);
    let last = names.len() - 1;
    let mixed = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.clone(), if i == 0 || i == last || i % 2 == 1 { 8 } else { 4 }))
        .collect::<HashMap<_, _>>();
    vec![
        ("int8", LowerConfig::default()),
        ("int4", LowerConfig { default_bits: 4, ..LowerConfig::default() }),
        ("mixed", LowerConfig { bits: mixed, ..LowerConfig::default() }),
    ]
}

/// Uniform `[-1, 1)` NCHW batch for the graph's input.
fn random_batch(g: &Graph, rng: &mut Rng, n: usize) -> Tensor {
    rng.tensor(&g.inputs[0].shape.resolve(n), -1.0, 1.0)
}

/// Index of the largest element of each row.
fn argmax_rows(t: &Tensor) -> Vec<usize> {
    let c = t.shape()[1];
    let rows = t.data().chunks_exact(c);
    rows.map(|r| r.iter().enumerate().fold(0, |b, (i, &v)| if v > r[b] { i } else { b })).collect()
}

/// How ORT on the QDQ file compares with hawq's reference engine.
struct Agreement {
    top1: f64,
    rel: f32,
}

/// Runs ORT on `path` for each batch and compares with the reference engine.
fn compare(model: &QModel, path: &Path, batches: &[Tensor]) -> Agreement {
    compare_by(path, batches, |x| reference::run(model, x).unwrap().logits)
}

/// Runs ORT on `path` for each batch and compares with `hawq(batch)`'s logits.
fn compare_by(path: &Path, batches: &[Tensor], hawq: impl Fn(&Tensor) -> Tensor) -> Agreement {
    let ort = ort_run(path, batches);
    let (mut same, mut total, mut rel) = (0usize, 0usize, 0f32);
    for (x, got) in batches.iter().zip(&ort) {
        let want = hawq(x);
        rel = rel.max(rel_err(got, &want));
        let (a, b) = (argmax_rows(got), argmax_rows(&want));
        same += a.iter().zip(&b).filter(|(p, q)| p == q).count();
        total += a.len();
    }
    Agreement { top1: same as f64 / total as f64, rel }
}

/// Quantizes a zoo model at int8, int4 and mixed precision, exports each as QDQ and checks ORT
/// against the reference engine on 32 random inputs (batch 32) plus one at batch 1.
fn zoo_qdq(name: &str, channels: usize, side: usize) {
    let g = simplified_zoo(name, channels, side);
    let mut rng = Rng::new(5);
    let calib: Vec<Tensor> = (0..4).map(|_| random_batch(&g, &mut rng, 8)).collect();
    let ranges = calibrate(&g, &calib).unwrap();
    let batches = vec![random_batch(&g, &mut rng, 32), random_batch(&g, &mut rng, 1)];
    let probe = random_batch(&g, &mut rng, 4);
    let dir = scratch(&format!("qdq_{name}"));
    for (label, cfg) in configs(&g) {
        let model = lower(&g, &ranges, &cfg).unwrap();
        let path = dir.join(format!("{name}_{label}.onnx"));
        export_qdq(&model, &path).unwrap();
        check_structure(&model, &path);
        if ort_skipped() {
            continue;
        }
        let (off, total) = check_nodes(&model, &path, &probe);
        let a = compare(&model, &path, &batches);
        eprintln!(
            "QDQ {name} {channels}x{side}x{side} {label}: per node {off} of {total} integers off \
             by 1; end to end top-1 agreement {:.1}% on 33 inputs, max |logit diff| / max \
             |logit| = {:.4}",
            100.0 * a.top1,
            a.rel
        );
        // The node-by-node check above is the exact gate. End to end, random-weight networks
        // amplify those 1-LSB differences layer by layer (most at 4 bits) and their logits are
        // often nearly tied, so top-1 agreement is only reported and the logit error is
        // bounded loosely (measured: ≤ 0.044 at int8, ≤ 0.48 at int4/mixed; docs/EXPORT.md).
        let bound = if label == "int8" { 0.1 } else { 0.75 };
        assert!(a.rel < bound, "{name} {label}: relative logit error {} ≥ {bound}", a.rel);
    }
}

/// hawq's reference op for `node` on the given integer inputs.
fn reference_node(node: &QNode, ins: &[&QTensor]) -> QTensor {
    match &node.op {
        QOp::Layer(l) => reference::layer_forward(l, ins[0], ins.get(1).copied()).unwrap(),
        QOp::Requant { dyadic, lo, hi } => reference::requant(ins[0], *dyadic, *lo, *hi),
        QOp::Add { a, b, lo, hi } => reference::add(ins[0], ins[1], *a, *b, *lo, *hi),
        QOp::Clamp { lo, hi } => reference::clamp(ins[0], *lo, *hi),
        QOp::MaxPool(p) => reference::max_pool(ins[0], p),
        QOp::AvgPool(p) => reference::avg_pool(ins[0], p),
        QOp::GlobalAvgPool => reference::global_avg_pool(ins[0]),
        QOp::Concat { dyadics, lo, hi } => reference::concat(ins, dyadics, *lo, *hi),
        QOp::Flatten => {
            let n = ins[0].shape[0];
            QTensor { shape: vec![n, ins[0].data.len() / n], data: ins[0].data.clone() }
        }
    }
}

fn to_q(t: &Tensor) -> QTensor {
    QTensor { shape: t.shape().to_vec(), data: t.data().iter().map(|&v| v as i32).collect() }
}

/// Node by node: hawq's reference op, fed ORT's own integer inputs, must give ORT's integer
/// output within 1 (one float round-half-even vs dyadic round-half-away; the residual's two
/// roundings vs one; average-pool truncation vs rounding), after saturating hawq's 32-bit values
/// to INT16 as the export stores them. The final accumulator layer, fed ORT's input, must give
/// ORT's logits up to float summation error. A wrong scale, zero point, layout or clamp fails
/// this by far more than 1. Returns (integers off by one, integers compared).
fn check_nodes(model: &QModel, path: &Path, x: &Tensor) -> (usize, usize) {
    let ort = ort_values(path, x);
    let mut q_of: HashMap<usize, QTensor> = HashMap::new();
    q_of.insert(model.input, to_q(&ort[0]));
    let mut k = 1;
    let (mut off, mut total) = (0, 0);
    for node in &model.nodes {
        let ins: Vec<&QTensor> = node.inputs.iter().map(|i| &q_of[i]).collect();
        let want = reference_node(node, &ins);
        if let QOp::Layer(l) = &node.op
            && matches!(l.mode, OutputMode::Accumulator)
        {
            let logits = reference::dequantize(model, &want).unwrap();
            let got = ort_run(path, std::slice::from_ref(x)).remove(0);
            let err = rel_err(&got, &logits);
            assert!(err < 1e-4, "final layer '{}': logits differ by {err} (relative)", node.name);
            continue;
        }
        let got = to_q(&ort[k]);
        k += 1;
        assert_eq!(got.shape, want.shape, "node '{}': shape", node.name);
        let sat = |v: i32| {
            if model.values[node.output].format.bits == 32 { v.clamp(-32768, 32767) } else { v }
        };
        for (i, (&g, &w)) in got.data.iter().zip(&want.data).enumerate() {
            let d = (g - sat(w)).abs();
            assert!(
                d <= 1,
                "node '{}' ({}): element {i}: ORT {g}, hawq {w}",
                node.name,
                node.op.name()
            );
            off += d as usize;
        }
        total += got.data.len();
        q_of.insert(node.output, got);
    }
    assert_eq!(k, ort.len(), "one QuantizeLinear per computed value");
    (off, total)
}

/// Checks what must hold in any QDQ file: opset 21, a dynamic batch `N`, one INT4 or INT8
/// weight initializer per layer matching its bits, per-channel (axis 0) weight dequantization.
fn check_structure(model: &QModel, path: &Path) {
    let proto = qdq_model(model).unwrap();
    let on_disk = hawq_onnx::pb::ModelProto::decode(std::fs::read(path).unwrap().as_slice());
    assert_eq!(on_disk.unwrap(), proto, "file differs from qdq_model()");
    assert_eq!(proto.opset_import[0].version, Some(QDQ_OPSET));
    let g = proto.graph.unwrap();
    let Some(TypeValue::TensorType(t)) = g.input[0].r#type.as_ref().unwrap().value.as_ref() else {
        panic!("input is not a tensor")
    };
    let dim0 = t.shape.as_ref().unwrap().dim[0].value.clone();
    assert_eq!(dim0, Some(DimValue::DimParam("N".into())));
    let count = |dt: DataType| {
        let of_type = g.initializer.iter().filter(|i| i.data_type == Some(dt as i32));
        of_type.filter(|i| i.dims.len() >= 2).count()
    };
    let bits = |b: u32| model.layers().filter(|l| l.bits == b).count();
    assert_eq!(count(DataType::Int4), bits(4), "INT4 weight initializers");
    assert_eq!(count(DataType::Int8), bits(8), "INT8 weight initializers");
    let weight_dq = g.node.iter().filter(|n| {
        n.op_type() == "DequantizeLinear" && n.attribute.iter().any(|a| a.name() == "axis")
    });
    // Weight and bias of every layer are dequantized per channel along axis 0.
    assert_eq!(weight_dq.clone().count(), 2 * model.layers().count());
    assert!(weight_dq.flat_map(|n| &n.attribute).all(|a| a.i == Some(0)));
}

#[test]
fn resnet20_qdq_matches_reference_engine() {
    zoo_qdq("resnet20", 1, 28);
}

#[test]
fn mobilenet_v2_qdq_matches_reference_engine() {
    zoo_qdq("mobilenet_v2", 3, 32);
}

#[test]
fn resnet18_qdq_matches_reference_engine() {
    zoo_qdq("resnet18", 3, 32);
}

#[test]
fn qdq_rejects_invalid_integer_models() {
    let g = simplified_zoo("resnet20", 1, 16);
    let mut rng = Rng::new(9);
    let ranges = calibrate(&g, &[random_batch(&g, &mut rng, 2)]).unwrap();
    let mut model = lower(&g, &ranges, &LowerConfig::default()).unwrap();
    // A layer whose bias no longer matches its channels must be refused, not exported.
    let layer = model.nodes.iter_mut().find_map(|n| match &mut n.op {
        QOp::Layer(l) if matches!(l.mode, OutputMode::Requantize { .. }) => Some(l),
        _ => None,
    });
    layer.unwrap().bias.pop();
    let err = qdq_model(&model).unwrap_err();
    assert!(matches!(err, OnnxError::InvalidQModel(_)), "{err}");
    let dir = scratch("qdq_invalid");
    assert!(export_qdq(&model, &dir.join("m.onnx")).is_err());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "nothing may be written");
}

/// The must-show: a trained Fashion-MNIST ResNet-20, quantized to 8 bits, exported as
/// QDQ, agrees with hawq's integer engine on ≥ 99% of the 1,000 committed test images. (The fast
/// engine, for speed: it equals the reference engine bit for bit, which hawq-engine's tests
/// check on every zoo model.)
#[test]
fn fmnist_resnet20_qdq_agrees_on_1000_test_images() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let ckpt = root.join("models/fmnist-resnet20.safetensors");
    assert!(ckpt.is_file(), "{} is missing", ckpt.display());
    let mut g = hawq_zoo::checkpoint::load(&ckpt).unwrap();
    hawq_ir::passes::simplify(&mut g).unwrap();
    let train = hawq_data::load_fmnist_subset(hawq_data::Split::Train).unwrap();
    let test = hawq_data::load_fmnist_subset(hawq_data::Split::Test).unwrap();
    assert_eq!(test.len(), 1000);
    let batch = |d: &hawq_data::Dataset, from: usize, n: usize| {
        let len = d.image_len();
        let [c, h, w] = d.shape;
        Tensor::new(vec![n, c, h, w], d.images[from * len..(from + n) * len].to_vec()).unwrap()
    };
    let calib: Vec<Tensor> = (0..4).map(|i| batch(&train, i * 64, 64)).collect();
    let ranges = calibrate(&g, &calib).unwrap();
    let model = lower(&g, &ranges, &LowerConfig::default()).unwrap();
    let path = scratch("qdq_fmnist").join("fmnist_resnet20_int8.onnx");
    export_qdq(&model, &path).unwrap();
    if ort_skipped() {
        return;
    }
    let batches: Vec<Tensor> = (0..10).map(|i| batch(&test, i * 100, 100)).collect();
    let plan = hawq_engine::fast::Plan::new(&model, hawq_kernels::isa().unwrap()).unwrap();
    let a = compare_by(&path, &batches, |x| plan.run(x, 0).unwrap().logits);
    eprintln!(
        "QDQ fmnist resnet20 int8: top-1 agreement {:.1}% on 1000 test images, relative logit \
         error {:.4}",
        100.0 * a.top1,
        a.rel
    );
    assert!(a.top1 >= 0.99, "top-1 agreement {:.4} < 0.99", a.top1);
}
