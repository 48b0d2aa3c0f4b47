//! Builds ONNX models directly as protobuf messages, for import cases the float writer never
//! produces (shape chains, MatMul + Add, Constant nodes, auto_pad, old-exporter inputs, ...).

use super::Rng;
use hawq_onnx::pb::attribute_proto::AttributeType;
use hawq_onnx::pb::tensor_proto::DataType;
use hawq_onnx::pb::tensor_shape_proto::{Dimension, dimension};
use hawq_onnx::pb::type_proto::{self, Value as TypeValue};
use hawq_onnx::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use prost::Message;
use std::path::Path;

pub fn ai(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(v),
        ..Default::default()
    }
}

pub fn aints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: v.to_vec(),
        ..Default::default()
    }
}

pub fn af(name: &str, v: f32) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Float as i32),
        f: Some(v),
        ..Default::default()
    }
}

pub fn astr(name: &str, v: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(v.as_bytes().to_vec()),
        ..Default::default()
    }
}

pub fn atensor(name: &str, t: TensorProto) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Tensor as i32),
        t: Some(t),
        ..Default::default()
    }
}

pub fn f32_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

pub fn i64_tensor(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: dims.to_vec(),
        data_type: Some(DataType::Int64 as i32),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(n) => dimension::Value::DimValue(*n),
                None => dimension::Value::DimParam("batch".into()),
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

/// A model under construction.
pub struct OnnxBuilder {
    pub graph: GraphProto,
    pub rng: Rng,
    /// Also list every initializer among the graph inputs (old exporters did).
    pub inits_as_inputs: bool,
}

impl OnnxBuilder {
    /// A model with one float input `[batch, rest...]`.
    pub fn new(input: &str, rest: &[i64], seed: u64) -> Self {
        let mut dims = vec![None];
        dims.extend(rest.iter().map(|&d| Some(d)));
        let graph = GraphProto {
            name: Some("test".into()),
            input: vec![value_info(input, &dims)],
            ..Default::default()
        };
        Self { graph, rng: Rng::new(seed), inits_as_inputs: false }
    }

    /// A random float initializer in `[lo, hi)`.
    pub fn weight(&mut self, name: &str, dims: &[i64], lo: f32, hi: f32) -> String {
        let n: i64 = dims.iter().product();
        let data: Vec<f32> = (0..n).map(|_| self.rng.uniform(lo, hi)).collect();
        self.init(f32_tensor(name, dims, &data))
    }

    pub fn init(&mut self, t: TensorProto) -> String {
        let name = t.name().to_string();
        self.graph.initializer.push(t);
        name
    }

    /// Adds a node with one output named `out`; returns `out`.
    pub fn node(
        &mut self,
        op: &str,
        inputs: &[&str],
        out: &str,
        attrs: Vec<AttributeProto>,
    ) -> String {
        self.graph.node.push(NodeProto {
            name: Some(format!("{op}_{}", self.graph.node.len())),
            op_type: Some(op.into()),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.into()],
            attribute: attrs,
            ..Default::default()
        });
        out.into()
    }

    /// A `Constant` node holding a tensor.
    pub fn constant(&mut self, out: &str, t: TensorProto) -> String {
        self.node("Constant", &[], out, vec![atensor("value", t)])
    }

    /// A float graph output of rank 2 with unknown dims (every output in these tests is
    /// `[N, classes]`).
    pub fn output(&mut self, name: &str) {
        let mut vi = value_info(name, &[None, None]);
        if let Some(TypeValue::TensorType(t)) = vi.r#type.as_mut().and_then(|t| t.value.as_mut()) {
            for d in &mut t.shape.as_mut().unwrap().dim {
                d.value = None;
            }
        }
        self.graph.output.push(vi);
    }

    pub fn model(&self, opset: i64) -> ModelProto {
        let mut graph = self.graph.clone();
        if self.inits_as_inputs {
            for t in &graph.initializer {
                let dims: Vec<Option<i64>> = t.dims.iter().map(|&d| Some(d)).collect();
                graph.input.push(value_info(t.name(), &dims));
            }
        }
        ModelProto {
            ir_version: Some(match opset {
                ..=11 => 6,
                12..=14 => 7,
                15..=18 => 8,
                19..=20 => 9,
                _ => 10,
            }),
            producer_name: Some("hawq-test".into()),
            producer_version: Some("1".into()),
            opset_import: vec![OperatorSetIdProto {
                domain: Some(String::new()),
                version: Some(opset),
            }],
            graph: Some(graph),
            ..Default::default()
        }
    }

    pub fn bytes(&self, opset: i64) -> Vec<u8> {
        self.model(opset).encode_to_vec()
    }

    pub fn save(&self, path: &Path, opset: i64) {
        std::fs::write(path, self.bytes(opset)).unwrap();
    }
}
