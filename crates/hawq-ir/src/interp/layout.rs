//! Kernels that only move data: concatenation, flatten and reshape.

use super::buffer::{op_err, zeros};
use crate::error::Result;
use crate::tensor::Tensor;

/// Concatenates ≥ 1 tensors along `axis`; all other dims must agree.
pub fn concat(inputs: &[&Tensor], axis: usize) -> Result<Tensor> {
    const OP: &str = "Concat";
    let first = inputs.first().ok_or_else(|| op_err(OP, "needs at least one input"))?;
    let rank = first.shape().len();
    if axis >= rank {
        return Err(op_err(OP, format!("axis {axis} invalid for rank {rank}")));
    }
    let mut total = 0;
    for t in inputs {
        let s = t.shape();
        let fits = s.len() == rank
            && s.iter().zip(first.shape()).enumerate().all(|(i, (a, b))| i == axis || a == b);
        if !fits {
            return Err(op_err(
                OP,
                format!("operand {s:?} does not match {:?} outside axis {axis}", first.shape()),
            ));
        }
        total += s[axis];
    }
    let mut shape = first.shape().to_vec();
    shape[axis] = total;
    let mut out = zeros(OP, shape)?;
    // Each input contributes a contiguous block of `shape[axis..]` per outer index.
    let outer: usize = first.shape()[..axis].iter().product();
    let out_block = out.numel().checked_div(outer).unwrap_or(0);
    let mut offset = 0;
    for t in inputs {
        let block = t.numel().checked_div(outer).unwrap_or(0);
        if block > 0 {
            for (o, src) in t.data().chunks_exact(block).enumerate() {
                out.data_mut()[o * out_block + offset..][..block].copy_from_slice(src);
            }
        }
        offset += block;
    }
    Ok(out)
}

/// Flattens dims `axis..` into one; `axis = 1` on `[N, C, H, W]` gives `[N, C·H·W]`.
pub fn flatten(x: &Tensor, axis: usize) -> Result<Tensor> {
    let s = x.shape();
    if axis == 0 || axis > s.len() {
        return Err(op_err("Flatten", format!("axis {axis} invalid for shape {s:?}")));
    }
    let mut shape = s[..axis].to_vec();
    shape.push(s[axis..].iter().product());
    x.clone().reshape(shape)
}

/// ONNX reshape (`allowzero = 0`): `0` copies the input dim at that position, one `-1` is
/// inferred, every other entry must be positive; the element count must not change.
pub fn reshape(x: &Tensor, target: &[i64]) -> Result<Tensor> {
    const OP: &str = "Reshape";
    let bad =
        |why: &str| op_err(OP, format!("cannot reshape {:?} to {target:?}: {why}", x.shape()));
    let mut shape = Vec::with_capacity(target.len());
    let mut infer_at = None;
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer_at.is_none() => {
                infer_at = Some(i);
                shape.push(1);
            }
            -1 => return Err(bad("more than one -1")),
            0 => shape.push(*x.shape().get(i).ok_or_else(|| bad("0 copies a missing dim"))?),
            t if t > 0 => shape.push(usize::try_from(t).map_err(|_| bad("dim too large"))?),
            _ => return Err(bad("negative dim other than -1")),
        }
    }
    let known = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let known = known.ok_or_else(|| bad("element count overflows"))?;
    if let Some(i) = infer_at {
        if known == 0 || !x.numel().is_multiple_of(known) {
            return Err(bad("the -1 dim cannot be inferred"));
        }
        shape[i] = x.numel() / known;
    } else if known != x.numel() {
        return Err(bad("element counts differ"));
    }
    x.clone().reshape(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::new(shape.to_vec(), data.to_vec()).expect("test tensor")
    }

    #[test]
    fn concat_channels_interleaves_per_batch_item() {
        // a = [N=2, C=1, 1, 2], b = [2, 2, 1, 2]: for each item, a's channel then b's two.
        let a = t(&[2, 1, 1, 2], &[1., 2., 3., 4.]);
        let b = t(&[2, 2, 1, 2], &[10., 11., 12., 13., 14., 15., 16., 17.]);
        let y = concat(&[&a, &b], 1).unwrap();
        assert_eq!(y.shape(), &[2, 3, 1, 2]);
        assert_eq!(y.data(), &[1., 2., 10., 11., 12., 13., 3., 4., 14., 15., 16., 17.]);
        // Last axis: rows are joined element-wise.
        let y = concat(&[&t(&[2, 1], &[1., 2.]), &t(&[2, 2], &[3., 4., 5., 6.])], 1).unwrap();
        assert_eq!(y.data(), &[1., 3., 4., 2., 5., 6.]);
    }

    #[test]
    fn concat_rejects_mismatch() {
        let a = Tensor::zeros(vec![1, 2, 3, 3]);
        let b = Tensor::zeros(vec![1, 2, 4, 3]);
        assert!(concat(&[&a, &b], 1).unwrap_err().to_string().contains("does not match"));
        assert!(concat(&[&a], 4).is_err());
        assert!(concat(&[], 1).is_err());
    }

    #[test]
    fn flatten_keeps_order() {
        let x = t(&[1, 2, 1, 2], &[1., 2., 3., 4.]);
        let y = flatten(&x, 1).unwrap();
        assert_eq!(y.shape(), &[1, 4]);
        assert_eq!(y.data(), x.data());
        assert_eq!(flatten(&x, 2).unwrap().shape(), &[1, 2, 2]);
        assert_eq!(flatten(&x, 4).unwrap().shape(), &[1, 2, 1, 2, 1]);
        assert!(flatten(&x, 0).is_err());
        assert!(flatten(&x, 5).is_err());
    }

    #[test]
    fn reshape_zero_and_minus_one() {
        let x = t(&[2, 3, 2], &(0..12).map(|v| v as f32).collect::<Vec<_>>());
        // 0 copies dim 0 (2); -1 = 12 / 2 = 6.
        assert_eq!(reshape(&x, &[0, -1]).unwrap().shape(), &[2, 6]);
        // -1 first: 12 / (3·4) = 1.
        assert_eq!(reshape(&x, &[-1, 3, 4]).unwrap().shape(), &[1, 3, 4]);
        assert_eq!(reshape(&x, &[0, 0, 2]).unwrap().shape(), &[2, 3, 2]);
        let y = reshape(&x, &[4, 3]).unwrap();
        assert_eq!(y.data(), x.data());
    }

    #[test]
    fn reshape_rejects_invalid_targets() {
        let x = Tensor::zeros(vec![2, 3, 2]);
        for bad in [&[-2, 6][..], &[-1, -1], &[5, -1], &[2, 5], &[0, 0, 0, 0], &[0, 0, -1, 0]] {
            assert!(reshape(&x, bad).is_err(), "{bad:?}");
        }
        // A -1 next to a zero-size dim is ambiguous (any size would fit).
        assert!(reshape(&Tensor::zeros(vec![2, 0]), &[-1, 0]).is_err());
    }
}
