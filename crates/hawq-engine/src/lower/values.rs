//! The lowering's bookkeeping: quantized values per float value, formats, scales, shared
//! requantizations, dyadic multipliers, and the non-layer ops.

use super::{LowerConfig, RESIDUAL, Ranges, WIDE};
use crate::error::{EngineError, Result};
use crate::qmodel::{QNode, QOp, QValue, ValueId};
use hawq_ir::{Activation, Graph, Op, Shape};
use hawq_quant::{ActFormat, Dyadic};
use std::collections::{HashMap, HashSet};

/// Accumulates the integer model while walking the float graph in topological order.
pub(crate) struct Builder<'a> {
    pub graph: &'a Graph,
    ranges: &'a Ranges,
    pub cfg: &'a LowerConfig,
    shapes: &'a HashMap<String, Shape>,
    pub values: Vec<QValue>,
    pub nodes: Vec<QNode>,
    qval: HashMap<String, ValueId>,
    non_negative: HashMap<String, bool>,
    requants: HashMap<(ValueId, ActFormat), ValueId>,
    consumers: HashMap<String, Vec<usize>>,
}

/// Integer bounds of `fmt` intersected with an activation's bounds at `scale`.
pub(crate) fn clamp_bounds(fmt: ActFormat, act: Activation, scale: f32) -> (i64, i64) {
    let (lo, hi) = fmt.range();
    let (lo, hi) = if fmt.bits >= 32 { (i32::MIN as i64, i32::MAX as i64) } else { (lo, hi) };
    match act {
        Activation::None => (lo, hi),
        Activation::Relu => (lo.max(0), hi),
        Activation::Clip { min, max } => {
            let qmin = (min / scale).round_ties_even() as i64;
            let qmax = (max / scale).round_ties_even() as i64;
            (lo.max(qmin), hi.min(qmax).max(lo.max(qmin)))
        }
    }
}

impl<'a> Builder<'a> {
    pub fn new(
        graph: &'a Graph,
        ranges: &'a Ranges,
        cfg: &'a LowerConfig,
        shapes: &'a HashMap<String, Shape>,
    ) -> Self {
        let consumers = graph.consumers().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Self {
            graph,
            ranges,
            cfg,
            shapes,
            values: Vec::new(),
            nodes: Vec::new(),
            qval: HashMap::new(),
            non_negative: HashMap::new(),
            requants: HashMap::new(),
            consumers,
        }
    }

    /// The scale a value gets in `fmt` from its calibrated range (16-bit scale for int32).
    pub fn scale_of(&self, value: &str, fmt: ActFormat) -> Result<f32> {
        let &(lo, hi) = self
            .ranges
            .get(value)
            .ok_or_else(|| EngineError::MissingRange { value: value.to_string() })?;
        if !lo.is_finite() || !hi.is_finite() {
            return Err(EngineError::MissingRange {
                value: format!("{value} (range {lo}..{hi} is not finite)"),
            });
        }
        let scale_fmt = if fmt.bits >= 32 { ActFormat::signed(16) } else { fmt };
        Ok(scale_fmt.scale_for_range(lo, hi))
    }

    pub fn new_value(&mut self, name: &str, format: ActFormat, scale: f32) -> ValueId {
        let shape = self.shapes.get(name).cloned().unwrap_or(Shape(Vec::new()));
        self.values.push(QValue { name: name.to_string(), shape, format, scale });
        self.values.len() - 1
    }

    /// Makes float value `name` be represented by `id`.
    pub fn bind(&mut self, name: &str, id: ValueId, non_negative: bool) {
        self.qval.insert(name.to_string(), id);
        self.non_negative.insert(name.to_string(), non_negative);
    }

    pub fn value_of(&self, name: &str) -> Result<ValueId> {
        self.qval
            .get(name)
            .copied()
            .ok_or_else(|| EngineError::MissingRange { value: name.to_string() })
    }

    pub fn is_lowered(&self, name: &str) -> bool {
        self.qval.contains_key(name)
    }

