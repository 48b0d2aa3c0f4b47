//! Typed errors of the ONNX importer and writer. Node errors name the node, its op type and the
//! model's opset, so a user can find the offending node in Netron or in the exporter's code.

use hawq_ir::IrError;
use thiserror::Error;

/// Where a node error happened: the node's (unique) name, its ONNX op type and the model opset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef {
    /// Node name (the ONNX name, or `op_type` + index when the model left it empty).
    pub name: String,
    /// ONNX op type, e.g. `Conv`.
    pub op_type: String,
    /// Default-domain opset the model imports.
    pub opset: i64,
}

impl NodeRef {
    /// An error about this node.
    pub fn err(&self, detail: impl Into<String>) -> OnnxError {
        OnnxError::Node {
            node: self.name.clone(),
            op_type: self.op_type.clone(),
            opset: self.opset,
            detail: detail.into(),
        }
    }

    /// An error about one attribute of this node.
    pub fn attr_err(&self, attribute: &str, detail: impl Into<String>) -> OnnxError {
        OnnxError::Attribute {
            node: self.name.clone(),
            op_type: self.op_type.clone(),
            opset: self.opset,
            attribute: attribute.to_string(),
            detail: detail.into(),
        }
    }
}

/// Everything that can go wrong reading or writing an ONNX model.
#[allow(missing_docs)] // each variant's message describes its fields
#[derive(Debug, Error)]
pub enum OnnxError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a valid `ModelProto`.
    #[error("not a valid ONNX model (protobuf decoding failed): {0}")]
    Decode(String),
    /// Something about the model as a whole (no graph, no default opset, ...).
    #[error("model: {0}")]
    Model(String),
    /// The model imports an opset hawq does not read.
    #[error(
        "model imports opset {version} of domain '{domain}'; hawq reads the default ONNX domain at opsets 11..=21"
    )]
    Opset { domain: String, version: i64 },
    /// A node whose op type (or domain) hawq does not import.
    #[error("node '{node}' ({op_type}, opset {opset}): unsupported op{}", domain_suffix(domain))]
    UnsupportedOp { node: String, op_type: String, domain: String, opset: i64 },
    /// An attribute that is unknown for the op, has the wrong type or an unsupported value.
    #[error("node '{node}' ({op_type}, opset {opset}): attribute '{attribute}': {detail}")]
    Attribute { node: String, op_type: String, opset: i64, attribute: String, detail: String },
    /// A node whose inputs, outputs or configuration hawq cannot represent.
    #[error("node '{node}' ({op_type}, opset {opset}): {detail}")]
    Node { node: String, op_type: String, opset: i64, detail: String },
    /// A tensor (initializer or constant) that is malformed or of an unsupported kind.
    #[error("tensor '{name}': {detail}")]
    Tensor { name: String, detail: String },
    /// A graph input hawq cannot represent.
    #[error("graph input '{name}': {detail}")]
    Input { name: String, detail: String },
    /// A graph output that is not an activation computed by the graph.
    #[error("graph output '{name}': {detail}")]
    Output { name: String, detail: String },
    /// The imported graph failed the IR's validation or shape inference.
    #[error("imported graph is invalid: {0}")]
    Ir(#[from] IrError),
    /// The IR graph cannot be written as ONNX.
    #[error("export: {0}")]
    Export(String),
    /// The integer model handed to the QDQ writer fails its own validation.
    #[error("integer model is invalid: {0}")]
    InvalidQModel(#[source] hawq_engine::EngineError),
}

fn domain_suffix(domain: &str) -> String {
    if domain.is_empty() { String::new() } else { format!(" (domain '{domain}')") }
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, OnnxError>;
