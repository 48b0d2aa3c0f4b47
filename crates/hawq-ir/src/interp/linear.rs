//! Fully connected layer.

use super::buffer::{op_err, zeros};
use crate::error::Result;
use crate::op::Linear;
use crate::tensor::Tensor;

const OP: &str = "Linear";

/// `y = x · Wᵀ + b`, then `cfg.activation`, with `x` `[N, in]` and `w` `[out, in]`
/// (ONNX Gemm with transB = 1). Each output sums `x[i]·w[i]` in ascending `i` from 0.0, then
/// adds the bias.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cfg: &Linear) -> Result<Tensor> {
    let n = match *x.shape() {
        [n, f] if f == cfg.in_features => n,
        _ => {
            return Err(op_err(
                OP,
                format!("input has shape {:?}, expected [N, {}]", x.shape(), cfg.in_features),
            ));
        }
    };
    if cfg.in_features == 0 || cfg.out_features == 0 {
        return Err(op_err(OP, "feature counts must be positive"));
    }
    if w.shape() != [cfg.out_features, cfg.in_features] {
        return Err(op_err(
            OP,
            format!(
                "weight has shape {:?}, expected [{}, {}]",
                w.shape(),
                cfg.out_features,
                cfg.in_features
            ),
        ));
    }
    if let Some(b) = b
        && b.shape() != [cfg.out_features]
    {
        return Err(op_err(
            OP,
            format!("bias has shape {:?}, expected [{}]", b.shape(), cfg.out_features),
        ));
    }
    let mut y = zeros(OP, vec![n, cfg.out_features])?;
    let rows = x.data().chunks_exact(cfg.in_features);
    for (x_row, y_row) in rows.zip(y.data_mut().chunks_exact_mut(cfg.out_features)) {
        for (o, (y_v, w_row)) in
            y_row.iter_mut().zip(w.data().chunks_exact(cfg.in_features)).enumerate()
        {
            let dot = x_row.iter().zip(w_row).fold(0.0f32, |acc, (a, b)| acc + a * b);
            let beta = b.map_or(0.0, |b| b.data()[o]);
            *y_v = cfg.activation.apply(dot + beta);
        }
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Activation;

    fn t(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::new(shape.to_vec(), data.to_vec()).expect("test tensor")
    }

    fn cfg(i: usize, o: usize, bias: bool) -> Linear {
        Linear {
            weight: "w".into(),
            bias: bias.then(|| "b".into()),
            in_features: i,
            out_features: o,
            activation: Activation::None,
        }
    }

    #[test]
    fn matrix_times_transposed_weight_plus_bias() {
        // x = [[1,2,3],[0,-1,1]], W = [[1,0,-1],[2,1,0]], b = [10,20]
        // item 0: [1-3, 2+2] + b = [-2+10, 4+20] = [8, 24]
        // item 1: [0+0-1, 0-1+0] + b = [9, 19]
        let x = t(&[2, 3], &[1., 2., 3., 0., -1., 1.]);
        let w = t(&[2, 3], &[1., 0., -1., 2., 1., 0.]);
        let b = t(&[2], &[10., 20.]);
        let y = linear(&x, &w, Some(&b), &cfg(3, 2, true)).unwrap();
        assert_eq!(y.shape(), &[2, 2]);
        assert_eq!(y.data(), &[8., 24., 9., 19.]);
        // Fused ReLU6 comes after the bias: [8, 24, 9, 19] -> [6, 6, 6, 6].
        let mut c = cfg(3, 2, true);
        c.activation = Activation::Clip { min: 0., max: 6. };
        assert_eq!(linear(&x, &w, Some(&b), &c).unwrap().data(), &[6., 6., 6., 6.]);
        // Without bias: item 0 [-2, 4] -> [0, 4]; item 1 [-1, -1] -> [0, 0].
        let mut c = cfg(3, 2, false);
        c.activation = Activation::Clip { min: 0., max: 6. };
        assert_eq!(linear(&x, &w, None, &c).unwrap().data(), &[0., 4., 0., 0.]);
    }

    #[test]
    fn rejects_wrong_features() {
        let x = Tensor::zeros(vec![1, 4]);
        let w = Tensor::zeros(vec![2, 3]);
        assert!(
            linear(&x, &w, None, &cfg(3, 2, false)).unwrap_err().to_string().contains("[N, 3]")
        );
        let x = Tensor::zeros(vec![1, 3]);
        assert!(linear(&x, &Tensor::zeros(vec![3, 2]), None, &cfg(3, 2, false)).is_err());
        let b = Tensor::zeros(vec![3]);
        assert!(linear(&x, &w, Some(&b), &cfg(3, 2, true)).is_err());
        assert!(linear(&Tensor::zeros(vec![1, 3, 1]), &w, None, &cfg(3, 2, false)).is_err());
    }
}