    pub fn non_negative(&self, name: &str) -> bool {
        self.non_negative.get(name).copied().unwrap_or(false)
    }

    /// The one node reading `value`, if exactly one does and it is not a graph output.
    pub fn sole_consumer(&self, value: &str) -> Option<usize> {
        if self.graph.outputs.iter().any(|o| o == value) {
            return None;
        }
        match self.consumers.get(value).map(Vec::as_slice) {
            Some([one]) => Some(*one),
            _ => None,
        }
    }

    /// Indices of the nodes reading `value`.
    pub fn consumers_of(&self, value: &str) -> &[usize] {
        self.consumers.get(value).map(Vec::as_slice).unwrap_or(&[])
    }

    /// A dyadic for `ratio`, normalised to the model invariant `1 ≤ shift ≤ 62`: ratios below
    /// 2^-32 map every i32 to 0, which `{mult: 0, shift: 1}` reproduces exactly.
    pub fn dyadic(&self, ratio: f64, node: &str) -> Result<Dyadic> {
        let d = Dyadic::from_ratio(ratio)
            .map_err(|source| EngineError::Dyadic { node: node.to_string(), source })?;
        if d.mult == 0 || d.shift > 62 {
            return Ok(Dyadic { mult: 0, shift: 1 });
        }
        if d.shift < 1 {
            return Err(EngineError::Unsupported {
                node: node.to_string(),
                op: "Requant",
                why: format!("scale ratio {ratio} ≥ 2^30 cannot be requantized"),
            });
        }
        Ok(d)
    }

    /// The value of float value `name` in `fmt`, inserting (once) a requantization if needed.
    pub fn ensure_format(&mut self, name: &str, fmt: ActFormat) -> Result<ValueId> {
        let src = self.value_of(name)?;
        if self.values[src].format == fmt {
            return Ok(src);
        }
        if let Some(&id) = self.requants.get(&(src, fmt)) {
            return Ok(id);
        }
        let scale = self.scale_of(name, fmt)?;
        let node_name = format!("{name}:{}{}", if fmt.signed { "i" } else { "u" }, fmt.bits);
        let dyadic = self.dyadic(self.values[src].scale as f64 / scale as f64, &node_name)?;
        let id = self.new_value(name, fmt, scale);
        let (lo, hi) = clamp_bounds(fmt, Activation::None, scale);
        self.nodes.push(QNode {
            name: node_name,
            op: QOp::Requant { dyadic, lo, hi },
            inputs: vec![src],
            output: id,
        });
        self.requants.insert((src, fmt), id);
        Ok(id)
    }

    /// A standalone ReLU/Clip right after `value`, to absorb into the producer's clamp.
    pub fn trailing_activation(&self, value: &str) -> Option<(usize, Activation)> {
        let c = self.sole_consumer(value)?;
        match self.graph.nodes[c].op {
            Op::Relu => Some((c, Activation::Relu)),
            Op::Clip { min, max } => Some((c, Activation::Clip { min, max })),
            _ => None,
        }
    }

    fn pass_through(&mut self, idx: usize, op: QOp) -> Result<()> {
        let node = &self.graph.nodes[idx];
        let src = self.value_of(&node.inputs[0])?;
        let (fmt, scale) = (self.values[src].format, self.values[src].scale);
        let nonneg = self.non_negative(&node.inputs[0]);
        let id = self.new_value(&node.output, fmt, scale);
        self.nodes.push(QNode { name: node.name.clone(), op, inputs: vec![src], output: id });
        self.bind(&node.output.clone(), id, nonneg);
        Ok(())
    }

