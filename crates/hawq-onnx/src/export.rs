//! IR → float ONNX: a standard model (default domain) with a dynamic batch dimension `N`.
//! Fused activations of conv and linear layers become separate `Relu`/`Clip` nodes; `Linear`
//! becomes `Gemm` with `transB = 1`; reshape targets become int64 initializers.

use crate::error::{OnnxError, Result};
use crate::import::OPSET_RANGE;
use crate::pb::attribute_proto::AttributeType;
use crate::pb::tensor_proto::DataType;
use crate::pb::tensor_shape_proto::{Dimension, dimension};
use crate::pb::type_proto::{self, Value as TypeValue};
use crate::pb::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use hawq_ir::{Activation, Dim, Graph, Node, Op, Shape, Tensor};
use prost::Message;
use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

/// ONNX IR version that goes with an opset (from the ONNX versioning table).
pub(crate) fn ir_version(opset: i64) -> i64 {
    match opset {
        ..=11 => 6,
        12..=14 => 7,
        15..=18 => 8,
        19..=20 => 9,
        _ => 10,
    }
}

pub(crate) fn attr(name: &str, kind: AttributeType) -> AttributeProto {
    AttributeProto { name: Some(name.into()), r#type: Some(kind as i32), ..Default::default() }
}

pub(crate) fn attr_int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { i: Some(v), ..attr(name, AttributeType::Int) }
}

pub(crate) fn attr_ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        ints: v.iter().map(|&x| x as i64).collect(),
        ..attr(name, AttributeType::Ints)
    }
}

pub(crate) fn attr_float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { f: Some(v), ..attr(name, AttributeType::Float) }
}

