//! Pooling kernels. Windows are placed in padded coordinates: output `o` starts at padded
//! position `o · stride` and its taps sit every `dilation` cells; padded position `p` reads
//! input position `p − pad_begin` when that lies inside the input.

use super::buffer::{nchw, op_err, zeros};
use crate::error::Result;
use crate::infer::window_out;
use crate::op::{AvgPool, MaxPool};
use crate::tensor::Tensor;

/// One spatial axis of a pooling window.
#[derive(Clone, Copy)]
struct Axis {
    len: usize,
    kernel: usize,
    stride: usize,
    pad_begin: usize,
    pad_end: usize,
    dilation: usize,
}

impl Axis {
    /// Input index of tap `k` of output `o`, or `None` in the padding.
    fn tap(self, o: usize, k: usize) -> Option<usize> {
        // Saturating: with ceil_mode the last window may reach past the padded extent, and
        // absurd pads must not overflow (a saturated position is never inside the input).
        let p = o.saturating_mul(self.stride).saturating_add(k.saturating_mul(self.dilation));
        p.checked_sub(self.pad_begin).filter(|&i| i < self.len)
    }
}

fn out_size(op: &'static str, axes: [Axis; 2], ceil_mode: bool) -> Result<[usize; 2]> {
    let size = |a: Axis| {
        window_out(a.len, a.kernel, a.stride, a.pad_begin, a.pad_end, a.dilation, ceil_mode)
            .filter(|&o| o > 0)
    };
    match (size(axes[0]), size(axes[1])) {
        (Some(h), Some(w)) => Ok([h, w]),
        _ => Err(op_err(
            op,
            format!(
                "window {:?} (stride {:?}, dilation {:?}) does not fit input {}x{} with its pads",
                [axes[0].kernel, axes[1].kernel],
                [axes[0].stride, axes[1].stride],
                [axes[0].dilation, axes[1].dilation],
                axes[0].len,
                axes[1].len
            ),
        )),
    }
}

fn axes(
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
    pads: [usize; 4],
    d: [usize; 2],
) -> [Axis; 2] {
    [
        Axis {
            len: h,
            kernel: k[0],
            stride: s[0],
            pad_begin: pads[0],
            pad_end: pads[2],
            dilation: d[0],
        },
        Axis {
            len: w,
            kernel: k[1],
            stride: s[1],
            pad_begin: pads[1],
            pad_end: pads[3],
            dilation: d[1],
        },
    ]
}

/// Max pooling with PyTorch/ONNX semantics: padded cells never win (they are skipped, not
/// treated as zero or −∞), dilation spaces the taps, `ceil_mode` rounds the output size up
/// (dropping a last window that would start in the end padding). A NaN in a window wins, as in
/// PyTorch. A window lying entirely in the padding (possible only with pads ≥ the window, which
/// PyTorch forbids) yields −∞.
pub fn max_pool(x: &Tensor, cfg: &MaxPool) -> Result<Tensor> {
    const OP: &str = "MaxPool";
    let [n, c, h, w] = nchw(OP, x)?;
    let [ay, ax] = axes(h, w, cfg.kernel, cfg.stride, cfg.pads, cfg.dilation);
    let [oh, ow] = out_size(OP, [ay, ax], cfg.ceil_mode)?;
    let mut out = zeros(OP, vec![n, c, oh, ow])?;
    let planes = x.data().chunks_exact(h * w).zip(out.data_mut().chunks_exact_mut(oh * ow));
    for (src, dst) in planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = f32::NEG_INFINITY;
                for y in (0..ay.kernel).filter_map(|k| ay.tap(oy, k)) {
                    for xx in (0..ax.kernel).filter_map(|k| ax.tap(ox, k)) {
                        let v = src[y * w + xx];
                        if v > best || v.is_nan() {
                            best = v;
                        }
                    }
                }
                dst[oy * ow + ox] = best;
            }
        }
    }
    Ok(out)
}

