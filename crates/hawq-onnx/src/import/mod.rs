//! ONNX → IR import: model checks (opset, graph inputs), initializers, one pass over the nodes in
//! file order (ONNX requires topological order), graph outputs, then the IR's shape inference.
//! Any error aborts the whole import: no partial graph is ever returned.

pub(crate) mod context;
mod registry;

use crate::attrs::Attrs;
use crate::error::{NodeRef, OnnxError, Result};
use crate::pb::tensor_proto::DataType;
use crate::pb::tensor_shape_proto::dimension::Value as DimValue;
use crate::pb::type_proto::Value as TypeValue;
use crate::pb::{GraphProto, ModelProto, ValueInfoProto};
use crate::tensor_data::{MAX_ELEMENTS, dtype_name};
use bytes::Bytes;
use context::{Importer, NodeView, Value};
use hawq_ir::limits::{LimitError, Limits};
use hawq_ir::{Dim, Graph, Shape, ValueInfo};
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Lowest and highest default-domain opsets hawq reads.
pub const OPSET_RANGE: std::ops::RangeInclusive<i64> = 11..=21;

/// An imported model: the IR graph with its parameters, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The graph; its `params` hold the initializers under their ONNX names.
    pub graph: Graph,
    /// Default-domain opset the model imports.
    pub opset: i64,
    /// Producer name and version recorded in the model (e.g. `pytorch 2.15.0`).
    pub producer: String,
}

/// Reads and imports an `.onnx` file.
pub fn import_file(path: &Path) -> Result<Imported> {
    // File size capped by HAWQ_MAX_FILE_BYTES (hawq_ir::limits) before reading.
    let limits = Limits::from_env().map_err(|e| OnnxError::Model(e.to_string()))?;
    let bytes = limits.read_file(path).map_err(|e| match e {
        LimitError::Io { source, .. } => OnnxError::Io { path: path.display().to_string(), source },
        other => OnnxError::Model(other.to_string()),
    })?;
    import_bytes(Bytes::from(bytes))
}

/// Imports a serialized `ModelProto`. Tensor payloads stay slices of `bytes` until they are
/// decoded into parameters.
pub fn import_bytes(bytes: Bytes) -> Result<Imported> {
    let model = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    import_model(model)
}

/// The default-domain opset of a model, checked against [`OPSET_RANGE`].
fn default_opset(model: &ModelProto) -> Result<i64> {
    let entry = model.opset_import.iter().find(|o| matches!(o.domain(), "" | "ai.onnx"));
    let version = entry
        .map(|o| o.version())
        .ok_or_else(|| OnnxError::Model("imports no opset of the default ONNX domain".into()))?;
    if !OPSET_RANGE.contains(&version) {
        return Err(OnnxError::Opset { domain: String::new(), version });
    }
    Ok(version)
}

/// Imports a decoded model.
pub fn import_model(model: ModelProto) -> Result<Imported> {
    let opset = default_opset(&model)?;
    let producer =
        format!("{} {}", model.producer_name(), model.producer_version()).trim().to_string();
    let graph = model.graph.ok_or_else(|| OnnxError::Model("has no graph".into()))?;
    let graph = import_graph(graph, opset)?;
    graph.infer_shapes()?;
    Ok(Imported { graph, opset, producer })
}

