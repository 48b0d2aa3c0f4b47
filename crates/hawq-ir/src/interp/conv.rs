//! 2-D convolution as im2col + a register-tiled matrix product.
//!
//! For each batch item and group, input patches are packed into panels of [`NR`] output
//! pixels (`K × NR`, zero where the window reads padding) and the weights into panels of
//! [`MR`] output channels (`K × MR`), with `K = in/groups · kh · kw` in `(ic, ky, kx)` order.
//! A tile of `MR × NR` accumulators then walks `k = 0..K` once. Every output element is
//! therefore `((Σ_k w[k]·x[k]) + bias) → activation`, summed in ascending `k` from 0.0, the same
//! order whatever the tile position, so results are deterministic and independent of tiling.

use super::buffer::{nchw, op_err, scratch, zeros};
use crate::error::Result;
use crate::infer::window_out;
use crate::op::Conv2d;
use crate::tensor::Tensor;

const OP: &str = "Conv2d";
/// Output channels per register tile.
const MR: usize = 4;
/// Output pixels per register tile.
const NR: usize = 8;

/// Where the windows of one conv sit, in padded input coordinates.
struct Geometry {
    in_h: usize,
    in_w: usize,
    kernel: [usize; 2],
    dilation: [usize; 2],
    pad_top: usize,
    pad_left: usize,
    /// Padded-space row of each output pixel's window origin (`oy · stride`).
    row0: Vec<usize>,
    /// Padded-space column of each output pixel's window origin (`ox · stride`).
    col0: Vec<usize>,
}

impl Geometry {
    /// Input offset (within one channel plane) read by output pixel `p` at kernel tap
    /// `(ky, kx)`, or `None` when that tap lands in the padding.
    fn tap(&self, p: usize, ky: usize, kx: usize) -> Option<usize> {
        let py = self.row0[p] + ky * self.dilation[0];
        let px = self.col0[p] + kx * self.dilation[1];
        let y = py.checked_sub(self.pad_top).filter(|&y| y < self.in_h)?;
        let x = px.checked_sub(self.pad_left).filter(|&x| x < self.in_w)?;
        Some(y * self.in_w + x)
    }
}

fn check(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cfg: &Conv2d) -> Result<[usize; 4]> {
    let [n, c, h, wd] = nchw(OP, x)?;
    if cfg.groups == 0
        || cfg.in_channels == 0
        || cfg.out_channels == 0
        || !cfg.in_channels.is_multiple_of(cfg.groups)
        || !cfg.out_channels.is_multiple_of(cfg.groups)
    {
        return Err(op_err(
            OP,
            format!(
                "groups {} must be positive and divide in {} and out {} channels",
                cfg.groups, cfg.in_channels, cfg.out_channels
            ),
        ));
    }
    if c != cfg.in_channels {
        return Err(op_err(
            OP,
            format!("input has {c} channels, conv expects {}", cfg.in_channels),
        ));
    }
    if w.shape() != cfg.weight_shape() {
        return Err(op_err(
            OP,
            format!("weight has shape {:?}, expected {:?}", w.shape(), cfg.weight_shape()),
        ));
    }
    if let Some(b) = b
        && b.shape() != [cfg.out_channels]
    {
        return Err(op_err(
            OP,
            format!("bias has shape {:?}, expected [{}]", b.shape(), cfg.out_channels),
        ));
    }
    let [pt, pl, pb, pr] = cfg.pads;
    let oh = window_out(h, cfg.kernel[0], cfg.stride[0], pt, pb, cfg.dilation[0], false);
    let ow = window_out(wd, cfg.kernel[1], cfg.stride[1], pl, pr, cfg.dilation[1], false);
    match (oh, ow) {
        (Some(oh), Some(ow)) if oh > 0 && ow > 0 => Ok([n, cfg.out_channels, oh, ow]),
        _ => Err(op_err(
            OP,
            format!(
                "window {:?} (stride {:?}, pads {:?}, dilation {:?}) does not fit input {h}x{wd}",
                cfg.kernel, cfg.stride, cfg.pads, cfg.dilation
            ),
        )),
    }
}

