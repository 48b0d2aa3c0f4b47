//! Per-layer counters: parameter counts, multiply-accumulates (MACs) and output shapes, plus
//! bit-operations (BOPs) for a bit-width pair. These feed the size and BOPs constraints of the
//! bit-width ILP and the reports.
//!
//! Conventions:
//! - `params` counts *learnable* elements, the way `sum(p.numel() for p in model.parameters())`
//!   does in PyTorch: conv/linear weights and biases, BN γ and β. BN running mean and variance
//!   are statistics, not parameters, so they are not counted (otherwise no published figure
//!   would match).
//! - MACs are counted at batch 1 for conv and linear layers only; pooling, BN, activations and
//!   additions cost no MACs, as in the usual published GMAC figures.
//! - All sums saturate at `u64::MAX` instead of overflowing (only absurd graphs get there).

use crate::error::Result;
use crate::graph::{Graph, Node};
use crate::op::Op;

/// Counts for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCount {
    /// Node name.
    pub node: String,
    /// Op name ([`Op::name`]).
    pub op: &'static str,
    /// Weight parameter name for conv and linear layers.
    pub weight: Option<String>,
    /// Learnable parameter elements the node reads (weights, biases, BN γ and β).
    pub params: u64,
    /// Elements of the weight tensor alone (0 for layers without one): the `P_i` of the
    /// model-size constraint, which counts weights but not biases.
    pub weight_params: u64,
    /// Multiply-accumulates at batch 1 (conv and linear only).
    pub macs: u64,
    /// Output shape at batch 1.
    pub out_shape: Vec<usize>,
}

/// Sums over a list of [`LayerCount`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// All learnable parameter elements.
    pub params: u64,
    /// Weight-tensor elements of conv and linear layers (biases excluded).
    pub weight_params: u64,
    /// Multiply-accumulates at batch 1.
    pub macs: u64,
}

fn numel(shape: &[usize]) -> u64 {
    shape.iter().fold(1u64, |acc, &d| acc.saturating_mul(d as u64))
}

/// Elements of the named parameters (the graph was validated, so they exist; a missing one
/// would be reported by `infer_shapes` before we get here).
fn param_elems(graph: &Graph, node: &Node, names: &[&str]) -> Result<u64> {
    let mut total = 0u64;
    for name in names {
        total = total.saturating_add(numel(graph.require_param(node, name)?.shape()));
    }
    Ok(total)
}

/// Counts every node of the graph, in topological order.
pub fn count_layers(graph: &Graph) -> Result<Vec<LayerCount>> {
    let shapes = graph.infer_shapes()?;
    let order = graph.topo_order()?;
    let mut out = Vec::with_capacity(order.len());
    for idx in order {
        let node = &graph.nodes[idx];
        // infer_shapes filled every node output it visited, and it visits every node.
        let out_shape = shapes.get(&node.output).map(|s| s.resolve(1)).unwrap_or_default();
        let out_elems = numel(&out_shape);
        let (weight, params, weight_params, macs) = match &node.op {
            Op::Conv2d(c) => {
                let per_output =
                    numel(&[c.in_channels / c.groups.max(1), c.kernel[0], c.kernel[1]]);
                let w = param_elems(graph, node, &[&c.weight])?;
                (
                    Some(c.weight.clone()),
                    param_elems(graph, node, &node.op.params())?,
                    w,
                    out_elems.saturating_mul(per_output),
                )
            }
            Op::Linear(l) => {
                let w = param_elems(graph, node, &[&l.weight])?;
                (
                    Some(l.weight.clone()),
                    param_elems(graph, node, &node.op.params())?,
                    w,
                    out_elems.saturating_mul(l.in_features as u64),
                )
            }
            Op::BatchNorm(b) => (None, param_elems(graph, node, &[&b.scale, &b.bias])?, 0, 0),
            _ => (None, 0, 0, 0),
        };
        out.push(LayerCount {
            node: node.name.clone(),
            op: node.op.name(),
            weight,
            params,
            weight_params,
            macs,
            out_shape,
        });
    }
    Ok(out)
}

/// Sums the counts.
pub fn totals(layers: &[LayerCount]) -> Totals {
    layers.iter().fold(Totals::default(), |t, l| Totals {
        params: t.params.saturating_add(l.params),
        weight_params: t.weight_params.saturating_add(l.weight_params),
        macs: t.macs.saturating_add(l.macs),
    })
}