/// A FLOAT initializer with little-endian raw data.
pub(crate) fn float_init(name: &str, t: &Tensor) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: t.shape().iter().map(|&d| d as i64).collect(),
        data_type: Some(DataType::Float as i32),
        raw_data: Some(t.data().iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// An INT64 1-D initializer.
fn int64_init(name: &str, values: &[i64]) -> TensorProto {
    TensorProto {
        name: Some(name.into()),
        dims: vec![values.len() as i64],
        data_type: Some(DataType::Int64 as i32),
        raw_data: Some(values.iter().flat_map(|v| v.to_le_bytes()).collect()),
        ..Default::default()
    }
}

/// A FLOAT tensor value info with `N` for the batch dimension.
pub(crate) fn value_info(name: &str, shape: &Shape) -> ValueInfoProto {
    let dim = shape
        .dims()
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Batch => dimension::Value::DimParam("N".into()),
                Dim::Fixed(n) => dimension::Value::DimValue(*n as i64),
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

/// Builds the ONNX graph node by node.
struct Writer<'g> {
    graph: &'g Graph,
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    taken: HashSet<String>,
    written_params: HashSet<&'g str>,
}

impl<'g> Writer<'g> {
    fn new(graph: &'g Graph) -> Self {
        let mut taken: HashSet<String> = graph.params.keys().cloned().collect();
        taken.extend(graph.inputs.iter().map(|i| i.name.clone()));
        taken.extend(graph.nodes.iter().flat_map(|n| [n.name.clone(), n.output.clone()]));
        Self { graph, nodes: Vec::new(), inits: Vec::new(), taken, written_params: HashSet::new() }
    }

    /// A name no value, node or parameter uses yet.
    fn fresh(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut k = 0;
        while self.taken.contains(&name) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.taken.insert(name.clone());
        name
    }

    /// The parameter as an input name, writing its initializer the first time.
    fn param(&mut self, name: &'g str) -> Result<String> {
        if self.written_params.insert(name) {
            let t = self
                .graph
                .params
                .get(name)
                .ok_or_else(|| OnnxError::Export(format!("parameter '{name}' is missing")))?;
            self.inits.push(float_init(name, t));
        }
        Ok(name.to_string())
    }

    fn emit(
        &mut self,
        name: &str,
        op_type: &str,
        inputs: Vec<String>,
        output: &str,
        attrs: Vec<AttributeProto>,
    ) {
        self.nodes.push(NodeProto {
            name: Some(name.into()),
            op_type: Some(op_type.into()),
            input: inputs,
            output: vec![output.into()],
            attribute: attrs,
            ..Default::default()
        });
    }

    fn clip(&mut self, node_name: &str, x: String, min: f32, max: f32, out: &str) {
        let mut inputs = vec![x];
        for (bound, value, absent) in [("min", min, f32::NEG_INFINITY), ("max", max, f32::INFINITY)]
        {
            if value == absent {
                inputs.push(String::new());
            } else {
                let name = self.fresh(format!("{node_name}.{bound}"));
                self.inits.push(float_init(&name, &Tensor::full(vec![], value)));
                inputs.push(name);
            }
        }
        while inputs.last().is_some_and(String::is_empty) {
            inputs.pop();
        }
        self.emit(node_name, "Clip", inputs, out, vec![]);
    }

    /// Output name of a layer with a fused activation: a fresh pre-activation value, then the
    /// activation node writes the node's real output.
    fn layer_output(&mut self, node: &Node, act: Activation) -> String {
        match act {
            Activation::None => node.output.clone(),
            _ => self.fresh(format!("{}_preact", node.output)),
        }
    }

    fn activation(&mut self, node: &Node, act: Activation, pre: String) {
        let name = self.fresh(format!("{}_act", node.name));
        match act {
            Activation::None => {}
            Activation::Relu => self.emit(&name, "Relu", vec![pre], &node.output, vec![]),
            Activation::Clip { min, max } => self.clip(&name, pre, min, max, &node.output),
        }
    }

    fn node(&mut self, node: &'g Node) -> Result<()> {
        let x = node.inputs.first().cloned().unwrap_or_default();
        let name = node.name.as_str();
        let out = node.output.as_str();
        match &node.op {
            Op::Conv2d(c) => {
                let mut ins = vec![x, self.param(&c.weight)?];
                if let Some(b) = &c.bias {
                    ins.push(self.param(b)?);
                }
                let attrs = vec![
                    attr_ints("kernel_shape", &c.kernel),
                    attr_ints("strides", &c.stride),
                    attr_ints("pads", &c.pads),
                    attr_ints("dilations", &c.dilation),
                    attr_int("group", c.groups as i64),
                ];
                let pre = self.layer_output(node, c.activation);
                self.emit(name, "Conv", ins, &pre, attrs);
                self.activation(node, c.activation, pre);
            }
            Op::Linear(l) => {
                let mut ins = vec![x, self.param(&l.weight)?];
                if let Some(b) = &l.bias {
                    ins.push(self.param(b)?);
                }
                let pre = self.layer_output(node, l.activation);
                self.emit(name, "Gemm", ins, &pre, vec![attr_int("transB", 1)]);
                self.activation(node, l.activation, pre);
            }
            Op::BatchNorm(b) => {
                let ins = vec![
                    x,
                    self.param(&b.scale)?,
                    self.param(&b.bias)?,
                    self.param(&b.mean)?,
                    self.param(&b.var)?,
                ];
                self.emit(name, "BatchNormalization", ins, out, vec![attr_float("epsilon", b.eps)]);
            }
            Op::Relu => self.emit(name, "Relu", vec![x], out, vec![]),
            Op::Clip { min, max } => self.clip(name, x, *min, *max, out),
            Op::Add => self.emit(name, "Add", node.inputs.clone(), out, vec![]),
            Op::Concat { axis } => {
                self.emit(
                    name,
                    "Concat",
                    node.inputs.clone(),
                    out,
                    vec![attr_int("axis", *axis as i64)],
                );
            }
            Op::MaxPool(p) => {
                let attrs = vec![
                    attr_ints("kernel_shape", &p.kernel),
                    attr_ints("strides", &p.stride),
                    attr_ints("pads", &p.pads),
                    attr_ints("dilations", &p.dilation),
                    attr_int("ceil_mode", i64::from(p.ceil_mode)),
                ];
                self.emit(name, "MaxPool", vec![x], out, attrs);
            }
            Op::AvgPool(p) => {
                let attrs = vec![
                    attr_ints("kernel_shape", &p.kernel),
                    attr_ints("strides", &p.stride),
                    attr_ints("pads", &p.pads),
                    attr_int("ceil_mode", i64::from(p.ceil_mode)),
                    attr_int("count_include_pad", i64::from(p.count_include_pad)),
                ];
                self.emit(name, "AveragePool", vec![x], out, attrs);
            }
            Op::GlobalAvgPool => self.emit(name, "GlobalAveragePool", vec![x], out, vec![]),
            Op::Flatten { axis: 1 } => {
                self.emit(name, "Flatten", vec![x], out, vec![attr_int("axis", 1)])
            }
            Op::Flatten { axis } => {
                // IR Flatten keeps dims before `axis`; ONNX Flatten would merge them: Reshape.
                let mut target = vec![0i64; *axis];
                target.push(-1);
                self.reshape(name, x, &target, out);
            }
            Op::Reshape(r) => self.reshape(name, x, &r.shape, out),
            Op::Dropout => self.emit(name, "Dropout", vec![x], out, vec![]),
            Op::Identity => self.emit(name, "Identity", vec![x], out, vec![]),
        }
        Ok(())
    }

    fn reshape(&mut self, name: &str, x: String, target: &[i64], out: &str) {
        let shape_name = self.fresh(format!("{name}.shape"));
        self.inits.push(int64_init(&shape_name, target));
        self.emit(name, "Reshape", vec![x, shape_name], out, vec![]);
    }
}

/// Builds the float ONNX model of `graph` at `opset` (11..=21).
pub fn float_model(graph: &Graph, opset: i64) -> Result<ModelProto> {
    if !OPSET_RANGE.contains(&opset) {
        return Err(OnnxError::Export(format!("opset {opset} is outside 11..=21")));
    }
    let shapes = graph.infer_shapes()?;
    let order = graph.topo_order()?;
    let mut w = Writer::new(graph);
    for i in order {
        w.node(&graph.nodes[i])?;
    }
    let input = graph.inputs.iter().map(|i| value_info(&i.name, &i.shape)).collect();
    let output = graph
        .outputs
        .iter()
        .map(|o| {
            let shape = shapes
                .get(o)
                .ok_or_else(|| OnnxError::Export(format!("output '{o}' has no shape")))?;
            Ok(value_info(o, shape))
        })
        .collect::<Result<_>>()?;
    let Writer { nodes, inits, .. } = w;
    Ok(ModelProto {
        ir_version: Some(ir_version(opset)),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(opset),
        }],
        producer_name: Some("hawq".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(GraphProto {
            name: Some("hawq".into()),
            node: nodes,
            initializer: inits,
            input,
            output,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Writes `graph` as a float ONNX model to `path` (a temporary file renamed into place, so a
/// reader never sees a half-written model).
pub fn export_float(graph: &Graph, path: &Path, opset: i64) -> Result<()> {
    write_atomic(path, &float_model(graph, opset)?.encode_to_vec())
}

/// Writes `bytes` to a temporary file next to `path`, syncs it and renames it into place.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| OnnxError::Io { path: path.display().to_string(), source };
    let file_name = path
        .file_name()
        .ok_or_else(|| OnnxError::Export(format!("'{}' names no file", path.display())))?;
    let tmp =
        path.with_file_name(format!(".{}.tmp{}", file_name.to_string_lossy(), std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}