/// Convolution with PyTorch/ONNX semantics: asymmetric zero padding, stride, dilation, groups
/// (depthwise included), optional bias `[out]`, then `cfg.activation`.
///
/// `x` is `[N, in, H, W]`, `w` is `[out, in/groups, kh, kw]`; the result is
/// `[N, out, OH, OW]` with sizes from [`window_out`].
pub fn conv2d(x: &Tensor, w: &Tensor, b: Option<&Tensor>, cfg: &Conv2d) -> Result<Tensor> {
    let out_shape = check(x, w, b, cfg)?;
    let [n, _, oh, ow] = out_shape;
    let [_, cin, in_h, in_w] = nchw(OP, x)?;
    let groups = cfg.groups;
    let (cin_g, cout_g) = (cin / groups, cfg.out_channels / groups);
    let [kh, kw] = cfg.kernel;
    let k_len = cin_g * kh * kw;
    let pixels = oh * ow;
    let geo = Geometry {
        in_h,
        in_w,
        kernel: cfg.kernel,
        dilation: cfg.dilation,
        pad_top: cfg.pads[0],
        pad_left: cfg.pads[1],
        row0: (0..pixels).map(|p| (p / ow) * cfg.stride[0]).collect(),
        col0: (0..pixels).map(|p| (p % ow) * cfg.stride[1]).collect(),
    };

    let mut out = zeros(OP, out_shape.to_vec())?;
    let a_panels = cout_g.div_ceil(MR);
    let b_panels = pixels.div_ceil(NR);
    let mut a_pack = scratch(OP, a_panels * k_len * MR)?;
    let mut b_pack = scratch(OP, b_panels * k_len * NR)?;
    let plane = in_h * in_w;
    for g in 0..groups {
        pack_weights(w.data(), g * cout_g, cout_g, k_len, &mut a_pack);
        for item in 0..n {
            let x_group = &x.data()[(item * cin + g * cin_g) * plane..][..cin_g * plane];
            pack_patches(x_group, &geo, cin_g, &mut b_pack);
            let first_out = (item * cfg.out_channels + g * cout_g) * pixels;
            let out_group = &mut out.data_mut()[first_out..][..cout_g * pixels];
            matmul(&a_pack, &b_pack, k_len, cout_g, pixels, out_group);
        }
    }
    finish(&mut out, b, cfg, pixels);
    Ok(out)
}

/// Packs weight rows `first..first + rows` (each `k_len` long, `(ic, ky, kx)` order) into
/// panels of `MR` rows, interleaved by `k`; rows past the end are zero.
fn pack_weights(w: &[f32], first: usize, rows: usize, k_len: usize, dst: &mut [f32]) {
    for (panel, chunk) in dst.chunks_exact_mut(k_len * MR).enumerate() {
        for r in 0..MR {
            let row = panel * MR + r;
            let src = (row < rows).then(|| &w[(first + row) * k_len..][..k_len]);
            for k in 0..k_len {
                chunk[k * MR + r] = src.map_or(0.0, |s| s[k]);
            }
        }
    }
}

/// im2col into panels of `NR` output pixels, interleaved by `k`; taps in the padding and
/// pixels past the end are zero.
fn pack_patches(x: &[f32], geo: &Geometry, channels: usize, dst: &mut [f32]) {
    let [kh, kw] = geo.kernel;
    let pixels = geo.row0.len();
    let plane = geo.in_h * geo.in_w;
    let k_len = channels * kh * kw;
    for (panel, chunk) in dst.chunks_exact_mut(k_len * NR).enumerate() {
        let mut k = 0;
        for ic in 0..channels {
            let x_plane = &x[ic * plane..][..plane];
            for ky in 0..kh {
                for kx in 0..kw {
                    for j in 0..NR {
                        let p = panel * NR + j;
                        let tap = if p < pixels { geo.tap(p, ky, kx) } else { None };
                        chunk[k * NR + j] = tap.map_or(0.0, |i| x_plane[i]);
                    }
                    k += 1;
                }
            }
        }
    }
}

/// `out[m, p] = Σ_k a[m, k] · b[k, p]` over packed panels; `out` is `rows × cols` row-major.
fn matmul(a: &[f32], b: &[f32], k_len: usize, rows: usize, cols: usize, out: &mut [f32]) {
    if k_len == 0 {
        return;
    }
    for (bp, b_panel) in b.chunks_exact(k_len * NR).enumerate() {
        let col = bp * NR;
        let valid = NR.min(cols - col);
        for (ap, a_panel) in a.chunks_exact(k_len * MR).enumerate() {
            let acc = tile(a_panel, b_panel);
            for r in 0..MR.min(rows - ap * MR) {
                let dst = &mut out[(ap * MR + r) * cols + col..][..valid];
                for (d, acc_col) in dst.iter_mut().zip(&acc) {
                    *d = acc_col[r];
                }
            }
        }
    }
}