    /// Lowers every op that is not a conv/linear layer.
    pub fn lower_other(&mut self, idx: usize, absorbed: &mut HashSet<usize>) -> Result<()> {
        let node = &self.graph.nodes[idx];
        let unsupported = |why: &str| EngineError::Unsupported {
            node: node.name.clone(),
            op: node.op.name(),
            why: why.into(),
        };
        match &node.op {
            Op::Conv2d(_) | Op::Linear(_) => unreachable!("layers are lowered by lower_layer"),
            Op::BatchNorm(_) => {
                Err(unsupported("fold BatchNorm into its conv first (hawq_ir::passes::simplify)"))
            }
            Op::Identity | Op::Dropout => {
                let src = self.value_of(&node.inputs[0])?;
                let nonneg = self.non_negative(&node.inputs[0]);
                self.bind(&node.output.clone(), src, nonneg);
                Ok(())
            }
            Op::MaxPool(p) => self.pass_through(idx, QOp::MaxPool(p.clone())),
            Op::AvgPool(p) => self.pass_through(idx, QOp::AvgPool(p.clone())),
            Op::GlobalAvgPool => self.pass_through(idx, QOp::GlobalAvgPool),
            Op::Flatten { axis: 1 } => self.pass_through(idx, QOp::Flatten),
            Op::Flatten { .. } => Err(unsupported("only Flatten with axis 1 is supported")),
            Op::Reshape(_) => {
                let flat = self.shapes.get(&node.output).is_some_and(|s| s.rank() == 2);
                if flat {
                    self.pass_through(idx, QOp::Flatten)
                } else {
                    Err(unsupported("only reshapes to [N, features] are supported"))
                }
            }
            Op::Relu | Op::Clip { .. } => {
                let act = match node.op {
                    Op::Clip { min, max } => Activation::Clip { min, max },
                    _ => Activation::Relu,
                };
                let src = self.value_of(&node.inputs[0])?;
                let (fmt, scale) = (self.values[src].format, self.values[src].scale);
                let (lo, hi) = clamp_bounds(fmt, act, scale);
                let id = self.new_value(&node.output, fmt, scale);
                self.nodes.push(QNode {
                    name: node.name.clone(),
                    op: QOp::Clamp { lo, hi },
                    inputs: vec![src],
                    output: id,
                });
                self.bind(&node.output.clone(), id, act.non_negative());
                Ok(())
            }
            Op::Add => {
                let (mut out_name, mut act) = (node.output.clone(), Activation::None);
                if let Some((c, a)) = self.trailing_activation(&node.output) {
                    absorbed.insert(c);
                    out_name = self.graph.nodes[c].output.clone();
                    act = a;
                }
                let a = self.value_of(&node.inputs[0])?;
                let b = self.value_of(&node.inputs[1])?;
                let scale = self.scale_of(&out_name, RESIDUAL)?;
                let da = self.dyadic(self.values[a].scale as f64 / scale as f64, &node.name)?;
                let db = self.dyadic(self.values[b].scale as f64 / scale as f64, &node.name)?;
                let (lo, hi) = clamp_bounds(RESIDUAL, act, scale);
                let id = self.new_value(&out_name, RESIDUAL, scale);
                self.nodes.push(QNode {
                    name: node.name.clone(),
                    op: QOp::Add { a: da, b: db, lo, hi },
                    inputs: vec![a, b],
                    output: id,
                });
                self.bind(&out_name, id, act.non_negative());
                Ok(())
            }
            Op::Concat { axis: 1 } => {
                let scale = self.scale_of(&node.output, WIDE)?;
                let mut inputs = Vec::new();
                let mut dyadics = Vec::new();
                for v in &node.inputs {
                    let id = self.value_of(v)?;
                    dyadics.push(
                        self.dyadic(self.values[id].scale as f64 / scale as f64, &node.name)?,
                    );
                    inputs.push(id);
                }
                let nonneg = node.inputs.iter().all(|v| self.non_negative(v));
                let (lo, hi) = clamp_bounds(WIDE, Activation::None, scale);
                let id = self.new_value(&node.output, WIDE, scale);
                self.nodes.push(QNode {
                    name: node.name.clone(),
                    op: QOp::Concat { dyadics, lo, hi },
                    inputs,
                    output: id,
                });
                self.bind(&node.output.clone(), id, nonneg);
                Ok(())
            }
            Op::Concat { .. } => {
                Err(unsupported("only channel concatenation (axis 1) is supported"))
            }
        }
    }
}