/// Bit operations of a layer: `MACs · b_w · b_a` (HAWQ-V3's BOPs; saturating).
pub fn bops(macs: u64, w_bits: u32, a_bits: u32) -> u64 {
    macs.saturating_mul(u64::from(w_bits)).saturating_mul(u64::from(a_bits))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::{BatchNorm, Conv2d, Linear};
    use crate::shape::Shape;
    use crate::tensor::Tensor;
    use crate::{IrError, ValueInfo};

    fn input(c: usize, h: usize, w: usize) -> Graph {
        Graph {
            inputs: vec![ValueInfo { name: "x".into(), shape: Shape::batched(&[c, h, w]) }],
            ..Graph::default()
        }
    }

    fn add_param(g: &mut Graph, name: &str, shape: Vec<usize>) {
        g.params.insert(name.into(), Tensor::zeros(shape));
    }

    #[test]
    fn conv_bn_relu_linear_counts() {
        let mut g = input(3, 8, 8);
        let conv = Conv2d::new("c.w", 3, 4, 3, 1, 1);
        add_param(&mut g, "c.w", conv.weight_shape());
        g.push("c", Op::Conv2d(conv), &["x"]);
        let bn = BatchNorm {
            scale: "b.g".into(),
            bias: "b.b".into(),
            mean: "b.m".into(),
            var: "b.v".into(),
            eps: 1e-5,
            channels: 4,
        };
        for p in ["b.g", "b.b", "b.m", "b.v"] {
            add_param(&mut g, p, vec![4]);
        }
        g.push("b", Op::BatchNorm(bn), &["c"]);
        g.push("r", Op::Relu, &["b"]);
        g.push("gap", Op::GlobalAvgPool, &["r"]);
        g.push("flat", Op::Flatten { axis: 1 }, &["gap"]);
        let fc = Linear {
            weight: "fc.w".into(),
            bias: Some("fc.b".into()),
            in_features: 4,
            out_features: 5,
            activation: Default::default(),
        };
        add_param(&mut g, "fc.w", vec![5, 4]);
        add_param(&mut g, "fc.b", vec![5]);
        g.push("fc", Op::Linear(fc), &["flat"]);
        // Scramble node order: counts must come back in topological order.
        g.nodes.reverse();
        g.outputs = vec!["fc".into()];

        let layers = count_layers(&g).unwrap();
        let names: Vec<&str> = layers.iter().map(|l| l.node.as_str()).collect();
        assert_eq!(names, ["c", "b", "r", "gap", "flat", "fc"]);
        assert_eq!(layers[0].macs, 4 * 8 * 8 * 3 * 9);
        assert_eq!(layers[0].params, 4 * 3 * 9);
        assert_eq!(layers[0].weight.as_deref(), Some("c.w"));
        assert_eq!(layers[0].out_shape, vec![1, 4, 8, 8]);
        assert_eq!(layers[1].params, 8, "BN counts γ and β, not running stats");
        assert_eq!(layers[1].macs, 0);
        assert_eq!(layers[5].macs, 20);
        assert_eq!(layers[5].params, 25);
        assert_eq!(layers[5].weight_params, 20);
        assert_eq!(layers[5].out_shape, vec![1, 5]);
        let t = totals(&layers);
        assert_eq!(t, Totals { params: 108 + 8 + 25, weight_params: 108 + 20, macs: 6912 + 20 });
    }

    #[test]
    fn grouped_and_strided_conv_macs() {
        let mut g = input(8, 9, 9);
        let mut dw = Conv2d::new("dw.w", 8, 8, 3, 2, 1);
        dw.groups = 8;
        add_param(&mut g, "dw.w", dw.weight_shape());
        g.push("dw", Op::Conv2d(dw), &["x"]);
        let mut grouped = Conv2d::new("g.w", 8, 16, 1, 1, 0);
        grouped.groups = 2;
        grouped.bias = Some("g.b".into());
        add_param(&mut g, "g.w", grouped.weight_shape());
        add_param(&mut g, "g.b", vec![16]);
        g.push("g", Op::Conv2d(grouped), &["dw"]);
        g.outputs = vec!["g".into()];
        let layers = count_layers(&g).unwrap();
        // Depthwise: 8 channels x 5x5 outputs x 9 taps each.
        assert_eq!(layers[0].out_shape, vec![1, 8, 5, 5]);
        assert_eq!(layers[0].macs, 8 * 25 * 9);
        // Grouped 1x1: each output reads 4 input channels.
        assert_eq!(layers[1].macs, 16 * 25 * 4);
        assert_eq!(layers[1].params, 16 * 4 + 16);
        assert_eq!(layers[1].weight_params, 16 * 4);
    }

    #[test]
    fn invalid_graph_is_an_error() {
        let mut g = input(3, 4, 4);
        g.push("c", Op::Conv2d(Conv2d::new("missing", 3, 4, 3, 1, 1)), &["x"]);
        g.outputs = vec!["c".into()];
        assert!(matches!(count_layers(&g), Err(IrError::MissingParam { .. })));
    }

    #[test]
    fn bops_scale_and_saturate() {
        assert_eq!(bops(115_605_504, 4, 8), 115_605_504 * 32);
        assert_eq!(bops(1_814_000_000, 32, 32), 1_814_000_000 * 1024);
        assert_eq!(bops(u64::MAX / 2, 8, 8), u64::MAX);
        assert_eq!(bops(7, 0, 8), 0);
    }
}
