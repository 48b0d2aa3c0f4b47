//! Shape inference: one rule per op, checked against the op's parameters. Errors name the node.

use crate::error::{IrError, Result};
use crate::graph::{Graph, Node};
use crate::op::{Conv2d, Op};
use crate::shape::{Dim, Shape};
use std::collections::HashMap;

/// Output length of a sliding window along one axis, PyTorch/ONNX rules included (with
/// `ceil_mode`, a last window that would start entirely in the end padding is dropped).
/// Returns `None` if the window does not fit at all.
pub fn window_out(
    len: usize,
    k: usize,
    stride: usize,
    pad_begin: usize,
    pad_end: usize,
    dilation: usize,
    ceil_mode: bool,
) -> Option<usize> {
    if k == 0 || stride == 0 || dilation == 0 {
        return None;
    }
    let span = dilation.checked_mul(k - 1)?.checked_add(1)?;
    let padded = len.checked_add(pad_begin)?.checked_add(pad_end)?;
    if padded < span {
        return None;
    }
    let room = padded - span;
    let mut out = if ceil_mode { room.div_ceil(stride) + 1 } else { room / stride + 1 };
    if ceil_mode && (out - 1) * stride >= len + pad_begin {
        out -= 1;
    }
    Some(out)
}

fn err(node: &Node, detail: String) -> IrError {
    IrError::Shape { node: node.name.clone(), op: node.op.name(), detail }
}

fn attr_err(node: &Node, detail: String) -> IrError {
    IrError::Attribute { node: node.name.clone(), op: node.op.name(), detail }
}

fn expect_rank(node: &Node, s: &Shape, rank: usize) -> Result<()> {
    if s.rank() != rank {
        return Err(err(node, format!("expects a rank-{rank} input, got {s}")));
    }
    Ok(())
}

fn channel(node: &Node, s: &Shape, axis: usize) -> Result<usize> {
    s.fixed_dim(axis).ok_or_else(|| err(node, format!("dimension {axis} of {s} must be known")))
}

fn check_param(graph: &Graph, node: &Node, name: &str, want: &[usize]) -> Result<()> {
    let t = graph.require_param(node, name)?;
    if t.shape() != want {
        return Err(err(
            node,
            format!("parameter '{name}' has shape {:?}, expected {want:?}", t.shape()),
        ));
    }
    Ok(())
}

fn spatial(node: &Node, s: &Shape) -> Result<(usize, usize)> {
    expect_rank(node, s, 4)?;
    Ok((channel(node, s, 2)?, channel(node, s, 3)?))
}

fn window(
    node: &Node,
    hw: (usize, usize),
    k: [usize; 2],
    st: [usize; 2],
    pads: [usize; 4],
    dil: [usize; 2],
    ceil: bool,
) -> Result<(usize, usize)> {
    if k.contains(&0) || st.contains(&0) || dil.contains(&0) {
        return Err(attr_err(
            node,
            format!("kernel {k:?}, stride {st:?} and dilation {dil:?} must be positive"),
        ));
    }
    let h = window_out(hw.0, k[0], st[0], pads[0], pads[2], dil[0], ceil);
    let w = window_out(hw.1, k[1], st[1], pads[1], pads[3], dil[1], ceil);
    match (h, w) {
        (Some(h), Some(w)) if h > 0 && w > 0 => Ok((h, w)),
        _ => Err(err(
            node,
            format!(
                "window {k:?} (stride {st:?}, pads {pads:?}, dilation {dil:?}) does not fit input {}x{}",
                hw.0, hw.1
            ),
        )),
    }
}

fn conv_shape(graph: &Graph, node: &Node, c: &Conv2d, x: &Shape) -> Result<Shape> {
    let (h, w) = spatial(node, x)?;
    let cin = channel(node, x, 1)?;
    if c.groups == 0
        || !c.in_channels.is_multiple_of(c.groups)
        || !c.out_channels.is_multiple_of(c.groups)
    {
        return Err(attr_err(
            node,
            format!(
                "groups {} must divide in {} and out {} channels",
                c.groups, c.in_channels, c.out_channels
            ),
        ));
    }
    if c.in_channels == 0 || c.out_channels == 0 {
        return Err(attr_err(node, "channel counts must be positive".into()));
    }
    if cin != c.in_channels {
        return Err(err(node, format!("input has {cin} channels, conv expects {}", c.in_channels)));
    }
    check_param(graph, node, &c.weight, &c.weight_shape())?;
    if let Some(b) = &c.bias {
        check_param(graph, node, b, &[c.out_channels])?;
    }
    let (oh, ow) = window(node, (h, w), c.kernel, c.stride, c.pads, c.dilation, false)?;
    Ok(Shape(vec![x.0[0], Dim::Fixed(c.out_channels), Dim::Fixed(oh), Dim::Fixed(ow)]))
}

