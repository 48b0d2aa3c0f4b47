//! Batch normalization over `[N, C, plane]`.
//!
//! Training mode normalises with the batch mean and *biased* variance and updates the running
//! statistics PyTorch's way (`running = (1 − 0.1)·running + 0.1·batch`, with the *unbiased*
//! variance). Eval mode normalises with the running statistics. Statistics are accumulated in
//! f64 whatever `T` is.

use super::items_per_chunk;
use crate::scalar::Real;
use rayon::prelude::*;

/// PyTorch's default BatchNorm momentum.
pub(crate) const MOMENTUM: f64 = 0.1;

/// Shape of one BN application.
#[derive(Clone, Copy)]
pub(crate) struct BnDims {
    pub channels: usize,
    pub plane: usize,
    pub batch: usize,
}

/// The per-channel mean and `1/√(var + eps)` a BN normalised with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BnStats {
    pub mean: Vec<f64>,
    pub invstd: Vec<f64>,
}

/// Per-channel sums over items of `f(x_plane, y_plane, c)`, each plane-pair of `a` and `b`
/// visited in item order (fixed, whatever the thread count).
fn channel_sums<T: Real>(
    d: BnDims,
    a: &[T],
    b: &[T],
    f: impl Fn(&[T], &[T], usize) -> f64 + Sync,
) -> Vec<f64> {
    (0..d.channels)
        .into_par_iter()
        .map(|c| {
            (0..d.batch)
                .map(|n| {
                    let r = (n * d.channels + c) * d.plane..(n * d.channels + c + 1) * d.plane;
                    f(&a[r.clone()], &b[r], c)
                })
                .sum()
        })
        .collect()
}

