//! Import of exporter patterns the float writer never produces, checked against ONNX Runtime:
//! shape chains around Reshape (opset 11 and 13 forms), MatMul + Add, Gemm with transB = 0,
//! Constant nodes, auto_pad, Clip bounds as inputs, old exporters listing initializers as
//! inputs.

use crate::support::onnx_builder::{OnnxBuilder, af, ai, aints, astr, f32_tensor, i64_tensor};
use crate::support::{assert_matches_ort, ort_skipped, scratch};
use hawq_ir::{Activation, Op};
use hawq_onnx::pb::tensor_proto::DataType;
use hawq_onnx::{Imported, import_file};

/// Conv 3→4 (bias) + BatchNormalization (kept, PyTorch state-dict names) + Relu + GAP.
fn stem(b: &mut OnnxBuilder) -> String {
    b.weight("conv1.weight", &[4, 3, 3, 3], -0.4, 0.4);
    b.weight("conv1.bias", &[4], -0.1, 0.1);
    b.weight("bn1.weight", &[4], 0.5, 1.5);
    b.weight("bn1.bias", &[4], -0.2, 0.2);
    b.weight("bn1.running_mean", &[4], -0.2, 0.2);
    b.weight("bn1.running_var", &[4], 0.5, 2.0);
    let pads = aints("pads", &[1, 1, 1, 1]);
    b.node(
        "Conv",
        &["x", "conv1.weight", "conv1.bias"],
        "c1",
        vec![pads, aints("kernel_shape", &[3, 3])],
    );
    let bn_in = ["c1", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"];
    b.node("BatchNormalization", &bn_in, "b1", vec![af("epsilon", 1e-5), af("momentum", 0.9)]);
    b.node("Relu", &["b1"], "r1", vec![]);
    b.node("GlobalAveragePool", &["r1"], "pooled", vec![])
}

/// Saves, imports and compares with ORT at batch 1 and 2.
fn check(b: &OnnxBuilder, name: &str, opset: i64) -> Imported {
    let path = scratch(name).join(format!("{name}.onnx"));
    b.save(&path, opset);
    let imported = import_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(imported.opset, opset);
    if !ort_skipped() {
        assert_matches_ort(&imported.graph, &path, 11);
    }
    imported
}

fn reshape_targets(m: &Imported) -> Vec<Vec<i64>> {
    m.graph
        .nodes
        .iter()
        .filter_map(|n| match &n.op {
            Op::Reshape(r) => Some(r.shape.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn view_chain_and_matmul_add_at_opset_11() {
    let mut b = OnnxBuilder::new("x", &[3, 8, 8], 21);
    stem(&mut b);
    b.node("Shape", &["pooled"], "s", vec![]);
    b.constant("zero", i64_tensor("zero", &[], &[0]));
    b.node("Gather", &["s", "zero"], "n", vec![ai("axis", 0)]);
    b.node("Unsqueeze", &["n"], "n1", vec![aints("axes", &[0])]);
    b.constant("minus1", i64_tensor("minus1", &[1], &[-1]));
    b.node("Concat", &["n1", "minus1"], "target", vec![ai("axis", 0)]);
    b.node("Reshape", &["pooled", "target"], "flat", vec![]);
    b.weight("onnx::MatMul_20", &[4, 5], -0.5, 0.5);
    b.weight("fc.bias", &[5], -0.1, 0.1);
    b.node("MatMul", &["flat", "onnx::MatMul_20"], "mm", vec![]);
    b.node("Add", &["mm", "fc.bias"], "logits", vec![]);
    b.output("logits");
    let m = check(&b, "view_chain11", 11);
    assert_eq!(reshape_targets(&m), vec![vec![0, -1]]);
    let linear = m.graph.nodes.iter().find_map(|n| match &n.op {
        Op::Linear(l) => Some((n.output.clone(), l.clone())),
        _ => None,
    });
    let (out, l) = linear.expect("MatMul + Add became a Linear");
    assert_eq!((out.as_str(), l.bias.as_deref()), ("logits", Some("fc.bias")));
    assert_eq!(m.graph.params["onnx::MatMul_20"].shape(), &[5, 4], "weight stored as [out, in]");
    for p in ["conv1.weight", "bn1.running_mean", "bn1.running_var", "fc.bias"] {
        assert!(m.graph.params.contains_key(p), "parameter {p} kept its name");
    }
    assert_eq!(m.graph.nodes.len(), 6, "shape chain left no IR nodes: {:?}", m.graph.nodes);
}

#[test]
fn slice_squeeze_cast_chain_gemm_and_relu6_at_opset_13() {
    let mut b = OnnxBuilder::new("x", &[3, 8, 8], 22);
    stem(&mut b);
    b.node("Shape", &["pooled"], "s", vec![]);
    b.init(i64_tensor("starts", &[1], &[0]));
    b.init(i64_tensor("ends", &[1], &[1]));
    b.init(i64_tensor("axes0", &[1], &[0]));
    b.node("Slice", &["s", "starts", "ends", "axes0"], "s0", vec![]);
    b.node("Squeeze", &["s0", "axes0"], "n", vec![]);
    b.node("Cast", &["n"], "n64", vec![ai("to", DataType::Int64 as i64)]);
    b.node("Unsqueeze", &["n64", "axes0"], "n1", vec![]);
    b.init(i64_tensor("rest", &[1], &[-1]));
    b.node("Concat", &["n1", "rest"], "target", vec![ai("axis", -1)]);
    b.node("Reshape", &["pooled", "target"], "flat", vec![]);
    b.weight("fc.w", &[4, 6], -0.5, 0.5);
    b.weight("fc.b", &[1, 6], -0.1, 0.1);
    b.node("Gemm", &["flat", "fc.w", "fc.b"], "g", vec![af("alpha", 1.0), ai("transB", 0)]);
    b.constant("lo", f32_tensor("lo", &[], &[0.0]));
    b.constant("hi", f32_tensor("hi", &[], &[0.3]));
    b.node("Clip", &["g", "lo", "hi"], "y", vec![]);
    b.output("y");
    let m = check(&b, "slice_chain13", 13);
    assert_eq!(reshape_targets(&m), vec![vec![0, -1]]);
    assert!(m.graph.nodes.iter().any(|n| n.op == Op::Clip { min: 0.0, max: 0.3 }));
}

/// The spatial ops with auto_pad and their less common attributes, Dropout with constant
/// inputs, Identity, a two-branch Concat on a negative axis, Shape with start/end.
#[test]
fn auto_pad_pools_dropout_and_shape_slice_at_opset_18() {
    let mut b = OnnxBuilder::new("x", &[3, 9, 9], 23);
    b.weight("w1", &[6, 3, 3, 3], -0.4, 0.4);
    b.node(
        "Conv",
        &["x", "w1"],
        "c1",
        vec![astr("auto_pad", "SAME_UPPER"), aints("strides", &[2, 2])],
    );
    b.node("Relu", &["c1"], "r1", vec![]);
    let lower = vec![
        astr("auto_pad", "SAME_LOWER"),
        aints("kernel_shape", &[2, 2]),
        aints("strides", &[1, 1]),
    ];
    b.node("MaxPool", &["r1"], "p1", lower);
    let avg = vec![
        aints("kernel_shape", &[3, 3]),
        aints("pads", &[1, 1, 1, 1]),
        ai("count_include_pad", 1),
    ];
    b.node("AveragePool", &["r1"], "p2", avg);
    b.node("Concat", &["p1", "p2"], "cat", vec![ai("axis", -3)]);
    b.init(f32_tensor("ratio", &[], &[0.25]));
    b.init(hawq_onnx::pb::TensorProto {
        name: Some("train".into()),
        data_type: Some(DataType::Bool as i32),
        raw_data: Some(vec![0u8].into()),
        ..Default::default()
    });
    b.node("Dropout", &["cat", "ratio", "train"], "d", vec![]);
    b.node("Identity", &["d"], "id", vec![]);
    b.node("Shape", &["id"], "s0", vec![ai("start", 0), ai("end", 1)]);
    b.node("Constant", &[], "rest", vec![aints("value_ints", &[-1])]);
    b.node("Concat", &["s0", "rest"], "target", vec![ai("axis", 0)]);
    b.node("Reshape", &["id", "target"], "flat", vec![ai("allowzero", 0)]);
    b.weight("fc.weight", &[3, 12 * 25], -0.1, 0.1);
    b.weight("fc.bias", &[3], -0.1, 0.1);
    b.node("Gemm", &["flat", "fc.weight", "fc.bias"], "y", vec![ai("transB", 1), af("beta", 1.0)]);
    b.output("y");
    let m = check(&b, "auto_pad18", 18);
    let conv = m.graph.nodes.iter().find_map(|n| match &n.op {
        Op::Conv2d(c) => Some(c.clone()),
        _ => None,
    });
    assert_eq!(conv.unwrap().pads, [1, 1, 1, 1], "SAME_UPPER on 9 with k3 s2 pads 1/1");
    assert_eq!(reshape_targets(&m), vec![vec![0, -1]]);
}

#[test]
fn old_exporter_inputs_scalar_constants_and_relu6_at_opset_21() {
    let mut b = OnnxBuilder::new("input.1", &[3, 6, 6], 24);
    b.inits_as_inputs = true;
    stem(&mut b);
    b.node("Flatten", &["pooled"], "flat", vec![ai("axis", 1)]);
    b.weight("fc.weight", &[7, 4], -0.5, 0.5);
    b.node("Gemm", &["flat", "fc.weight"], "g", vec![ai("transB", 1)]);
    b.node("Constant", &[], "six", vec![af("value_float", 6.0)]);
    b.node("Constant", &[], "zero", vec![af("value_float", 0.0)]);
    b.node("Clip", &["g", "zero", "six"], "relu6", vec![]);
    b.constant("lo", f32_tensor("lo", &[], &[-0.05]));
    b.node("Clip", &["relu6", "lo"], "y", vec![]);
    b.output("y");
    // The stem reads "x": rename the input the old way ("input.1").
    b.graph.node[0].input[0] = "input.1".into();
    let m = check(&b, "old_exporter21", 21);
    assert_eq!(m.graph.inputs.len(), 1, "initializers listed as inputs are parameters");
    assert!(m.graph.nodes.iter().any(|n| n.op == Op::Clip { min: 0.0, max: 6.0 }));
    let lin = m.graph.nodes.iter().find_map(|n| match &n.op {
        Op::Linear(l) => Some(l.clone()),
        _ => None,
    });
    assert_eq!(lin.unwrap().activation, Activation::None);
}

#[test]
fn empty_and_duplicate_node_names_become_unique() {
    let mut b = OnnxBuilder::new("x", &[2, 4, 4], 25);
    b.node("Relu", &["x"], "a", vec![]);
    b.node("Relu", &["a"], "b", vec![]);
    b.node("Relu", &["b"], "c", vec![]);
    b.graph.node[0].name = Some(String::new());
    b.graph.node[1].name = Some("dup".into());
    b.graph.node[2].name = Some("dup".into());
    b.output("c");
    let m = hawq_onnx::import_bytes(b.bytes(14).into()).unwrap();
    let names: Vec<&str> = m.graph.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["Relu_0", "dup", "dup_1"]);
    let outs: Vec<&str> = m.graph.nodes.iter().map(|n| n.output.as_str()).collect();
    assert_eq!(outs, ["a", "b", "c"]);
}