/// Average pooling with PyTorch semantics, extended to asymmetric pads the way ONNX Runtime
/// does.
///
/// The sum runs over the window's cells inside the input (row-major, from 0.0). The divisor:
/// - `count_include_pad = false`: the number of those cells;
/// - `count_include_pad = true`: the window clipped to the *padded* extent
///   `[0, pad_begin + len + pad_end)`, i.e. padding cells count but cells past the end padding
///   (which only a `ceil_mode` window can reach) do not. This is PyTorch's rule
///   (`hend = min(hstart + kH, H + padH)`, `pool_size = (hend − hstart)·(wend − wstart)`,
///   computed before clipping to the input).
///
/// A window with no input cell yields 0, as in PyTorch.
pub fn avg_pool(x: &Tensor, cfg: &AvgPool) -> Result<Tensor> {
    const OP: &str = "AvgPool";
    let [n, c, h, w] = nchw(OP, x)?;
    let [ay, ax] = axes(h, w, cfg.kernel, cfg.stride, cfg.pads, [1, 1]);
    let [oh, ow] = out_size(OP, [ay, ax], cfg.ceil_mode)?;
    let mut out = zeros(OP, vec![n, c, oh, ow])?;
    // Cells of the window along one axis that lie within the padded extent.
    let padded_span = |a: Axis, o: usize| {
        let start = o * a.stride;
        let end = start.saturating_add(a.kernel).min(a.pad_begin + a.len + a.pad_end);
        end.saturating_sub(start)
    };
    let planes = x.data().chunks_exact(h * w).zip(out.data_mut().chunks_exact_mut(oh * ow));
    for (src, dst) in planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut sum = 0.0f32;
                let mut cells = 0usize;
                for y in (0..ay.kernel).filter_map(|k| ay.tap(oy, k)) {
                    for xx in (0..ax.kernel).filter_map(|k| ax.tap(ox, k)) {
                        sum += src[y * w + xx];
                        cells += 1;
                    }
                }
                let divisor = if cfg.count_include_pad {
                    padded_span(ay, oy) * padded_span(ax, ox)
                } else {
                    cells
                };
                dst[oy * ow + ox] = if cells == 0 { 0.0 } else { sum / divisor as f32 };
            }
        }
    }
    Ok(out)
}

