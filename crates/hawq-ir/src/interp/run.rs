//! Runs a whole graph node by node in topological order.

use super::{
    add, avg_pool, batch_norm, clip, concat, conv2d, flatten, global_avg_pool, linear, max_pool,
    relu, reshape,
};
use crate::error::{IrError, Result};
use crate::graph::{Graph, Node};
use crate::op::Op;
use crate::shape::Dim;
use crate::tensor::Tensor;
use std::collections::HashMap;

/// Runs the graph on concrete inputs (in `graph.inputs` order) and returns the outputs in
/// `graph.outputs` order.
///
/// The graph is validated and shape-inferred first, so structural problems come back as typed
/// errors before any arithmetic; intermediate values are dropped after their last use.
pub fn run(graph: &Graph, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
    let values = execute(graph, inputs, false)?;
    graph
        .outputs
        .iter()
        .map(|o| values.get(o).cloned().ok_or_else(|| IrError::DanglingOutput { value: o.clone() }))
        .collect()
}

/// Runs the graph and returns every value (graph inputs included) by value name, for per-layer
/// comparisons.
pub fn run_all(graph: &Graph, inputs: &[Tensor]) -> Result<HashMap<String, Tensor>> {
    execute(graph, inputs, true)
}

fn execute(graph: &Graph, inputs: &[Tensor], keep_all: bool) -> Result<HashMap<String, Tensor>> {
    let shapes = graph.infer_shapes()?;
    let order = graph.topo_order()?;
    let batch = bind_inputs(graph, inputs)?;
    let mut values: HashMap<String, Tensor> = HashMap::new();
    for (info, t) in graph.inputs.iter().zip(inputs) {
        values.insert(info.name.clone(), t.clone());
    }
    // Position (in `order`) of the last node reading each value.
    let mut last_use: HashMap<&str, usize> = HashMap::new();
    for (pos, &idx) in order.iter().enumerate() {
        for v in &graph.nodes[idx].inputs {
            last_use.insert(v.as_str(), pos);
        }
    }
    for (pos, &idx) in order.iter().enumerate() {
        let node = &graph.nodes[idx];
        let ins = node
            .inputs
            .iter()
            .map(|v| {
                values.get(v).ok_or_else(|| IrError::DanglingInput {
                    node: node.name.clone(),
                    op: node.op.name(),
                    value: v.clone(),
                })
            })
            .collect::<Result<Vec<&Tensor>>>()?;
        let out = eval_node(graph, node, &ins).map_err(|e| name_node(e, node))?;
        // Cross-check against shape inference so a disagreement names the node.
        let want = shapes.get(&node.output).map(|s| s.resolve(batch));
        if want.as_deref() != Some(out.shape()) {
            return Err(IrError::Shape {
                node: node.name.clone(),
                op: node.op.name(),
                detail: format!(
                    "interpreter produced shape {:?}, shape inference says {want:?}",
                    out.shape()
                ),
            });
        }
        values.insert(node.output.clone(), out);
        if !keep_all {
            for v in &node.inputs {
                if last_use.get(v.as_str()) == Some(&pos) && !graph.outputs.contains(v) {
                    values.remove(v);
                }
            }
        }
    }
    Ok(values)
}

/// Checks the inputs against the graph's declared shapes; returns the batch size they agree on
/// (1 when no input has a dynamic batch dimension).
fn bind_inputs(graph: &Graph, inputs: &[Tensor]) -> Result<usize> {
    if inputs.len() != graph.inputs.len() {
        return Err(IrError::InputCount { expected: graph.inputs.len(), got: inputs.len() });
    }
    let mut batch: Option<usize> = None;
    for (info, t) in graph.inputs.iter().zip(inputs) {
        let mismatch = |expected: String| IrError::InputShape {
            input: info.name.clone(),
            expected,
            got: t.shape().to_vec(),
        };
        let n = info.shape.matches(t.shape()).ok_or_else(|| mismatch(info.shape.to_string()))?;
        if t.shape().contains(&0) {
            return Err(mismatch(format!("{} with no zero dims", info.shape)));
        }
        if info.shape.dims().first() == Some(&Dim::Batch) {
            match batch {
                Some(b) if b != n => {
                    return Err(mismatch(format!(
                        "{} with batch {b} like the other inputs",
                        info.shape
                    )));
                }
                _ => batch = Some(n),
            }
        }
    }
    Ok(batch.unwrap_or(1))
}

/// Re-labels a kernel error with the node it happened in.
fn name_node(e: IrError, node: &Node) -> IrError {
    match e {
        IrError::OpInput { op, detail } => IrError::Shape { node: node.name.clone(), op, detail },
        other => other,
    }
}

/// Input `i` of a node (arity was validated, but a typed error beats a panic).
fn operand<'a>(node: &Node, ins: &[&'a Tensor], i: usize) -> Result<&'a Tensor> {
    ins.get(i).copied().ok_or_else(|| IrError::Arity {
        node: node.name.clone(),
        op: node.op.name(),
        expected: format!("at least {}", i + 1),
        got: ins.len(),
    })
}

fn eval_node(graph: &Graph, node: &Node, ins: &[&Tensor]) -> Result<Tensor> {
    let x = operand(node, ins, 0)?;
    let param = |name: &str| graph.require_param(node, name);
    Ok(match &node.op {
        Op::Conv2d(c) => {
            let bias = c.bias.as_deref().map(param).transpose()?;
            conv2d(x, param(&c.weight)?, bias, c)?
        }
        Op::Linear(l) => {
            let bias = l.bias.as_deref().map(param).transpose()?;
            linear(x, param(&l.weight)?, bias, l)?
        }
        Op::BatchNorm(b) => batch_norm(
            x,
            param(&b.scale)?,
            param(&b.bias)?,
            param(&b.mean)?,
            param(&b.var)?,
            b.eps,
        )?,
        Op::Relu => relu(x),
        Op::Clip { min, max } => clip(x, *min, *max)?,
        Op::Add => add(x, operand(node, ins, 1)?)?,
        Op::Concat { axis } => concat(ins, *axis)?,
        Op::MaxPool(p) => max_pool(x, p)?,
        Op::AvgPool(p) => avg_pool(x, p)?,
        Op::GlobalAvgPool => global_avg_pool(x)?,
        Op::Flatten { axis } => flatten(x, *axis)?,
        Op::Reshape(r) => reshape(x, &r.shape)?,
        Op::Dropout | Op::Identity => x.clone(),
    })
}
