//! Compiling a [`Graph`] into an execution plan: nodes in topological order, values and
//! parameters addressed by index, every window geometry precomputed, so the hot loops never
//! look anything up by name.

use crate::error::{Result, TrainError};
use hawq_ir::infer::window_out;
use hawq_ir::{Activation, Dim, Graph, Node, Op, Shape};
use std::collections::HashMap;

/// What a parameter tensor is to the engine (decides weight decay, gradients and JVP support).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    /// Conv weight `[out, in/groups, kh, kw]`.
    ConvWeight,
    /// Linear weight `[out, in]`.
    LinearWeight,
    /// Conv or linear bias `[out]`.
    Bias,
    /// BatchNorm γ.
    BnScale,
    /// BatchNorm β.
    BnShift,
    /// BatchNorm running mean (a buffer: no gradient).
    RunningMean,
    /// BatchNorm running variance (a buffer: no gradient).
    RunningVar,
}

impl ParamKind {
    /// True for tensors that gradient descent updates (everything but BN running statistics).
    pub fn trainable(self) -> bool {
        !matches!(self, ParamKind::RunningMean | ParamKind::RunningVar)
    }
}

/// One parameter tensor of the network.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Name in the graph (`layer1.0.conv1.weight`).
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Role.
    pub kind: ParamKind,
    /// Node that reads it.
    pub node: String,
}

impl ParamInfo {
    /// Element count.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// Geometry of one convolution on its (fixed) input size.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConvGeom {
    pub cin: usize,
    pub cout: usize,
    pub groups: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    pub in_hw: [usize; 2],
    pub out_hw: [usize; 2],
    pub act: Activation,
}

impl ConvGeom {
    /// Rows of one group's im2col matrix: `in/groups · kh · kw`.
    pub fn k_len(&self) -> usize {
        self.cin / self.groups * self.kernel[0] * self.kernel[1]
    }
    /// Output pixels per channel.
    pub fn pixels(&self) -> usize {
        self.out_hw[0] * self.out_hw[1]
    }
    /// A 1×1, stride-1, unpadded conv reads its input directly as the im2col matrix.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.pads == [0; 4]
    }
}

/// Geometry of one pooling window on its input size.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PoolGeom {
    pub channels: usize,
    pub in_hw: [usize; 2],
    pub out_hw: [usize; 2],
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub pads: [usize; 4],
    pub dilation: [usize; 2],
    pub count_include_pad: bool,
}

impl PoolGeom {
    /// Input index (within a plane) of tap `(ky, kx)` of output `(oy, ox)`, if not padding.
    pub fn tap(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<usize> {
        let y = (oy * self.stride[0] + ky * self.dilation[0]).checked_sub(self.pads[0])?;
        let x = (ox * self.stride[1] + kx * self.dilation[1]).checked_sub(self.pads[1])?;
        (y < self.in_hw[0] && x < self.in_hw[1]).then_some(y * self.in_hw[1] + x)
    }

    /// PyTorch's average-pool divisor with `count_include_pad`: the window clipped to the
    /// padded extent.
    pub fn padded_cells(&self, oy: usize, ox: usize) -> usize {
        let span = |o: usize, axis: usize| {
            let start = o * self.stride[axis];
            let end = (start + self.kernel[axis])
                .min(self.pads[axis] + self.in_hw[axis] + self.pads[axis + 2]);
            end.saturating_sub(start)
        };
        span(oy, 0) * span(ox, 1)
    }
}

/// What a step computes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StepKind {
    Conv {
        geom: ConvGeom,
        weight: usize,
        bias: Option<usize>,
    },
    Linear {
        inf: usize,
        outf: usize,
        weight: usize,
        bias: Option<usize>,
        act: Activation,
    },
    BatchNorm {
        channels: usize,
        plane: usize,
        p: [usize; 4],
        eps: f64,
    },
    Relu,
    Clip {
        min: f64,
        max: f64,
    },
    Add,
    /// Per item: `outer` repetitions of each input's contiguous block (`blocks[i]` values).
    Concat {
        outer: usize,
        blocks: Vec<usize>,
    },
    MaxPool(PoolGeom),
    AvgPool(PoolGeom),
    GlobalAvgPool {
        plane: usize,
    },
    /// Flatten, Reshape, Identity: same data, new shape.
    Alias,
    Dropout,
    /// Fake quantization (QAT): the value rounded onto an integer grid by a
    /// [`crate::FakeQuantHook`]; identity gradient (straight-through estimator).
    FakeQuant {
        /// Site number, as returned by [`Plan::add_fake_quant`].
        site: usize,
    },
}

