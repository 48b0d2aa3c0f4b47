//! The importer's state: what each ONNX value is (an IR activation, a stored tensor, a folded
//! constant), the IR graph being built with its inferred shapes, and one node's view with its
//! inputs, outputs and attributes.

use crate::attrs::Attrs;
use crate::error::{NodeRef, OnnxError, Result};
use crate::fold::IntTensor;
use crate::pb::{NodeProto, TensorProto};
use crate::tensor_data::{MAX_ELEMENTS, float_tensor, int_tensor};
use hawq_ir::infer::infer_node;
use hawq_ir::{Graph, Node, Op, Shape, Tensor};
use std::collections::{HashMap, HashSet};

/// What an ONNX value name stands for.
pub(crate) enum Value {
    /// An activation computed by the IR graph under this value's name.
    Act,
    /// An initializer or `Constant` tensor, decoded (and checked) when used.
    Stored(Box<TensorProto>),
    /// A float constant built from attributes.
    Float(Tensor),
    /// A folded integer tensor (possibly holding the symbolic batch).
    Int(IntTensor),
}

/// One ONNX node being imported.
pub(crate) struct NodeView<'a> {
    /// The node.
    pub proto: &'a NodeProto,
    /// Its unique name, op type and opset, for errors.
    pub at: NodeRef,
    /// Its attributes.
    pub attrs: Attrs<'a>,
}

impl<'a> NodeView<'a> {
    /// Input `i`, or `None` when absent or given as the empty name (an omitted optional input).
    pub(crate) fn input(&self, i: usize) -> Option<&'a str> {
        self.proto.input.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }

    /// Input `i`, which must be present.
    pub(crate) fn required(&self, i: usize) -> Result<&'a str> {
        self.input(i).ok_or_else(|| self.at.err(format!("input {i} is required")))
    }

    /// Checks the number of listed inputs.
    pub(crate) fn expect_inputs(&self, min: usize, max: usize) -> Result<()> {
        let n = self.proto.input.len();
        if n < min || n > max {
            let want = if min == max { min.to_string() } else { format!("{min}..={max}") };
            return Err(self.at.err(format!("expects {want} input(s), got {n}")));
        }
        Ok(())
    }

    /// An error about this node.
    pub(crate) fn err(&self, detail: impl Into<String>) -> OnnxError {
        self.at.err(detail)
    }
}

/// The importer's state.
pub(crate) struct Importer {
    /// Default-domain opset of the model.
    pub opset: i64,
    /// The IR graph under construction.
    pub graph: Graph,
    values: HashMap<String, Value>,
    shapes: HashMap<String, Shape>,
    uses: HashMap<String, usize>,
    /// Parameters inserted unchanged under their ONNX value name.
    plain_params: HashSet<String>,
}

impl Importer {
    /// An importer for a model at `opset` whose values are read `uses` times in total (node
    /// inputs plus graph outputs).
    pub(crate) fn new(opset: i64, uses: HashMap<String, usize>) -> Self {
        Self {
            opset,
            graph: Graph::default(),
            values: HashMap::new(),
            shapes: HashMap::new(),
            uses,
            plain_params: HashSet::new(),
        }
    }

    /// How many times the ONNX graph reads a value.
    pub(crate) fn uses(&self, name: &str) -> usize {
        self.uses.get(name).copied().unwrap_or(0)
    }

    /// Defines a value; a name defined twice is an error.
    pub(crate) fn define(&mut self, name: &str, value: Value) -> Result<()> {
        if name.is_empty() {
            return Err(OnnxError::Model("a value has an empty name".into()));
        }
        if self.values.contains_key(name) {
            return Err(OnnxError::Model(format!("value '{name}' is defined twice")));
        }
        self.values.insert(name.to_string(), value);
        Ok(())
    }

    /// Registers a graph input as an activation with its shape.
    pub(crate) fn define_input(&mut self, name: &str, shape: Shape) -> Result<()> {
        self.define(name, Value::Act)?;
        self.shapes.insert(name.to_string(), shape);
        Ok(())
    }

    fn value(&self, v: &NodeView, name: &str) -> Result<&Value> {
        self.values.get(name).ok_or_else(|| {
            v.err(format!(
                "reads '{name}', which no earlier node, initializer or graph input defines \
                 (nodes must be topologically sorted)"
            ))
        })
    }

    /// True when input `i` is an activation (not a constant).
    pub(crate) fn is_act(&self, v: &NodeView, i: usize) -> Result<bool> {
        Ok(matches!(self.value(v, v.required(i)?)?, Value::Act))
    }

    /// Input `i` as an activation: its value name and shape.
    pub(crate) fn act(&self, v: &NodeView, i: usize) -> Result<(String, Shape)> {
        let name = v.required(i)?;
        match (self.value(v, name)?, self.shapes.get(name)) {
            (Value::Act, Some(shape)) => Ok((name.to_string(), shape.clone())),
            _ => Err(v.err(format!(
                "input {i} ('{name}') is a constant; hawq only supports an activation here"
            ))),
        }
    }

    /// Input `i` as a float constant.
    pub(crate) fn float_const(&self, v: &NodeView, i: usize) -> Result<Tensor> {
        let name = v.required(i)?;
        match self.value(v, name)? {
            Value::Stored(t) => float_tensor(t),
            Value::Float(t) => Ok(t.clone()),
            Value::Act => Err(v.err(format!(
                "input {i} ('{name}') must be a constant (initializer or Constant), not an activation"
            ))),
            Value::Int(_) => Err(v.err(format!("input {i} ('{name}') must be a float tensor"))),
        }
    }