/// One tile of `MR` output channels × `NR` pixels, indexed `[pixel][channel]`: sums over `k`
/// in ascending order, starting from zero.
///
/// The pixel-major accumulator is deliberate: written this way LLVM keeps the tile in eight
/// SSE registers with one broadcast per weight, even at `opt-level = 2`; the channel-major form
/// gets shuffled between lanes every step and runs about 4× slower.
fn tile(a_panel: &[f32], b_panel: &[f32]) -> [[f32; MR]; NR] {
    let mut acc = [[0.0f32; MR]; NR];
    let (a_rows, _) = a_panel.as_chunks::<MR>();
    let (b_rows, _) = b_panel.as_chunks::<NR>();
    for (a_k, b_k) in a_rows.iter().zip(b_rows) {
        for (acc_col, &b) in acc.iter_mut().zip(b_k) {
            for (acc_v, &a) in acc_col.iter_mut().zip(a_k) {
                *acc_v += a * b;
            }
        }
    }
    acc
}

/// Adds the bias and applies the fused activation, per output channel.
fn finish(out: &mut Tensor, b: Option<&Tensor>, cfg: &Conv2d, pixels: usize) {
    let bias = b.map(Tensor::data);
    for (i, channel) in out.data_mut().chunks_exact_mut(pixels.max(1)).enumerate() {
        let beta = bias.map_or(0.0, |b| b[i % cfg.out_channels]);
        for v in channel {
            *v = cfg.activation.apply(*v + beta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::op::Activation;

    fn t(shape: &[usize], data: &[f32]) -> Tensor {
        Tensor::new(shape.to_vec(), data.to_vec()).expect("test tensor")
    }

    /// 1..=n as floats.
    fn iota(n: usize) -> Vec<f32> {
        (1..=n).map(|v| v as f32).collect()
    }

    #[test]
    fn plain_3x3_with_padding_and_bias() {
        // x = [[1,2],[3,4]], w = all ones 3x3, pad 1, bias 10: every output sums the whole
        // 2x2 image (all 4 pixels are inside every window) = 10, plus bias 10 = 20.
        let x = t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let w = Tensor::full(vec![1, 1, 3, 3], 1.0);
        let b = t(&[1], &[10.]);
        let mut cfg = Conv2d::new("w", 1, 1, 3, 1, 1);
        cfg.bias = Some("b".into());
        let y = conv2d(&x, &w, Some(&b), &cfg).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        assert_eq!(y.data(), &[20., 20., 20., 20.]);
    }

    #[test]
    fn stride_two_and_asymmetric_pads() {
        // x = 1..=16 as 4x4, 2x2 kernel of ones, stride 2, pads top 1 left 0 bottom 0 right 1.
        // Padded height 5 -> OH = (5-2)/2+1 = 2; padded width 5 -> OW = 2.
        // Output (0,0): rows -1..0 (only row 0), cols 0..1 -> 1+2 = 3.
        // Output (0,1): row 0, cols 2..3 -> 3+4 = 7.
        // Output (1,0): rows 1..2, cols 0..1 -> 5+6+9+10 = 30.
        // Output (1,1): rows 1..2, cols 2..3 -> 7+8+11+12 = 38.
        let x = t(&[1, 1, 4, 4], &iota(16));
        let w = Tensor::full(vec![1, 1, 2, 2], 1.0);
        let mut cfg = Conv2d::new("w", 1, 1, 2, 2, 0);
        cfg.pads = [1, 0, 0, 1];
        let y = conv2d(&x, &w, None, &cfg).unwrap();
        assert_eq!(y.shape(), &[1, 1, 2, 2]);
        assert_eq!(y.data(), &[3., 7., 30., 38.]);
    }

    #[test]
    fn dilation_two() {
        // x = 1..=25 as 5x5, 2x2 kernel [[1,10],[100,1000]] with dilation 2: taps at
        // (0,0),(0,2),(2,0),(2,2) relative; OH = OW = 5 - 2 - 1 + 1 = 3.
        // Output (0,0) = 1·1 + 3·10 + 11·100 + 13·1000 = 1 + 30 + 1100 + 13000 = 14131.
        // Output (2,2): taps x(2,2)=13, x(2,4)=15, x(4,2)=23, x(4,4)=25
        //   = 13 + 150 + 2300 + 25000 = 27463.
        let x = t(&[1, 1, 5, 5], &iota(25));
        let w = t(&[1, 1, 2, 2], &[1., 10., 100., 1000.]);
        let mut cfg = Conv2d::new("w", 1, 1, 2, 1, 0);
        cfg.dilation = [2, 2];
        let y = conv2d(&x, &w, None, &cfg).unwrap();
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert_eq!(y.data()[0], 14131.);
        assert_eq!(y.data()[8], 27463.);
    }

    #[test]
    fn groups_two() {
        // 4 input channels in 2 groups, 2 outputs (one per group), 1x1 kernels.
        // Channel c holds the constant c+1 over a 1x1 image.
        // Output 0 reads channels 0,1 with weights [1,2]: 1·1 + 2·2 = 5.
        // Output 1 reads channels 2,3 with weights [3,4]: 3·3 + 4·4 = 25.
        let x = t(&[1, 4, 1, 1], &[1., 2., 3., 4.]);
        let w = t(&[2, 2, 1, 1], &[1., 2., 3., 4.]);
        let mut cfg = Conv2d::new("w", 4, 2, 1, 1, 0);
        cfg.groups = 2;
        let y = conv2d(&x, &w, None, &cfg).unwrap();
        assert_eq!(y.data(), &[5., 25.]);
    }

    #[test]
    fn depthwise_with_fused_relu() {
        // Depthwise 2 channels, 2x2 kernel, no padding, over 2x2 images: one output each.
        // Channel 0: x = [1,2,3,4], w = [1,1,1,1] -> 10, bias -20 -> -10 -> relu 0.
        // Channel 1: x = [5,6,7,8], w = [1,0,0,-1] -> 5 - 8 = -3, bias 5 -> 2 -> relu 2.
        let x = t(&[1, 2, 2, 2], &iota(8));
        let w = t(&[2, 1, 2, 2], &[1., 1., 1., 1., 1., 0., 0., -1.]);
        let b = t(&[2], &[-20., 5.]);
        let mut cfg = Conv2d::new("w", 2, 2, 2, 1, 0);
        cfg.groups = 2;
        cfg.bias = Some("b".into());
        cfg.activation = Activation::Relu;
        assert!(cfg.is_depthwise());
        let y = conv2d(&x, &w, Some(&b), &cfg).unwrap();
        assert_eq!(y.shape(), &[1, 2, 1, 1]);
        assert_eq!(y.data(), &[0., 2.]);
    }

    #[test]
    fn batch_items_and_many_channels_cross_tile_edges() {
        // 2 batch items, 1 input channel of constant v, 1x1 kernel, 5 outputs with weights
        // 1..=5 over a 3x3 image (9 pixels: one full NR=8 tile and one partial; 5 rows: one
        // full MR=4 tile and one partial). Output [i, o, :, :] = v_i · (o+1).
        let mut data = vec![2.0; 9];
        data.extend(vec![-1.0; 9]);
        let x = t(&[2, 1, 3, 3], &data);
        let w = t(&[5, 1, 1, 1], &iota(5));
        let cfg = Conv2d::new("w", 1, 5, 1, 1, 0);
        let y = conv2d(&x, &w, None, &cfg).unwrap();
        assert_eq!(y.shape(), &[2, 5, 3, 3]);
        for item in 0..2 {
            let v = if item == 0 { 2.0 } else { -1.0 };
            for o in 0..5 {
                let plane = &y.data()[(item * 5 + o) * 9..][..9];
                assert!(plane.iter().all(|&p| p == v * (o + 1) as f32), "item {item} out {o}");
            }
        }
    }

    #[test]
    fn bad_operands_are_typed_errors() {
        let x = Tensor::zeros(vec![1, 3, 4, 4]);
        let cfg = Conv2d::new("w", 2, 4, 3, 1, 1);
        let w = Tensor::zeros(cfg.weight_shape());
        let e = conv2d(&x, &w, None, &cfg).unwrap_err().to_string();
        assert!(e.contains("3 channels"), "{e}");

        let cfg = Conv2d::new("w", 3, 4, 3, 1, 1);
        let e = conv2d(&x, &Tensor::zeros(vec![4, 3, 1, 1]), None, &cfg).unwrap_err();
        assert!(e.to_string().contains("weight has shape"), "{e}");

        let mut bad = cfg.clone();
        bad.stride = [0, 1];
        let w = Tensor::zeros(cfg.weight_shape());
        assert!(conv2d(&x, &w, None, &bad).is_err());

        let mut bad = cfg.clone();
        bad.groups = 2;
        assert!(conv2d(&x, &w, None, &bad).unwrap_err().to_string().contains("groups"));

        let big = Conv2d::new("w", 3, 4, 9, 1, 0);
        let e = conv2d(&x, &Tensor::zeros(big.weight_shape()), None, &big).unwrap_err();
        assert!(e.to_string().contains("does not fit"), "{e}");

        let b = Tensor::zeros(vec![3]);
        assert!(conv2d(&x, &w, Some(&b), &cfg).unwrap_err().to_string().contains("bias"));
        assert!(conv2d(&Tensor::zeros(vec![3, 4, 4]), &w, None, &cfg).is_err());
        assert!(conv2d(&Tensor::zeros(vec![1, 3, 0, 4]), &w, None, &cfg).is_err());
    }
}