fn reshape_concrete(node: &Node, x: &Shape, target: &[i64]) -> Result<Shape> {
    let total: usize = x.0.iter().filter_map(|d| d.fixed()).product();
    let mut out: Vec<Option<usize>> = Vec::with_capacity(target.len());
    for (i, &t) in target.iter().enumerate() {
        out.push(match t {
            0 => Some(x.fixed_dim(i).ok_or_else(|| {
                attr_err(node, format!("target {target:?} copies dim {i} that {x} lacks"))
            })?),
            -1 => None,
            t if t > 0 => Some(t as usize),
            _ => return Err(attr_err(node, format!("invalid target shape {target:?}"))),
        });
    }
    if out.iter().filter(|d| d.is_none()).count() > 1 {
        return Err(attr_err(node, format!("target {target:?} has more than one -1")));
    }
    let known: usize = out.iter().flatten().product();
    let dims: Vec<usize> = out
        .iter()
        .map(|d| match d {
            Some(v) => Ok(*v),
            None if known > 0 && total.is_multiple_of(known) => Ok(total / known),
            None => Err(err(node, format!("cannot reshape {x} to {target:?}"))),
        })
        .collect::<Result<_>>()?;
    if dims.iter().product::<usize>() != total {
        return Err(err(node, format!("cannot reshape {x} ({total} elements) to {target:?}")));
    }
    Ok(Shape::fixed(&dims))
}

fn reshape_shape(node: &Node, x: &Shape, target: &[i64]) -> Result<Shape> {
    if target.is_empty() {
        return Err(attr_err(node, "empty target shape".into()));
    }
    if x.0.first() != Some(&Dim::Batch) {
        return reshape_concrete(node, x, target);
    }
    let mut dims: Vec<Option<usize>> = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                dims.push(None);
            }
            0 => {
                let d = x.0.get(i).ok_or_else(|| {
                    attr_err(node, format!("target {target:?} copies dim {i} that {x} lacks"))
                })?;
                if i == 0 {
                    dims.push(None);
                } else {
                    dims.push(Some(
                        d.fixed()
                            .ok_or_else(|| err(node, format!("dim {i} of {x} must be known")))?,
                    ));
                }
            }
            t if t > 0 => dims.push(Some(t as usize)),
            _ => return Err(attr_err(node, format!("invalid target shape {target:?}"))),
        }
    }
    // The batch dim must stay first: either copied (0) or inferred (-1 at position 0).
    let keeps_batch = target[0] == 0 || infer_at == Some(0);
    if x.0.first() == Some(&Dim::Batch) && !keeps_batch {
        return Err(err(
            node,
            format!("target {target:?} must keep the batch dimension first (use 0 or -1)"),
        ));
    }
    let per_item = x.per_item();
    let known: usize = dims.iter().skip(1).flatten().product();
    let mut out = vec![x.0[0]];
    for (i, d) in dims.iter().enumerate().skip(1) {
        match d {
            Some(v) => out.push(Dim::Fixed(*v)),
            None if Some(i) == infer_at => {
                if known == 0 || !per_item.is_multiple_of(known) {
                    return Err(err(node, format!("cannot reshape {x} to {target:?}")));
                }
                out.push(Dim::Fixed(per_item / known));
            }
            None => unreachable!("only position 0 or the inferred one is None"),
        }
    }
    let total: usize = out.iter().skip(1).filter_map(|d| d.fixed()).product();
    if total != per_item {
        return Err(err(
            node,
            format!("cannot reshape {x} ({per_item} elements per item) to {target:?}"),
        ));
    }
    Ok(Shape(out))
}

