//! `Gemm`, `MatMul` and `Add` → [`hawq_ir::Linear`] / [`Op::Add`]. A `MatMul` by a constant
//! `[in, out]` weight becomes a bias-less `Linear`; an `Add` of a constant right after it (and
//! nothing else reading the product) becomes that `Linear`'s bias.

use crate::error::Result;
use crate::import::context::{Importer, NodeView};
use hawq_ir::{Activation, Linear, Op, Tensor};

/// Transposes a 2-D tensor.
fn transpose(t: &Tensor) -> Tensor {
    let (r, c) = (t.shape()[0], t.shape()[1]);
    let d = t.data();
    let data = (0..c).flat_map(|j| (0..r).map(move |i| d[i * c + j])).collect();
    // Same element count, swapped dims: cannot fail.
    Tensor::new(vec![c, r], data).unwrap_or_else(|_| unreachable!("transpose keeps numel"))
}

/// A bias of `out` values given as `[out]` or `[1, out]`.
fn bias_vector(v: &NodeView, t: Tensor, out: usize) -> Result<Tensor> {
    match t.shape() {
        [n] | [1, n] if *n == out => t.reshape(vec![out]).map_err(|e| v.err(e.to_string())),
        s => Err(v.err(format!("bias has shape {s:?}; expected [{out}] or [1, {out}]"))),
    }
}

/// Input `i` as a 2-D float constant, its name and dims.
fn matrix(ctx: &Importer, v: &NodeView, i: usize) -> Result<(String, Tensor)> {
    let t = ctx.float_const(v, i)?;
    if t.shape().len() != 2 {
        return Err(v.err(format!("weight must be 2-D, got shape {:?}", t.shape())));
    }
    Ok((v.required(i)?.to_string(), t))
}

/// Adds a `Linear` for `x` with weight `[out, in]`.
fn push_linear(
    ctx: &mut Importer,
    v: &NodeView,
    x: String,
    weight: String,
    dims: [usize; 2],
    bias: Option<String>,
    out: &str,
) -> Result<()> {
    let cfg = Linear {
        weight,
        bias,
        in_features: dims[1],
        out_features: dims[0],
        activation: Activation::None,
    };
    ctx.push(v, Op::Linear(cfg), vec![x], out)
}

/// `Gemm` with `alpha = 1`, `transA = 0`, `beta = 1` (when C is given), `transB` 0 or 1.
pub(crate) fn gemm(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(2, 3)?;
    let out = ctx.main_output(v)?;
    let alpha = v.attrs.float("alpha", 1.0)?;
    let beta = v.attrs.float("beta", 1.0)?;
    let trans_a = v.attrs.int("transA", 0)?;
    let trans_b = v.attrs.int("transB", 0)?;
    if alpha != 1.0 {
        return Err(v.at.attr_err("alpha", format!("only 1 is supported, got {alpha}")));
    }
    if trans_a != 0 {
        return Err(v.at.attr_err("transA", "only 0 is supported"));
    }
    let (x, _) = ctx.act(v, 0)?;
    let (b_name, b) = matrix(ctx, v, 1)?;
    let weight = match trans_b {
        1 => ctx.param(v, 1)?.0,
        0 => ctx.add_param(&b_name, transpose(&b)),
        other => return Err(v.at.attr_err("transB", format!("must be 0 or 1, got {other}"))),
    };
    let [o, i] = match trans_b {
        1 => [b.shape()[0], b.shape()[1]],
        _ => [b.shape()[1], b.shape()[0]],
    };
    let bias = match v.input(2) {
        Some(c_name) => {
            if beta != 1.0 {
                return Err(v.at.attr_err("beta", format!("only 1 is supported, got {beta}")));
            }
            let c = bias_vector(v, ctx.float_const(v, 2)?, o)?;
            Some(ctx.add_param(c_name, c))
        }
        None => None,
    };
    push_linear(ctx, v, x, weight, [o, i], bias, out)
}

/// `MatMul` of an activation `[N, in]` by a constant `[in, out]`.
pub(crate) fn matmul(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(2, 2)?;
    let out = ctx.main_output(v)?;
    let (x, _) = ctx.act(v, 0)?;
    let (b_name, b) = matrix(ctx, v, 1)?;
    let dims = [b.shape()[1], b.shape()[0]];
    let weight = ctx.add_param(&b_name, transpose(&b));
    push_linear(ctx, v, x, weight, dims, None, out)
}

/// `Add` of two activations, or the bias `Add` after a `MatMul`.
pub(crate) fn add(ctx: &mut Importer, v: &mut NodeView) -> Result<()> {
    v.expect_inputs(2, 2)?;
    let out = ctx.main_output(v)?;
    match (ctx.is_act(v, 0)?, ctx.is_act(v, 1)?) {
        (true, true) => {
            let (a, _) = ctx.act(v, 0)?;
            let (b, _) = ctx.act(v, 1)?;
            ctx.push(v, Op::Add, vec![a, b], out)
        }
        (true, false) => fuse_bias(ctx, v, 0, 1, out),
        (false, true) => fuse_bias(ctx, v, 1, 0, out),
        (false, false) => Err(v.err("adding two constants is not supported")),
    }
}

/// Folds a constant `Add` operand into the bias-less `Linear` producing the other operand.
fn fuse_bias(ctx: &mut Importer, v: &NodeView, act: usize, cst: usize, out: &str) -> Result<()> {
    let (x, _) = ctx.act(v, act)?;
    let idx = ctx.producer(&x).filter(|_| ctx.uses(&x) == 1);
    let linear = idx.and_then(|i| match &ctx.graph.nodes[i].op {
        Op::Linear(l) if l.bias.is_none() => Some((i, l.out_features)),
        _ => None,
    });
    let Some((idx, features)) = linear else {
        return Err(v.err(format!(
            "adds a constant to '{x}'; hawq supports a constant operand only as the bias of a \
             MatMul whose product nothing else reads"
        )));
    };
    let bias = bias_vector(v, ctx.float_const(v, cst)?, features)?;
    let name = ctx.add_param(v.required(cst)?, bias);
    if let Op::Linear(l) = &mut ctx.graph.nodes[idx].op {
        l.bias = Some(name);
    }
    ctx.rename_output(idx, out)
}

#[cfg(test)]
mod tests {
    use super::transpose;
    use hawq_ir::Tensor;

    #[test]
    fn transpose_swaps_axes() {
        let t = Tensor::new(vec![2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap();
        let tt = transpose(&t);
        assert_eq!(tt.shape(), &[3, 2]);
        assert_eq!(tt.data(), &[1., 4., 2., 5., 3., 6.]);
    }
}