/// `Σ f(a_i, b_i)` in f64 over eight interleaved partial sums (vectorisable, fixed order).
fn lane_sum<T: Real>(a: &[T], b: &[T], f: impl Fn(f64, f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 =
        ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| f(x.to_f64(), y.to_f64())).sum();
    for (xa, xb) in ac.zip(bc) {
        for l in 0..8 {
            acc[l] += f(xa[l].to_f64(), xb[l].to_f64());
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Batch statistics of `x` (biased variance) plus the unbiased variance for the running update.
pub(crate) fn batch_stats<T: Real>(d: BnDims, x: &[T], eps: f64) -> (BnStats, Vec<f64>) {
    let count = (d.batch * d.plane) as f64;
    let sums = channel_sums(d, x, x, |p, _, _| lane_sum(p, p, |v, _| v));
    let mean: Vec<f64> = sums.into_iter().map(|s| s / count).collect();
    let var: Vec<f64> =
        channel_sums(d, x, x, |p, _, c| p.iter().map(|v| (v.to_f64() - mean[c]).powi(2)).sum())
            .into_iter()
            .map(|s| s / count)
            .collect();
    let unbiased =
        var.iter().map(|v| if count > 1.0 { v * count / (count - 1.0) } else { *v }).collect();
    let invstd = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    (BnStats { mean, invstd }, unbiased)
}

/// Running statistics as [`BnStats`].
pub(crate) fn running_stats<T: Real>(mean: &[T], var: &[T], eps: f64) -> BnStats {
    BnStats {
        mean: mean.iter().map(|m| m.to_f64()).collect(),
        invstd: var.iter().map(|v| 1.0 / (v.to_f64() + eps).sqrt()).collect(),
    }
}

/// PyTorch's running-statistics update after a training-mode batch.
pub(crate) fn update_running<T: Real>(
    stats: &BnStats,
    unbiased: &[f64],
    mean: &mut [T],
    var: &mut [T],
) {
    for c in 0..mean.len() {
        mean[c] = T::from_f64((1.0 - MOMENTUM) * mean[c].to_f64() + MOMENTUM * stats.mean[c]);
        var[c] = T::from_f64((1.0 - MOMENTUM) * var[c].to_f64() + MOMENTUM * unbiased[c]);
    }
}

/// `y = γ·(x − mean)·invstd + β`; also the tangent map with `γ → γ`, `β → 0` applied to a
/// tangent `dx` when `centre` is false (no mean subtraction).
pub(crate) fn normalize<T: Real>(
    d: BnDims,
    stats: &BnStats,
    gamma: &[T],
    beta: Option<&[T]>,
    centre: bool,
    x: &[T],
    y: &mut [T],
) {
    let scale: Vec<T> = (0..d.channels).map(|c| T::from_f64(stats.invstd[c]) * gamma[c]).collect();
    let shift: Vec<T> = (0..d.channels)
        .map(|c| {
            let m = if centre { T::from_f64(stats.mean[c]) * scale[c] } else { T::ZERO };
            beta.map_or(T::ZERO, |b| b[c]) - m
        })
        .collect();
    let item = d.channels * d.plane;
    let per = items_per_chunk(d.batch);
    y.par_chunks_mut(per * item).zip(x.par_chunks(per * item)).for_each(|(yc, xc)| {
        for (r, (yp, xp)) in yc.chunks_mut(d.plane).zip(xc.chunks(d.plane)).enumerate() {
            let c = r % d.channels;
            for (o, &v) in yp.iter_mut().zip(xp) {
                *o = v * scale[c] + shift[c];
            }
        }
    });
}

/// Gradients of γ and β (batch sums, plus per-item squared norms in eval mode).
pub(crate) struct BnGrad<T> {
    pub gamma: Vec<T>,
    pub beta: Vec<T>,
    pub gamma_norms: Vec<f64>,
    pub beta_norms: Vec<f64>,
}

/// Backward of BN. `train` adds the terms that flow through the batch statistics. Per-item
/// norms are only meaningful (and only computed) in eval mode, where items do not interact.
#[allow(clippy::too_many_arguments)] // the operands of a BN backward
pub(crate) fn backward<T: Real>(
    d: BnDims,
    stats: &BnStats,
    gamma: &[T],
    x: &[T],
    dy: &[T],
    train: bool,
    dx: Option<&mut [T]>,
    per_item_norms: bool,
) -> BnGrad<T> {
    let sum_dy = channel_sums(d, dy, dy, |g, _, _| lane_sum(g, g, |v, _| v));
    // Σ dy·x̂ = invstd · Σ dy·(x − mean)
    let sum_dy_xhat: Vec<f64> =
        channel_sums(d, dy, x, |g, xp, c| lane_sum(g, xp, |g, v| g * (v - stats.mean[c])))
            .into_iter()
            .zip(&stats.invstd)
            .map(|(s, i)| s * i)
            .collect();
    let count = (d.batch * d.plane) as f64;
    let item = d.channels * d.plane;
    if let Some(dx) = dx {
        // dx = k·dy + shift + slope·(x − mean), k = γ·invstd; the last two only in training.
        let coef: Vec<[T; 4]> = (0..d.channels)
            .map(|c| {
                let k = gamma[c].to_f64() * stats.invstd[c];
                let (shift, slope) = if train {
                    (-k * sum_dy[c] / count, -k * stats.invstd[c] * sum_dy_xhat[c] / count)
                } else {
                    (0.0, 0.0)
                };
                [k, shift, slope, stats.mean[c]].map(T::from_f64)
            })
            .collect();
        let per = items_per_chunk(d.batch);
        dx.par_chunks_mut(per * item)
            .zip(dy.par_chunks(per * item))
            .zip(x.par_chunks(per * item))
            .for_each(|((dxc, dyc), xc)| {
                let planes =
                    dxc.chunks_mut(d.plane).zip(dyc.chunks(d.plane)).zip(xc.chunks(d.plane));
                for (r, ((dxp, dyp), xp)) in planes.enumerate() {
                    let [k, shift, slope, mean] = coef[r % d.channels];
                    for ((o, &g), &v) in dxp.iter_mut().zip(dyp).zip(xp) {
                        *o += k * g + shift + slope * (v - mean);
                    }
                }
            });
    }
    let (mut gamma_norms, mut beta_norms) = (Vec::new(), Vec::new());
    if per_item_norms && !train {
        for n in 0..d.batch {
            let (mut g2, mut b2) = (0.0, 0.0);
            for c in 0..d.channels {
                let r = (n * d.channels + c) * d.plane..(n * d.channels + c + 1) * d.plane;
                let (g, xp) = (&dy[r.clone()], &x[r]);
                let b: f64 = g.iter().map(|v| v.to_f64()).sum();
                let s: f64 =
                    g.iter().zip(xp).map(|(g, v)| g.to_f64() * (v.to_f64() - stats.mean[c])).sum();
                g2 += (s * stats.invstd[c]).powi(2);
                b2 += b * b;
            }
            gamma_norms.push(g2);
            beta_norms.push(b2);
        }
    }
    BnGrad {
        gamma: sum_dy_xhat.iter().map(|&v| T::from_f64(v)).collect(),
        beta: sum_dy.iter().map(|&v| T::from_f64(v)).collect(),
        gamma_norms,
        beta_norms,
    }
}

/// Eval-mode tangent contribution of γ and β perturbations: `dy += dγ·x̂ + dβ`.
pub(crate) fn param_tangent<T: Real>(
    d: BnDims,
    stats: &BnStats,
    x: &[T],
    dgamma: Option<&[T]>,
    dbeta: Option<&[T]>,
    dy: &mut [T],
) {
    for (r, (yp, xp)) in dy.chunks_mut(d.plane).zip(x.chunks(d.plane)).enumerate() {
        let c = r % d.channels;
        let dg = dgamma.map_or(0.0, |g| g[c].to_f64());
        let db = dbeta.map_or(0.0, |b| b[c].to_f64());
        for (o, &v) in yp.iter_mut().zip(xp) {
            let xhat = (v.to_f64() - stats.mean[c]) * stats.invstd[c];
            *o += T::from_f64(dg * xhat + db);
        }
    }
}