/// Shape of a graph input: FLOAT, known rank, first dim becomes the dynamic batch, other dims
/// must be known.
fn input_shape(vi: &ValueInfoProto) -> Result<Shape> {
    let err = |detail: String| OnnxError::Input { name: vi.name().to_string(), detail };
    let tensor = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(TypeValue::TensorType(t)) => t,
        _ => return Err(err("must be a tensor".into())),
    };
    if tensor.elem_type() != DataType::Float as i32 {
        return Err(err(format!("must be FLOAT, is {}", dtype_name(tensor.elem_type()))));
    }
    let dims = &tensor.shape.as_ref().ok_or_else(|| err("has no shape".into()))?.dim;
    if dims.is_empty() {
        return Err(err("must have a batch dimension".into()));
    }
    let mut shape = vec![Dim::Batch];
    let mut per_item: usize = 1;
    for (i, d) in dims.iter().enumerate().skip(1) {
        let n = match d.value {
            Some(DimValue::DimValue(n)) if n > 0 => n as usize,
            _ => return Err(err(format!("dimension {i} must be a known positive size"))),
        };
        per_item = per_item
            .checked_mul(n)
            .filter(|&p| p <= MAX_ELEMENTS)
            .ok_or_else(|| err("shape is implausibly large".into()))?;
        shape.push(Dim::Fixed(n));
    }
    Ok(Shape(shape))
}

/// How often each value is read (node inputs and graph outputs).
fn use_counts(graph: &GraphProto) -> HashMap<String, usize> {
    let mut uses: HashMap<String, usize> = HashMap::new();
    let reads = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter())
        .chain(graph.output.iter().map(|o| o.name.as_ref().unwrap_or(&EMPTY)));
    for name in reads.filter(|s| !s.is_empty()) {
        *uses.entry(name.clone()).or_default() += 1;
    }
    uses
}

static EMPTY: String = String::new();

/// A unique IR node name: the ONNX name, or `op_type` + index when empty.
fn node_name(taken: &mut HashSet<String>, given: &str, op_type: &str, index: usize) -> String {
    let base = if given.is_empty() { format!("{op_type}_{index}") } else { given.to_string() };
    let mut name = base.clone();
    let mut k = 0;
    while taken.contains(&name) {
        k += 1;
        name = format!("{base}_{k}");
    }
    taken.insert(name.clone());
    name
}

fn import_graph(graph: GraphProto, opset: i64) -> Result<Graph> {
    let uses = use_counts(&graph);
    let GraphProto { node: nodes, initializer, input, output, sparse_initializer, .. } = graph;
    if !sparse_initializer.is_empty() {
        return Err(OnnxError::Model("sparse initializers are not supported".into()));
    }
    let mut ctx = Importer::new(opset, uses);
    let mut init_names = HashSet::new();
    for t in initializer {
        let name = t.name().to_string();
        init_names.insert(name.clone());
        ctx.define(&name, Value::Stored(Box::new(t)))?;
    }
    // Old exporters list initializers among the graph inputs: those are parameters.
    for vi in input.iter().filter(|vi| !init_names.contains(vi.name())) {
        let shape = input_shape(vi)?;
        ctx.define_input(vi.name(), shape.clone())?;
        ctx.graph.inputs.push(ValueInfo { name: vi.name().to_string(), shape });
    }
    if ctx.graph.inputs.is_empty() {
        return Err(OnnxError::Model("graph has no activation input".into()));
    }
    let mut taken = HashSet::new();
    for (index, proto) in nodes.iter().enumerate() {
        let at = NodeRef {
            name: node_name(&mut taken, proto.name(), proto.op_type(), index),
            op_type: proto.op_type().to_string(),
            opset,
        };
        if !matches!(proto.domain(), "" | "ai.onnx") {
            return Err(OnnxError::UnsupportedOp {
                node: at.name,
                op_type: at.op_type,
                domain: proto.domain().to_string(),
                opset,
            });
        }
        let attrs = Attrs::new(at.clone(), &proto.attribute)?;
        let mut view = NodeView { proto, at, attrs };
        registry::import_node(&mut ctx, &mut view)?;
        view.attrs.finish()?;
    }
    for vi in &output {
        let name = vi.name();
        if !ctx.is_act_value(name) {
            return Err(OnnxError::Output {
                name: name.to_string(),
                detail: "is not an activation computed by the graph (missing or constant)".into(),
            });
        }
        ctx.graph.outputs.push(name.to_string());
    }
    if ctx.graph.outputs.is_empty() {
        return Err(OnnxError::Model("graph has no output".into()));
    }
    Ok(ctx.graph)
}