/// One node of the plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    pub node: String,
    pub op: &'static str,
    pub kind: StepKind,
    pub inputs: Vec<usize>,
    pub output: usize,
}

/// A compiled graph: steps in execution order over indexed values and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub(crate) steps: Vec<Step>,
    /// Elements per batch item of each value.
    pub(crate) item_len: Vec<usize>,
    pub(crate) value_names: Vec<String>,
    pub(crate) input: usize,
    pub(crate) output: usize,
    pub(crate) params: Vec<ParamInfo>,
}

impl Plan {
    /// Compiles a graph with one batched input and one output.
    pub fn compile(graph: &Graph) -> Result<Plan> {
        let shapes = graph.infer_shapes()?;
        let order = graph.topo_order()?;
        let [input] = graph.inputs.as_slice() else {
            return Err(unsupported_graph(format!("{} graph inputs, need 1", graph.inputs.len())));
        };
        let [output] = graph.outputs.as_slice() else {
            return Err(unsupported_graph(format!("{} outputs, need 1", graph.outputs.len())));
        };
        let mut vals = Values::default();
        let input_idx = vals.add(&shapes, &input.name, "graph input")?;
        let mut params: Vec<ParamInfo> = Vec::new();
        let mut param_idx: HashMap<String, usize> = HashMap::new();
        let mut steps = Vec::with_capacity(order.len());
        for &i in &order {
            let node = &graph.nodes[i];
            let inputs: Vec<usize> = node.inputs.iter().map(|v| vals.index[v]).collect();
            let in_shape = vals.item_shapes[inputs[0]].clone();
            let mut param = |name: &str, kind: ParamKind| -> Result<usize> {
                if let Some(&p) = param_idx.get(name) {
                    return Err(TrainError::Unsupported {
                        node: node.name.clone(),
                        op: node.op.name(),
                        detail: format!(
                            "parameter '{name}' is shared with node '{}'",
                            params[p].node
                        ),
                    });
                }
                let t = graph.require_param(node, name)?;
                params.push(ParamInfo {
                    name: name.to_string(),
                    shape: t.shape().to_vec(),
                    kind,
                    node: node.name.clone(),
                });
                param_idx.insert(name.to_string(), params.len() - 1);
                Ok(params.len() - 1)
            };
            let kind = match &node.op {
                Op::Conv2d(c) => {
                    let [_, h, w] = spatial(node, &in_shape)?;
                    let out_hw = [
                        window_out(
                            h,
                            c.kernel[0],
                            c.stride[0],
                            c.pads[0],
                            c.pads[2],
                            c.dilation[0],
                            false,
                        ),
                        window_out(
                            w,
                            c.kernel[1],
                            c.stride[1],
                            c.pads[1],
                            c.pads[3],
                            c.dilation[1],
                            false,
                        ),
                    ];
                    let [Some(oh), Some(ow)] = out_hw else {
                        return Err(unsupported(node, "conv window does not fit".into()));
                    };
                    let weight = param(&c.weight, ParamKind::ConvWeight)?;
                    let bias = c.bias.as_deref().map(|b| param(b, ParamKind::Bias)).transpose()?;
                    let geom = ConvGeom {
                        cin: c.in_channels,
                        cout: c.out_channels,
                        groups: c.groups,
                        kernel: c.kernel,
                        stride: c.stride,
                        pads: c.pads,
                        dilation: c.dilation,
                        in_hw: [h, w],
                        out_hw: [oh, ow],
                        act: c.activation,
                    };
                    StepKind::Conv { geom, weight, bias }
                }
                Op::Linear(l) => StepKind::Linear {
                    inf: l.in_features,
                    outf: l.out_features,
                    weight: param(&l.weight, ParamKind::LinearWeight)?,
                    bias: l.bias.as_deref().map(|b| param(b, ParamKind::Bias)).transpose()?,
                    act: l.activation,
                },
                Op::BatchNorm(b) => StepKind::BatchNorm {
                    channels: b.channels,
                    plane: in_shape[1..].iter().product(),
                    p: [
                        param(&b.scale, ParamKind::BnScale)?,
                        param(&b.bias, ParamKind::BnShift)?,
                        param(&b.mean, ParamKind::RunningMean)?,
                        param(&b.var, ParamKind::RunningVar)?,
                    ],
                    eps: f64::from(b.eps),
                },
                Op::Relu => StepKind::Relu,
                Op::Clip { min, max } => {
                    StepKind::Clip { min: f64::from(*min), max: f64::from(*max) }
                }
                Op::Add => StepKind::Add,
                Op::Concat { axis } => {
                    // `axis` counts the batch dim; item dims start at axis 1.
                    let outer: usize = in_shape[..axis - 1].iter().product();
                    let blocks = inputs
                        .iter()
                        .map(|&v| vals.item_shapes[v][axis - 1..].iter().product())
                        .collect();
                    StepKind::Concat { outer, blocks }
                }
                Op::MaxPool(p) => StepKind::MaxPool(pool_geom(
                    node,
                    &in_shape,
                    &shapes[&node.output].resolve(1),
                    p.kernel,
                    p.stride,
                    p.pads,
                    p.dilation,
                    false,
                )?),
                Op::AvgPool(p) => StepKind::AvgPool(pool_geom(
                    node,
                    &in_shape,
                    &shapes[&node.output].resolve(1),
                    p.kernel,
                    p.stride,
                    p.pads,
                    [1, 1],
                    p.count_include_pad,
                )?),
                Op::GlobalAvgPool => {
                    let [_, h, w] = spatial(node, &in_shape)?;
                    StepKind::GlobalAvgPool { plane: h * w }
                }
                Op::Flatten { .. } | Op::Reshape(_) | Op::Identity => StepKind::Alias,
                Op::Dropout => StepKind::Dropout,
            };
            let output = vals.add(&shapes, &node.output, &node.name)?;
            steps.push(Step { node: node.name.clone(), op: node.op.name(), kind, inputs, output });
        }
        let output_idx = *vals
            .index
            .get(output)
            .ok_or_else(|| unsupported_graph(format!("output '{output}' is not produced")))?;
        let item_len = vals.item_shapes.iter().map(|s| s.iter().product()).collect();
        Ok(Plan {
            steps,
            item_len,
            value_names: vals.names,
            input: input_idx,
            output: output_idx,
            params,
        })
    }

