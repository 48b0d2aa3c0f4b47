//! Everything hawq cannot represent is a typed error naming the node, op type and opset (or
//! the tensor / input / opset at fault), and never a partial graph.

use crate::support::onnx_builder::{OnnxBuilder, af, ai, aints, astr, f32_tensor, i64_tensor};
use hawq_onnx::pb::tensor_proto::DataLocation;
use hawq_onnx::{OnnxError, import_bytes};

/// x → Relu → (op under test) ; the op reads "r".
fn base() -> OnnxBuilder {
    let mut b = OnnxBuilder::new("x", &[2, 4, 4], 31);
    b.node("Relu", &["x"], "r", vec![]);
    b
}

fn import_err(b: &OnnxBuilder, opset: i64) -> OnnxError {
    match import_bytes(b.bytes(opset).into()) {
        Ok(m) => panic!("import should fail, got {} nodes", m.graph.nodes.len()),
        Err(e) => e,
    }
}

fn assert_mentions(e: &OnnxError, parts: &[&str]) {
    let msg = e.to_string();
    for p in parts {
        assert!(msg.contains(p), "error '{msg}' should mention '{p}'");
    }
}

#[test]
fn unsupported_op_names_node_op_and_opset() {
    let mut b = base();
    b.node("Sigmoid", &["r"], "y", vec![]);
    b.output("y");
    let e = import_err(&b, 13);
    assert!(matches!(e, OnnxError::UnsupportedOp { .. }), "{e:?}");
    assert_mentions(&e, &["Sigmoid_1", "Sigmoid", "opset 13"]);
}

#[test]
fn unknown_attribute_of_supported_op_is_rejected() {
    let mut b = base();
    b.node("Relu", &["r"], "y", vec![ai("alpha_typo", 1)]);
    b.output("y");
    let e = import_err(&b, 13);
    assert!(matches!(e, OnnxError::Attribute { .. }), "{e:?}");
    assert_mentions(&e, &["Relu_1", "alpha_typo"]);
    // An attribute of the wrong type is an error too.
    let mut b = base();
    b.node("Concat", &["r", "r"], "y", vec![af("axis", 1.0)]);
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["axis", "expected type INT"]);
}

#[test]
fn opsets_outside_11_to_21_and_foreign_domains_are_rejected() {
    let mut b = base();
    b.output("r");
    for opset in [10, 22] {
        let e = import_err(&b, opset);
        assert!(matches!(e, OnnxError::Opset { version, .. } if version == opset), "{e:?}");
    }
    b.graph.node[0].domain = Some("com.microsoft".into());
    assert_mentions(&import_err(&b, 13), &["Relu_0", "com.microsoft"]);
}

#[test]
fn training_mode_batch_norm_is_rejected() {
    let mut b = base();
    for p in ["s", "bb", "m", "v"] {
        b.weight(p, &[2], 0.5, 1.0);
    }
    b.node("BatchNormalization", &["r", "s", "bb", "m", "v"], "y", vec![ai("training_mode", 1)]);
    b.output("y");
    assert_mentions(&import_err(&b, 15), &["BatchNormalization_1", "training_mode"]);
    // Before opset 14 the attribute does not exist at all.
    assert_mentions(&import_err(&b, 13), &["training_mode", "unknown"]);
}

#[test]
fn bad_initializers_are_caught_before_use() {
    let mut b = base();
    let mut w = f32_tensor("w", &[2, 2, 3, 3], &[0.5; 35]);
    b.init(w.clone());
    b.node("Conv", &["r", "w"], "y", vec![]);
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["tensor 'w'", "need 144 bytes", "found 140"]);

    w.raw_data = None;
    w.data_location = Some(DataLocation::External as i32);
    b.graph.initializer[0] = w;
    assert_mentions(&import_err(&b, 13), &["tensor 'w'", "external data"]);

    b.graph.initializer[0] = i64_tensor("w", &[2, 2, 3, 3], &[1; 36]);
    assert_mentions(&import_err(&b, 13), &["tensor 'w'", "expected a FLOAT tensor"]);
}

#[test]
fn unrepresentable_patterns_name_the_node() {
    // A constant added to something that is not a MatMul product.
    let mut b = base();
    b.weight("c", &[2, 4, 4], -1.0, 1.0);
    b.node("Add", &["r", "c"], "y", vec![]);
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["Add_1", "bias of a MatMul"]);

    // A MatMul on a 4-D activation: the IR's shape error is reported with the ONNX node.
    let mut b = base();
    b.weight("w", &[4, 3], -1.0, 1.0);
    b.node("MatMul", &["r", "w"], "y", vec![]);
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["MatMul_1", "MatMul, opset 13", "rank-2"]);

    // Flatten that would merge the batch into features.
    let mut b = base();
    b.node("Flatten", &["r"], "y", vec![ai("axis", 2)]);
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["Flatten_1", "axis"]);

    // Reshape whose target does not keep the batch first.
    let mut b = base();
    b.init(i64_tensor("t", &[2], &[2, -1]));
    b.node("Reshape", &["r", "t"], "y", vec![]);
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["Reshape_1", "batch"]);

    // auto_pad together with explicit pads.
    let mut b = base();
    b.node(
        "MaxPool",
        &["r"],
        "y",
        vec![
            aints("kernel_shape", &[2, 2]),
            aints("pads", &[0, 0, 0, 0]),
            astr("auto_pad", "VALID"),
        ],
    );
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["MaxPool_1", "pads"]);

    // A read of a value nobody defined (nodes out of order).
    let mut b = base();
    b.node("Relu", &["later"], "y", vec![]);
    b.node("Relu", &["r"], "later", vec![]);
    b.output("y");
    assert_mentions(&import_err(&b, 13), &["Relu_1", "'later'"]);
}

fn dims(b: &mut OnnxBuilder) -> &mut Vec<hawq_onnx::pb::tensor_shape_proto::Dimension> {
    match b.graph.input[0].r#type.as_mut().unwrap().value.as_mut().unwrap() {
        hawq_onnx::pb::type_proto::Value::TensorType(t) => &mut t.shape.as_mut().unwrap().dim,
        _ => unreachable!(),
    }
}

#[test]
fn graph_inputs_need_float_and_known_dims() {
    let mut b = base();
    b.output("r");
    dims(&mut b)[2].value =
        Some(hawq_onnx::pb::tensor_shape_proto::dimension::Value::DimParam("H".into()));
    assert_mentions(&import_err(&b, 13), &["graph input 'x'", "dimension 2"]);
    // A fixed first dim is still treated as the dynamic batch.
    let mut b = base();
    b.output("r");
    dims(&mut b)[0].value = Some(hawq_onnx::pb::tensor_shape_proto::dimension::Value::DimValue(1));
    let m = import_bytes(b.bytes(13).into()).unwrap();
    assert_eq!(m.graph.inputs[0].shape, hawq_ir::Shape::batched(&[2, 4, 4]));
}

#[test]
fn an_error_in_the_last_node_returns_no_graph() {
    let mut b = base();
    for i in 0..5 {
        let (src, dst) =
            (if i == 0 { "r".to_string() } else { format!("h{i}") }, format!("h{}", i + 1));
        b.node("Relu", &[&src], &dst, vec![]);
    }
    b.node("Softmax", &["h5"], "y", vec![]);
    b.output("y");
    assert!(import_bytes(b.bytes(13).into()).is_err());
    assert!(matches!(
        import_bytes(bytes::Bytes::from_static(b"not a model")),
        Err(OnnxError::Decode(_))
    ));
}