/// Mean over all spatial positions: `[N, C, H, W]` → `[N, C, 1, 1]`; the sum runs row-major
/// from 0.0 and is divided by `H·W`.
pub fn global_avg_pool(x: &Tensor) -> Result<Tensor> {
    const OP: &str = "GlobalAvgPool";
    let [n, c, h, w] = nchw(OP, x)?;
    if h * w == 0 {
        return Err(op_err(OP, format!("input {:?} has no spatial positions", x.shape())));
    }
    let mut out = zeros(OP, vec![n, c, 1, 1])?;
    for (plane, dst) in x.data().chunks_exact(h * w).zip(out.data_mut()) {
        *dst = plane.iter().fold(0.0f32, |acc, v| acc + v) / (h * w) as f32;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::new(shape.to_vec(), data.to_vec()).expect("test tensor")
    }

    /// 1..=n as floats.
    fn iota(n: usize) -> Vec<f32> {
        (1..=n).map(|v| v as f32).collect()
    }

    fn maxp(k: usize, s: usize, p: usize, d: usize, ceil: bool) -> MaxPool {
        MaxPool { kernel: [k, k], stride: [s, s], pads: [p; 4], dilation: [d, d], ceil_mode: ceil }
    }

    fn avgp(k: usize, s: usize, p: usize, ceil: bool, include: bool) -> AvgPool {
        AvgPool {
            kernel: [k, k],
            stride: [s, s],
            pads: [p; 4],
            ceil_mode: ceil,
            count_include_pad: include,
        }
    }

    #[test]
    fn max_pool_padding_never_wins() {
        // All-negative 2x2 image, 2x2 window, stride 2, pad 1: OH = (4-2)/2+1 = 2; each window
        // holds exactly one real cell plus padding, so the output is the input (a zero pad
        // would have won).
        let x = t(&[1, 1, 2, 2], &[-1., -2., -3., -4.]);
        let y = max_pool(&x, &maxp(2, 2, 1, 1, false)).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        assert_eq!(y.data(), &[-1., -2., -3., -4.]);
    }

    #[test]
    fn max_pool_ceil_mode() {
        // 5x5 = 1..=25, 2x2 stride 2: floor gives 2x2, ceil gives 3x3 (last window clipped).
        // ceil outputs: row 0: max(1,2,6,7)=7, max(3,4,8,9)=9, max(5,10)=10;
        //   row 1: 17, 19, 20; row 2 (only input row 4): max(21,22)=22, 24, 25.
        let x = t(&[1, 1, 5, 5], &iota(25));
        assert_eq!(max_pool(&x, &maxp(2, 2, 0, 1, false)).unwrap().data(), &[7., 9., 17., 19.]);
        let y = max_pool(&x, &maxp(2, 2, 0, 1, true)).unwrap();
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert_eq!(y.data(), &[7., 9., 10., 17., 19., 20., 22., 24., 25.]);
    }

    #[test]
    fn max_pool_dilation() {
        // 4x4 = 1..=16 with a 2x2 window, dilation 2: taps (0,0),(0,2),(2,0),(2,2).
        // OH = 4 - 2 - 1 + 1 = 2. Output (oy,ox) = x(oy+2, ox+2): [11, 12, 15, 16].
        let x = t(&[1, 1, 4, 4], &iota(16));
        let y = max_pool(&x, &maxp(2, 1, 0, 2, false)).unwrap();
        assert_eq!(y.data(), &[11., 12., 15., 16.]);
        // Mirror the image so the max sits at the first tap: x'(i) = 17 - x(i).
        // Output (oy,ox) = x'(oy, ox) = [16, 15, 12, 11].
        let x = t(&[1, 1, 4, 4], &iota(16).iter().map(|v| 17. - v).collect::<Vec<_>>());
        assert_eq!(max_pool(&x, &maxp(2, 1, 0, 2, false)).unwrap().data(), &[16., 15., 12., 11.]);
    }

    #[test]
    fn avg_pool_count_include_pad_on_and_off() {
        // 2x2 = [1,2,3,4], 2x2 window, stride 2, pad 1 -> 2x2 outputs, each window holds one
        // real cell and three padding cells.
        // include_pad: divisor 4 -> [0.25, 0.5, 0.75, 1]; exclude: divisor 1 -> the input.
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let y = avg_pool(&x, &avgp(2, 2, 1, false, true)).unwrap();
        assert_eq!(y.data(), &[0.25, 0.5, 0.75, 1.]);
        let y = avg_pool(&x, &avgp(2, 2, 1, false, false)).unwrap();
        assert_eq!(y.data(), &[1., 2., 3., 4.]);
    }

    #[test]
    fn avg_pool_ceil_mode_divides_by_the_clipped_window() {
        // 3x3 = 1..=9, 2x2 stride 2, no pad, ceil_mode: OH = ceil(1/2)+1 = 2.
        // Window (0,0): (1+2+4+5)/4 = 3. Window (0,1): cols 2..3 clipped to col 2: (3+6)/2 = 4.5
        // (past the padded edge, so PyTorch divides by 2 even with count_include_pad).
        // Window (1,0): (7+8)/2 = 7.5. Window (1,1): 9/1 = 9.
        let x = t(&[1, 1, 3, 3], &iota(9));
        for include in [true, false] {
            let y = avg_pool(&x, &avgp(2, 2, 0, true, include)).unwrap();
            assert_eq!(y.shape(), &[1, 1, 2, 2]);
            assert_eq!(y.data(), &[3., 4.5, 7.5, 9.], "count_include_pad {include}");
        }
        // With pad 1 and a 3x3 window, stride 2, ceil on a 4x4 input: padded 6,
        // OH = ceil(3/2)+1 = 3; last window starts at padded 4 (input 3) < 4 + 1, kept.
        // Output (2,2): padded rows 4..7 clipped to the padded extent 0..6 -> 2 rows, so the
        // include-pad divisor is 2·2 = 4 while only x(3,3) = 16 is real: 16/4 = 4;
        // excluding pads: 16/1 = 16.
        let x = t(&[1, 1, 4, 4], &iota(16));
        let y = avg_pool(&x, &avgp(3, 2, 1, true, true)).unwrap();
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert_eq!(y.data()[8], 4.);
        // Output (0,0) covers padded rows/cols 0..3: real cells x(0..2, 0..2) = 1+2+5+6 = 14;
        // include-pad divisor 9, exclude divisor 4.
        assert_eq!(y.data()[0], 14. / 9.);
        let y = avg_pool(&x, &avgp(3, 2, 1, true, false)).unwrap();
        assert_eq!(y.data()[8], 16.);
        assert_eq!(y.data()[0], 3.5);
    }

    #[test]
    fn global_avg_pool_per_plane() {
        // Two channels: mean(1,2,3,4) = 2.5, mean(5,6,7,8) = 6.5.
        let x = t(&[1, 2, 2, 2], &iota(8));
        let y = global_avg_pool(&x).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1, 1]);
        assert_eq!(y.data(), &[2.5, 6.5]);
        assert!(global_avg_pool(&Tensor::zeros(vec![2, 4])).is_err());
    }

    #[test]
    fn absurd_pads_and_strides_do_not_panic() {
        let x = t(&[1, 1, 1, 1], &[3.]);
        let huge = 1usize << 62;
        let cfg = MaxPool {
            kernel: [2, 2],
            stride: [huge, huge],
            pads: [huge; 4],
            dilation: [huge, 1],
            ceil_mode: true,
        };
        // Windows far out in the padding: typed error or -inf, never an overflow panic.
        if let Ok(y) = max_pool(&x, &cfg) {
            assert!(y.data().iter().all(|v| *v == 3. || *v == f32::NEG_INFINITY));
        }
        let cfg = AvgPool {
            kernel: [2, 2],
            stride: [huge, huge],
            pads: [huge; 4],
            ceil_mode: true,
            count_include_pad: true,
        };
        if let Ok(y) = avg_pool(&x, &cfg) {
            assert!(y.data().iter().all(|v| v.is_finite()));
        }
        let cfg = MaxPool {
            kernel: [1, 1],
            stride: [1, 1],
            pads: [usize::MAX; 4],
            ..maxp(1, 1, 0, 1, false)
        };
        assert!(max_pool(&x, &cfg).is_err());
    }

    #[test]
    fn bad_windows_are_typed_errors() {
        let x = Tensor::zeros(vec![1, 1, 2, 2]);
        assert!(max_pool(&x, &maxp(3, 1, 0, 1, false)).is_err());
        assert!(max_pool(&x, &maxp(2, 0, 0, 1, false)).is_err());
        assert!(max_pool(&x, &maxp(2, 1, 0, 0, false)).is_err());
        assert!(avg_pool(&x, &avgp(0, 1, 0, false, true)).is_err());
        assert!(avg_pool(&Tensor::zeros(vec![1, 4]), &avgp(1, 1, 0, false, true)).is_err());
        // A zero-height image with enough padding for a window is still rejected.
        let empty = Tensor::zeros(vec![1, 1, 0, 4]);
        assert!(max_pool(&empty, &maxp(2, 1, 1, 1, false)).is_err());
        assert!(avg_pool(&empty, &avgp(2, 1, 1, false, true)).is_err());
        assert!(global_avg_pool(&empty).is_err());
    }
}