    /// Input `i` as an integer constant (possibly holding the symbolic batch).
    pub(crate) fn int_const(&self, v: &NodeView, i: usize) -> Result<IntTensor> {
        let name = v.required(i)?;
        match self.value(v, name)? {
            Value::Stored(t) => int_tensor(t),
            Value::Int(t) => Ok(t.clone()),
            Value::Act => Err(v.err(format!(
                "input {i} ('{name}') must be a constant integer tensor, not an activation"
            ))),
            Value::Float(_) => {
                Err(v.err(format!("input {i} ('{name}') must be an integer tensor")))
            }
        }
    }

    /// Input `i` as integer constants that are all known (axes, indices, bounds).
    pub(crate) fn known_ints(&self, v: &NodeView, i: usize) -> Result<Vec<i64>> {
        self.int_const(v, i)?.known().ok_or_else(|| {
            v.err(format!("input {i} depends on the batch size; it must be a known constant"))
        })
    }

    /// Input `i` as an unchanged parameter named after its ONNX value; returns the name and
    /// the shape.
    pub(crate) fn param(&mut self, v: &NodeView, i: usize) -> Result<(String, Vec<usize>)> {
        let name = v.required(i)?;
        if let Some(t) = self.graph.params.get(name).filter(|_| self.plain_params.contains(name)) {
            return Ok((name.to_string(), t.shape().to_vec()));
        }
        let tensor = self.float_const(v, i)?;
        let shape = tensor.shape().to_vec();
        let stored = self.add_param(name, tensor);
        if stored == name {
            self.plain_params.insert(name.to_string());
        }
        Ok((stored, shape))
    }

    /// Adds a (possibly derived) parameter under `preferred`, or under `preferred.1`, `.2`, ...
    /// when that name already holds a different tensor. Returns the name used.
    pub(crate) fn add_param(&mut self, preferred: &str, tensor: Tensor) -> String {
        let mut name = preferred.to_string();
        let mut k = 0;
        while let Some(existing) = self.graph.params.get(&name) {
            if *existing == tensor {
                return name;
            }
            k += 1;
            name = format!("{preferred}.{k}");
        }
        self.graph.params.insert(name.clone(), tensor);
        name
    }

    /// Adds an IR node computing ONNX value `output`, infers its shape on the spot (so later
    /// nodes and folds can read it) and defines `output` as an activation.
    pub(crate) fn push(
        &mut self,
        v: &NodeView,
        op: Op,
        inputs: Vec<String>,
        output: &str,
    ) -> Result<()> {
        let node = Node { name: v.at.name.clone(), op, inputs, output: output.to_string() };
        let ins: Vec<&Shape> = node
            .inputs
            .iter()
            .map(|i| self.shapes.get(i).ok_or_else(|| v.err(format!("'{i}' has no shape"))))
            .collect::<Result<_>>()?;
        // IR errors name the IR node and op; wrap them so they also name the ONNX op and opset.
        let ir_err = |e: hawq_ir::IrError| v.err(e.to_string());
        for p in node.op.params() {
            self.graph.require_param(&node, p).map_err(ir_err)?;
        }
        let shape = infer_node(&self.graph, &node, &ins).map_err(ir_err)?;
        let per_item =
            shape.0.iter().filter_map(|d| d.fixed()).try_fold(1usize, |a, d| a.checked_mul(d));
        if per_item.is_none_or(|n| n > MAX_ELEMENTS) {
            return Err(v.err(format!("output shape {shape} is implausibly large")));
        }
        self.define(output, Value::Act)?;
        self.shapes.insert(output.to_string(), shape);
        self.graph.nodes.push(node);
        Ok(())
    }

    /// Index of the IR node producing activation `value`.
    pub(crate) fn producer(&self, value: &str) -> Option<usize> {
        self.graph.nodes.iter().position(|n| n.output == value)
    }

    /// Renames the output of IR node `idx` to ONNX value `output` (used when a following ONNX
    /// node is folded into it, e.g. a bias `Add` into the `Linear` of a `MatMul`).
    pub(crate) fn rename_output(&mut self, idx: usize, output: &str) -> Result<()> {
        let old = std::mem::replace(&mut self.graph.nodes[idx].output, output.to_string());
        self.values.remove(&old);
        let shape = self
            .shapes
            .remove(&old)
            .ok_or_else(|| OnnxError::Model(format!("internal: value '{old}' has no shape")))?;
        self.define(output, Value::Act)?;
        self.shapes.insert(output.to_string(), shape);
        Ok(())
    }

    /// Defines `output` as an alias of a constant input (Identity of a constant).
    pub(crate) fn alias_const(&mut self, v: &NodeView, i: usize, output: &str) -> Result<()> {
        let name = v.required(i)?;
        let copy = match self.value(v, name)? {
            Value::Stored(t) => Value::Stored(t.clone()),
            Value::Float(t) => Value::Float(t.clone()),
            Value::Int(t) => Value::Int(t.clone()),
            Value::Act => return Err(v.err("internal: alias_const of an activation")),
        };
        self.define(output, copy)
    }

    /// The node's first output, which must be named; further outputs (masks, indices,
    /// training statistics) must be omitted or never read.
    pub(crate) fn main_output<'v>(&self, v: &NodeView<'v>) -> Result<&'v str> {
        let out = v.proto.output.first().map(String::as_str).filter(|s| !s.is_empty());
        let out = out.ok_or_else(|| v.err("has no output"))?;
        for extra in v.proto.output.iter().skip(1).filter(|s| !s.is_empty()) {
            if self.uses(extra) > 0 {
                return Err(v.err(format!(
                    "its extra output '{extra}' is read by the graph; hawq only computes the first output"
                )));
            }
        }
        Ok(out)
    }

    /// True when ONNX value `name` is an activation.
    pub(crate) fn is_act_value(&self, name: &str) -> bool {
        matches!(self.values.get(name), Some(Value::Act))
    }
}
