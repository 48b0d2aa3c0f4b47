//! The non-layer integer ops: requantization, residual add, clamp, pools, concat.

use super::QTensor;
use hawq_ir::infer::window_out;
use hawq_ir::{AvgPool, MaxPool};
use hawq_quant::Dyadic;

/// `clamp(round(x · m / 2^e), lo, hi)` element-wise.
pub fn requant(x: &QTensor, d: Dyadic, lo: i64, hi: i64) -> QTensor {
    QTensor {
        shape: x.shape.clone(),
        data: x.data.iter().map(|&v| d.apply(v as i64).clamp(lo, hi) as i32).collect(),
    }
}

/// `clamp(round(a · ma) + round(b · mb), lo, hi)` element-wise (exact in i64; the clamp bounds
/// lie inside the i32 range, so this also saturates).
pub fn add(a: &QTensor, b: &QTensor, da: Dyadic, db: Dyadic, lo: i64, hi: i64) -> QTensor {
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(&x, &y)| (da.apply(x as i64) + db.apply(y as i64)).clamp(lo, hi) as i32)
        .collect();
    QTensor { shape: a.shape.clone(), data }
}

/// Element-wise clamp.
pub fn clamp(x: &QTensor, lo: i64, hi: i64) -> QTensor {
    QTensor {
        shape: x.shape.clone(),
        data: x.data.iter().map(|&v| (v as i64).clamp(lo, hi) as i32).collect(),
    }
}

fn out_hw(
    x: &QTensor,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 4],
    d: [usize; 2],
    ceil: bool,
) -> (usize, usize) {
    let oh = window_out(x.shape[2], k[0], s[0], p[0], p[2], d[0], ceil).unwrap_or(0);
    let ow = window_out(x.shape[3], k[1], s[1], p[1], p[3], d[1], ceil).unwrap_or(0);
    (oh, ow)
}

/// Max pooling; padded cells never win. A window with no valid cell yields 0.
pub fn max_pool(x: &QTensor, p: &MaxPool) -> QTensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2] as isize, x.shape[3] as isize);
    let (oh, ow) = out_hw(x, p.kernel, p.stride, p.pads, p.dilation, p.ceil_mode);
    let mut out = QTensor::zeros(vec![n, c, oh, ow]);
    let mut o = 0;
    for plane in x.data.chunks_exact((h * w) as usize) {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<i32> = None;
                for ky in 0..p.kernel[0] {
                    let iy = (oy * p.stride[0] + ky * p.dilation[0]) as isize - p.pads[0] as isize;
                    for kx in 0..p.kernel[1] {
                        let ix =
                            (ox * p.stride[1] + kx * p.dilation[1]) as isize - p.pads[1] as isize;
                        if iy >= 0 && iy < h && ix >= 0 && ix < w {
                            let v = plane[(iy * w + ix) as usize];
                            best = Some(best.map_or(v, |b| b.max(v)));
                        }
                    }
                }
                out.data[o] = best.unwrap_or(0);
                o += 1;
            }
        }
    }
    out
}

/// Average pooling: integer window sum divided (truncating toward zero) by PyTorch's divisor —
/// the window clipped to the padded input when `count_include_pad`, else the valid cells.
pub fn avg_pool(x: &QTensor, p: &AvgPool) -> QTensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2] as isize, x.shape[3] as isize);
    let (oh, ow) = out_hw(x, p.kernel, p.stride, p.pads, [1, 1], p.ceil_mode);
    let mut out = QTensor::zeros(vec![n, c, oh, ow]);
    let mut o = 0;
    for plane in x.data.chunks_exact((h * w) as usize) {
        for oy in 0..oh {
            for ox in 0..ow {
                let y0 = (oy * p.stride[0]) as isize - p.pads[0] as isize;
                let x0 = (ox * p.stride[1]) as isize - p.pads[1] as isize;
                let y1 = (y0 + p.kernel[0] as isize).min(h + p.pads[2] as isize);
                let x1 = (x0 + p.kernel[1] as isize).min(w + p.pads[3] as isize);
                let padded_count = (y1 - y0) * (x1 - x0);
                let (vy0, vx0, vy1, vx1) = (y0.max(0), x0.max(0), y1.min(h), x1.min(w));
                let mut sum: i64 = 0;
                for iy in vy0..vy1 {
                    for ix in vx0..vx1 {
                        sum += plane[(iy * w + ix) as usize] as i64;
                    }
                }
                let divisor =
                    if p.count_include_pad { padded_count } else { (vy1 - vy0) * (vx1 - vx0) };
                out.data[o] = if divisor > 0 { (sum / divisor as i64) as i32 } else { 0 };
                o += 1;
            }
        }
    }
    out
}

/// Global average pooling: integer sum over H·W divided by H·W (truncating toward zero).
pub fn global_avg_pool(x: &QTensor) -> QTensor {
    let (n, c) = (x.shape[0], x.shape[1]);
    let hw = x.shape[2] * x.shape[3];
    let data = x
        .data
        .chunks_exact(hw)
        .map(|p| (p.iter().map(|&v| v as i64).sum::<i64>() / hw as i64) as i32)
        .collect();
    QTensor { shape: vec![n, c, 1, 1], data }
}

/// Channel concatenation, each input requantized to the output scale and clamped.
pub fn concat(xs: &[&QTensor], dyadics: &[Dyadic], lo: i64, hi: i64) -> QTensor {
    let n = xs[0].shape[0];
    let rest: usize = xs[0].shape[2..].iter().product();
    let c_total: usize = xs.iter().map(|t| t.shape[1]).sum();
    let mut shape = xs[0].shape.clone();
    shape[1] = c_total;
    let mut data = Vec::with_capacity(n * c_total * rest);
    for b in 0..n {
        for (t, d) in xs.iter().zip(dyadics) {
            let item = t.shape[1] * rest;
            data.extend(
                t.data[b * item..(b + 1) * item]
                    .iter()
                    .map(|&v| d.apply(v as i64).clamp(lo, hi) as i32),
            );
        }
    }
    QTensor { shape, data }
}