    /// The parameter tensors, in plan order.
    pub fn params(&self) -> &[ParamInfo] {
        &self.params
    }

    /// Index of a parameter by name.
    pub fn param_index(&self, name: &str) -> Result<usize> {
        self.params
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| TrainError::UnknownParam { name: name.to_string() })
    }

    /// Elements per batch item of the graph input.
    pub fn input_len(&self) -> usize {
        self.item_len[self.input]
    }

    /// Logits per batch item.
    pub fn output_len(&self) -> usize {
        self.item_len[self.output]
    }

    /// Value names by index (graph input first, then node outputs in execution order).
    pub fn value_names(&self) -> &[String] {
        &self.value_names
    }

    /// Number of values (graph input and node outputs).
    pub fn num_values(&self) -> usize {
        self.item_len.len()
    }

    /// Number of fake-quantization sites added by [`Plan::add_fake_quant`].
    pub fn fake_quant_sites(&self) -> usize {
        self.steps.iter().filter(|s| matches!(s.kind, StepKind::FakeQuant { .. })).count()
    }

    /// Inserts a fake-quantization step on value `value` (a graph value name) and returns its
    /// site number (0, 1, … in the order of the calls).
    ///
    /// - `readers: None` — every node reading `value` (and the graph output, if it is `value`)
    ///   reads the fake-quantized copy instead;
    /// - `readers: Some(nodes)` — only those nodes are rewired. The new step reads what they
    ///   currently read for `value` (possibly an earlier site's output), so a second format of
    ///   a value is quantized from the first one, as a requantization in the integer model is.
    ///
    /// Without a [`crate::FakeQuantHook`] the step copies its input.
    pub fn add_fake_quant(&mut self, value: &str, readers: Option<&[String]>) -> Result<usize> {
        let err = |detail: String| TrainError::Unsupported {
            node: value.to_string(),
            op: "FakeQuant",
            detail,
        };
        let v = self
            .value_names
            .iter()
            .position(|n| n == value)
            .ok_or_else(|| err(format!("no value named '{value}'")))?;
        // The value each rewired reader currently reads in place of `v` (v or a copy of it).
        let copies: Vec<usize> = std::iter::once(v)
            .chain(self.steps.iter().filter_map(|s| match s.kind {
                StepKind::FakeQuant { .. } if self.origin(s.output) == v => Some(s.output),
                _ => None,
            }))
            .collect();
        let targets: Vec<(usize, usize)> = self
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| readers.is_none_or(|names| names.contains(&s.node)))
            .flat_map(|(i, s)| {
                let copies = &copies;
                s.inputs
                    .iter()
                    .enumerate()
                    .filter(move |(_, x)| match readers {
                        // Everything reading the value itself (earlier copies included).
                        None => **x == v,
                        Some(_) => copies.contains(x),
                    })
                    .map(move |(k, _)| (i, k))
            })
            .collect();
        let src = match readers {
            None => v,
            Some(names) => {
                let mut read = targets.iter().map(|&(i, k)| self.steps[i].inputs[k]);
                let first = read
                    .next()
                    .ok_or_else(|| err(format!("none of the readers {names:?} reads '{value}'")))?;
                if read.any(|x| x != first) {
                    return Err(err(format!("readers {names:?} read different copies")));
                }
                first
            }
        };
        let site = self.fake_quant_sites();
        let out = self.item_len.len();
        self.item_len.push(self.item_len[v]);
        self.value_names.push(format!("{value}#fq{site}"));
        for &(i, k) in &targets {
            self.steps[i].inputs[k] = out;
        }
        if readers.is_none() && self.output == v {
            self.output = out;
        }
        // Right after the producer of `src`, which precedes every reader.
        let at = self.steps.iter().position(|s| s.output == src).map_or(0, |p| p + 1);
        let step = Step {
            node: format!("{value}#fq{site}"),
            op: "FakeQuant",
            kind: StepKind::FakeQuant { site },
            inputs: vec![src],
            output: out,
        };
        self.steps.insert(at, step);
        Ok(site)
    }

    /// The graph value a (chain of) fake-quantized copies stems from.
    fn origin(&self, mut v: usize) -> usize {
        while let Some(s) = self.steps.iter().find(|s| s.output == v) {
            match s.kind {
                StepKind::FakeQuant { .. } => v = s.inputs[0],
                _ => break,
            }
        }
        v
    }
}