/// Output shape of one node given its input shapes.
pub fn infer_node(graph: &Graph, node: &Node, ins: &[&Shape]) -> Result<Shape> {
    for s in ins {
        if s.0.iter().any(|d| d.fixed() == Some(0)) {
            return Err(err(node, format!("input shape {s} has a zero dimension")));
        }
    }
    let x = ins[0];
    Ok(match &node.op {
        Op::Conv2d(c) => conv_shape(graph, node, c, x)?,
        Op::BatchNorm(b) => {
            if x.rank() < 2 || channel(node, x, 1)? != b.channels {
                return Err(err(
                    node,
                    format!("input {x} does not have {} channels at axis 1", b.channels),
                ));
            }
            for p in [&b.scale, &b.bias, &b.mean, &b.var] {
                check_param(graph, node, p, &[b.channels])?;
            }
            x.clone()
        }
        Op::Relu | Op::Dropout | Op::Identity => x.clone(),
        Op::Clip { min, max } => {
            if min > max || min.is_nan() || max.is_nan() {
                return Err(attr_err(node, format!("min {min} > max {max}")));
            }
            x.clone()
        }
        Op::Add => {
            if ins[0] != ins[1] {
                return Err(err(
                    node,
                    format!("operands have different shapes {} and {}", ins[0], ins[1]),
                ));
            }
            x.clone()
        }
        Op::Concat { axis } => {
            if *axis == 0 || *axis >= x.rank() {
                return Err(attr_err(node, format!("axis {axis} invalid for rank {}", x.rank())));
            }
            let mut total = 0;
            for s in ins {
                if s.rank() != x.rank()
                    || s.0.iter().enumerate().any(|(i, d)| i != *axis && *d != x.0[i])
                {
                    return Err(err(
                        node,
                        format!("operand {s} does not match {x} outside axis {axis}"),
                    ));
                }
                total += channel(node, s, *axis)?;
            }
            let mut out = x.clone();
            out.0[*axis] = Dim::Fixed(total);
            out
        }
        Op::MaxPool(p) => {
            let (oh, ow) = window(
                node,
                spatial(node, x)?,
                p.kernel,
                p.stride,
                p.pads,
                p.dilation,
                p.ceil_mode,
            )?;
            Shape(vec![x.0[0], x.0[1], Dim::Fixed(oh), Dim::Fixed(ow)])
        }
        Op::AvgPool(p) => {
            let (oh, ow) =
                window(node, spatial(node, x)?, p.kernel, p.stride, p.pads, [1, 1], p.ceil_mode)?;
            Shape(vec![x.0[0], x.0[1], Dim::Fixed(oh), Dim::Fixed(ow)])
        }
        Op::GlobalAvgPool => {
            spatial(node, x)?;
            Shape(vec![x.0[0], x.0[1], Dim::Fixed(1), Dim::Fixed(1)])
        }
        Op::Linear(l) => {
            expect_rank(node, x, 2)?;
            if channel(node, x, 1)? != l.in_features {
                return Err(err(
                    node,
                    format!("input {x} does not have {} features", l.in_features),
                ));
            }
            if l.in_features == 0 || l.out_features == 0 {
                return Err(attr_err(node, "feature counts must be positive".into()));
            }
            check_param(graph, node, &l.weight, &[l.out_features, l.in_features])?;
            if let Some(b) = &l.bias {
                check_param(graph, node, b, &[l.out_features])?;
            }
            Shape(vec![x.0[0], Dim::Fixed(l.out_features)])
        }
        Op::Flatten { axis } => {
            if *axis == 0 || *axis > x.rank() {
                return Err(attr_err(
                    node,
                    format!("axis {axis} invalid for rank {} (the batch axis stays)", x.rank()),
                ));
            }
            let mut out: Vec<Dim> = x.0[..*axis].to_vec();
            out.push(Dim::Fixed(x.0[*axis..].iter().map(|d| d.fixed().unwrap_or(1)).product()));
            Shape(out)
        }
        Op::Reshape(r) => reshape_shape(node, x, &r.shape)?,
    })
}

impl Graph {
    /// Validates the graph and infers every value's shape (graph inputs included).
    pub fn infer_shapes(&self) -> Result<HashMap<String, Shape>> {
        let order = self.topo_order()?;
        let mut shapes: HashMap<String, Shape> = HashMap::new();
        for i in &self.inputs {
            if i.shape.0.iter().any(|d| d.fixed() == Some(0)) {
                return Err(IrError::InputShape {
                    input: i.name.clone(),
                    expected: "no zero dims".into(),
                    got: vec![],
                });
            }
            shapes.insert(i.name.clone(), i.shape.clone());
        }
        for idx in order {
            let node = &self.nodes[idx];
            let ins: Vec<&Shape> = node.inputs.iter().map(|v| &shapes[v]).collect();
            let out = infer_node(self, node, &ins)?;
            shapes.insert(node.output.clone(), out);
        }
        Ok(shapes)
    }
}
