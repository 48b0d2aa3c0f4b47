//! Minimal ONNX models built directly as protobuf messages, for the bad-input cases (an op
//! hawq does not import, an unknown attribute, a cycle, NaN weights, absurd dims).

use hawq_onnx::pb::attribute_proto::AttributeType;
use hawq_onnx::pb::tensor_proto::DataType;
use hawq_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use hawq_onnx::pb::type_proto::{self, Value as TypeValue};
use hawq_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use prost::Message;

/// An INTS attribute.
pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

/// A FLOAT initializer stored as raw little-endian bytes.
pub fn f32_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// A float tensor value; `None` dims are the symbolic batch.
fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => dimension::Value::DimValue(*n),
                None => dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(TypeValue::TensorType(type_proto::Tensor {
                elem_type: Some(DataType::Float as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A node with one output.
pub fn node(
    name: &str,
    op: &str,
    inputs: &[&str],
    out: &str,
    attrs: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        name: Some(name.into()),
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![out.into()],
        attribute: attrs,
        ..Default::default()
    }
}

/// A small Fashion-MNIST-shaped CNN: `x [N,1,28,28]` → Conv 3x3 (2 channels, pad 1) → Relu →
/// GlobalAveragePool → Flatten → Gemm (10 classes) → `y`.
pub struct TinyCnn {
    /// The nodes, in order.
    pub nodes: Vec<NodeProto>,
    /// The initializers.
    pub inits: Vec<TensorProto>,
    /// The input `[N, rest...]`.
    pub input_dims: Vec<Option<i64>>,
}

impl TinyCnn {
    /// The model with deterministic, finite weights.
    pub fn new() -> Self {
        let conv_w: Vec<f32> = (0..18).map(|i| ((i * 7) % 11) as f32 / 11.0 - 0.4).collect();
        let fc_w: Vec<f32> = (0..20).map(|i| ((i * 5) % 13) as f32 / 13.0 - 0.5).collect();
        TinyCnn {
            nodes: vec![
                node(
                    "conv",
                    "Conv",
                    &["x", "conv.w", "conv.b"],
                    "c",
                    vec![ints("kernel_shape", &[3, 3]), ints("pads", &[1, 1, 1, 1])],
                ),
                node("relu", "Relu", &["c"], "r", vec![]),
                node("gap", "GlobalAveragePool", &["r"], "g", vec![]),
                node("flat", "Flatten", &["g"], "f", vec![]),
                node(
                    "fc",
                    "Gemm",
                    &["f", "fc.w", "fc.b"],
                    "y",
                    vec![AttributeProto {
                        name: Some("transB".into()),
                        r#type: Some(AttributeType::Int as i32),
                        i: Some(1),
                        ..Default::default()
                    }],
                ),
            ],
            inits: vec![
                f32_tensor("conv.w", &[2, 1, 3, 3], &conv_w),
                f32_tensor("conv.b", &[2], &[0.1, -0.1]),
                f32_tensor("fc.w", &[10, 2], &fc_w),
                f32_tensor("fc.b", &[10], &[0.0; 10]),
            ],
            input_dims: vec![None, Some(1), Some(28), Some(28)],
        }
    }

    /// The serialized model (opset 13).
    pub fn bytes(&self) -> Vec<u8> {
        let graph = GraphProto {
            name: Some("tiny".into()),
            node: self.nodes.clone(),
            initializer: self.inits.clone(),
            input: vec![value_info("x", &self.input_dims)],
            output: vec![value_info("y", &[None, Some(10)])],
            ..Default::default()
        };
        ModelProto {
            ir_version: Some(7),
            producer_name: Some("hawq-bad-input-test".into()),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(13),
            }],
            graph: Some(graph),
            ..Default::default()
        }
        .encode_to_vec()
    }

    /// The initializer named `name`.
    pub fn init_mut(&mut self, name: &str) -> &mut TensorProto {
        self.inits.iter_mut().find(|t| t.name() == name).expect("initializer exists")
    }
}