/// Values seen so far: index by name, per-item shape, name by index.
#[derive(Default)]
struct Values {
    index: HashMap<String, usize>,
    item_shapes: Vec<Vec<usize>>,
    names: Vec<String>,
}

impl Values {
    /// Registers value `name` (produced by `node`), which must have a leading batch dim.
    fn add(&mut self, shapes: &HashMap<String, Shape>, name: &str, node: &str) -> Result<usize> {
        let shape = shapes
            .get(name)
            .ok_or_else(|| unsupported_graph(format!("value '{name}' has no shape")))?;
        if shape.dims().first() != Some(&Dim::Batch) {
            return Err(TrainError::Unsupported {
                node: node.to_string(),
                op: "value",
                detail: format!("value '{name}' of shape {shape} has no leading batch dim"),
            });
        }
        self.item_shapes.push(shape.dims()[1..].iter().map(|d| d.fixed().unwrap_or(1)).collect());
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        Ok(self.names.len() - 1)
    }
}

fn unsupported_graph(detail: String) -> TrainError {
    TrainError::Unsupported { node: "graph".into(), op: "graph", detail }
}

fn unsupported(node: &Node, detail: String) -> TrainError {
    TrainError::Unsupported { node: node.name.clone(), op: node.op.name(), detail }
}

fn spatial(node: &Node, item: &[usize]) -> Result<[usize; 3]> {
    match *item {
        [c, h, w] => Ok([c, h, w]),
        _ => Err(unsupported(node, format!("expects a CHW item, got {item:?}"))),
    }
}

#[allow(clippy::too_many_arguments)] // a window's full description
fn pool_geom(
    node: &Node,
    item: &[usize],
    out: &[usize],
    kernel: [usize; 2],
    stride: [usize; 2],
    pads: [usize; 4],
    dilation: [usize; 2],
    count_include_pad: bool,
) -> Result<PoolGeom> {
    let [c, h, w] = spatial(node, item)?;
    let [_, _, oh, ow] = *out else {
        return Err(unsupported(node, format!("pool output {out:?} is not NCHW")));
    };
    Ok(PoolGeom {
        channels: c,
        in_hw: [h, w],
        out_hw: [oh, ow],
        kernel,
        stride,
        pads,
        dilation,
        count_include_pad,
    })
}
