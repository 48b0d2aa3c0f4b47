//! Element-wise kernels: activations, residual add and inference-mode batch norm.

use super::buffer::op_err;
use crate::error::Result;
use crate::op::Activation;
use crate::tensor::Tensor;

/// Applies `act` to every element in place.
pub fn apply_activation(t: &mut Tensor, act: Activation) {
    if act != Activation::None {
        t.data_mut().iter_mut().for_each(|v| *v = act.apply(*v));
    }
}

/// `max(x, 0)` element-wise.
pub fn relu(x: &Tensor) -> Tensor {
    let mut y = x.clone();
    apply_activation(&mut y, Activation::Relu);
    y
}

/// `clamp(x, min, max)` element-wise; ReLU6 is `clip(x, 0, 6)`. Errors if `min > max` or either
/// bound is NaN.
pub fn clip(x: &Tensor, min: f32, max: f32) -> Result<Tensor> {
    if min.is_nan() || max.is_nan() || min > max {
        return Err(op_err("Clip", format!("invalid bounds min {min}, max {max}")));
    }
    let mut y = x.clone();
    apply_activation(&mut y, Activation::Clip { min, max });
    Ok(y)
}

/// Element-wise `a + b` of two tensors of the same shape (no broadcasting).
pub fn add(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.shape() != b.shape() {
        return Err(op_err(
            "Add",
            format!("operands have different shapes {:?} and {:?}", a.shape(), b.shape()),
        ));
    }
    let mut y = a.clone();
    y.data_mut().iter_mut().zip(b.data()).for_each(|(y, b)| *y += b);
    Ok(y)
}

/// Inference batch norm over axis 1: `y = (x − mean) · (scale / sqrt(var + eps)) + bias`, each
/// parameter `[C]`. `x` has rank ≥ 2 (`[N, C]` after a linear layer, `[N, C, H, W]` after a
/// conv). Errors if a channel has `var + eps ≤ 0` (or NaN), where the formula has no value.
pub fn batch_norm(
    x: &Tensor,
    scale: &Tensor,
    bias: &Tensor,
    mean: &Tensor,
    var: &Tensor,
    eps: f32,
) -> Result<Tensor> {
    const OP: &str = "BatchNorm";
    let (n, c) = match *x.shape() {
        [n, c, ..] => (n, c),
        _ => return Err(op_err(OP, format!("expects rank ≥ 2, got shape {:?}", x.shape()))),
    };
    for (what, p) in [("scale", scale), ("bias", bias), ("mean", mean), ("var", var)] {
        if p.shape() != [c] {
            return Err(op_err(OP, format!("{what} has shape {:?}, expected [{c}]", p.shape())));
        }
    }
    let inner: usize = x.shape()[2..].iter().product();
    let mut y = x.clone();
    if inner == 0 || n == 0 {
        return Ok(y);
    }
    // Per channel: multiplier γ/σ, then (x − μ)·multiplier + β.
    let mut mult = Vec::with_capacity(c);
    for (ch, &v) in var.data().iter().enumerate() {
        let denom = v + eps;
        if denom.is_nan() || denom <= 0.0 {
            return Err(op_err(OP, format!("channel {ch}: var + eps = {denom} is not positive")));
        }
        mult.push(scale.data()[ch] / denom.sqrt());
    }
    for (i, plane) in y.data_mut().chunks_exact_mut(inner).enumerate() {
        let ch = i % c;
        let (mu, m, beta) = (mean.data()[ch], mult[ch], bias.data()[ch]);
        plane.iter_mut().for_each(|v| *v = (*v - mu) * m + beta);
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::new(shape.to_vec(), data.to_vec()).expect("test tensor")
    }

    #[test]
    fn relu_and_relu6() {
        let x = t(&[1, 5], &[-2., -0.5, 0., 3., 7.]);
        assert_eq!(relu(&x).data(), &[0., 0., 0., 3., 7.]);
        assert_eq!(clip(&x, 0., 6.).unwrap().data(), &[0., 0., 0., 3., 6.]);
        assert_eq!(clip(&x, -1., 1.).unwrap().data(), &[-1., -0.5, 0., 1., 1.]);
        assert!(clip(&x, 1., 0.).is_err());
        assert!(clip(&x, f32::NAN, 0.).is_err());
    }

    #[test]
    fn add_same_shape_only() {
        let a = t(&[1, 3], &[1., 2., 3.]);
        let b = t(&[1, 3], &[10., -2., 0.5]);
        assert_eq!(add(&a, &b).unwrap().data(), &[11., 0., 3.5]);
        let e = add(&a, &t(&[3, 1], &[1., 2., 3.])).unwrap_err().to_string();
        assert!(e.contains("different shapes"), "{e}");
    }

    #[test]
    fn batch_norm_per_channel() {
        // Channel 0: mean 1, var 3, eps 1 -> σ = 2; γ = 4 -> multiplier 2; β = 0.5.
        //   x = [1, 3] -> (0·2 + 0.5, 2·2 + 0.5) = [0.5, 4.5].
        // Channel 1: mean 0, var 0, eps 1 -> σ = 1; γ = -1, β = 10: x = [2, -2] -> [8, 12].
        let x = t(&[1, 2, 1, 2], &[1., 3., 2., -2.]);
        let y = batch_norm(
            &x,
            &t(&[2], &[4., -1.]),
            &t(&[2], &[0.5, 10.]),
            &t(&[2], &[1., 0.]),
            &t(&[2], &[3., 0.]),
            1.0,
        )
        .unwrap();
        assert_eq!(y.data(), &[0.5, 4.5, 8., 12.]);

        // Rank 2 ([N, C] after a linear layer), batch of 2: channel = column.
        let x = t(&[2, 2], &[1., 2., 3., 4.]);
        let ones = t(&[2], &[1., 1.]);
        let zeros = t(&[2], &[0., 0.]);
        let shift = t(&[2], &[1., 2.]);
        let y = batch_norm(&x, &ones, &zeros, &shift, &zeros, 1.0).unwrap();
        assert_eq!(y.data(), &[0., 0., 2., 2.]);
    }

    #[test]
    fn batch_norm_rejects_bad_params() {
        let x = Tensor::zeros(vec![1, 2, 2, 2]);
        let p2 = Tensor::full(vec![2], 1.0);
        let p3 = Tensor::full(vec![3], 1.0);
        assert!(batch_norm(&x, &p3, &p2, &p2, &p2, 1e-5).is_err());
        let neg = Tensor::full(vec![2], -1.0);
        let e = batch_norm(&x, &p2, &p2, &p2, &neg, 0.5).unwrap_err().to_string();
        assert!(e.contains("not positive"), "{e}");
        assert!(batch_norm(&Tensor::zeros(vec![4]), &p2, &p2, &p2, &p2, 1e-5).is_err());
    }
}
