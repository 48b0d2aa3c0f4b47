//! Convolution as im2col + GEMM, per batch item and group. The im2col matrix of group `g` has
//! `k_len = in/groups · kh · kw` rows in `(channel, ky, kx)` order and one column per output
//! pixel; a pointwise conv uses its input directly. Backward recomputes im2col rather than
//! keeping it (it would cost far more memory than time).

use super::elementwise::{activate, mask_by_output};
use super::{ChunkGrad, LayerGrad, add_into, items_per_chunk, optional_chunks, sq_norm};
use crate::plan::ConvGeom;
use crate::scalar::{Layout, Real};
use rayon::prelude::*;

/// For one kernel tap along one axis: the outputs `lo..hi` whose input `o·stride + tap·dil −
/// pad` lies inside `0..len`, and the input index of output `lo`.
#[derive(Clone, Copy)]
struct TapRange {
    lo: usize,
    hi: usize,
    first: usize,
}

/// [`TapRange`]s of every tap of one axis.
fn tap_ranges(
    len: usize,
    out: usize,
    taps: usize,
    stride: usize,
    dil: usize,
    pad: usize,
) -> Vec<TapRange> {
    (0..taps)
        .map(|k| {
            let off = k * dil;
            let hi = (len + pad).saturating_sub(off).div_ceil(stride).min(out);
            let lo = pad.saturating_sub(off).div_ceil(stride).min(hi);
            // For lo < hi the input index is in range by construction; unused otherwise.
            TapRange { lo, hi, first: (lo * stride + off).saturating_sub(pad) }
        })
        .collect()
}

/// Tap ranges of both axes of a conv.
fn ranges(g: &ConvGeom) -> [Vec<TapRange>; 2] {
    [
        tap_ranges(g.in_hw[0], g.out_hw[0], g.kernel[0], g.stride[0], g.dilation[0], g.pads[0]),
        tap_ranges(g.in_hw[1], g.out_hw[1], g.kernel[1], g.stride[1], g.dilation[1], g.pads[1]),
    ]
}

/// Fills `col` (`k_len × pixels`) with the windows of one group's input planes `x`.
fn im2col<T: Real>(g: &ConvGeom, x: &[T], col: &mut [T]) {
    let [h, w] = g.in_hw;
    let [oh, ow] = g.out_hw;
    let [ry, rx] = ranges(g);
    let (sy, sx) = (g.stride[0], g.stride[1]);
    let mut rows = col.chunks_exact_mut(oh * ow);
    for plane in x.chunks_exact(h * w).take(g.cin / g.groups) {
        for ty in &ry {
            for tx in &rx {
                // `col` has exactly k_len rows, one per (channel, ky, kx).
                let Some(dst) = rows.next() else { return };
                dst[..ty.lo * ow].fill(T::ZERO);
                dst[ty.hi * ow..].fill(T::ZERO);
                for oy in ty.lo..ty.hi {
                    let line = &mut dst[oy * ow..(oy + 1) * ow];
                    let src = &plane[(ty.first + (oy - ty.lo) * sy) * w..][..w];
                    line[..tx.lo].fill(T::ZERO);
                    line[tx.hi..].fill(T::ZERO);
                    let n = tx.hi - tx.lo;
                    if sx == 1 {
                        line[tx.lo..tx.hi].copy_from_slice(&src[tx.first..tx.first + n]);
                    } else {
                        for (j, v) in line[tx.lo..tx.hi].iter_mut().enumerate() {
                            *v = src[tx.first + j * sx];
                        }
                    }
                }
            }
        }
    }
}

/// Adds the im2col-shaped gradient `col` back onto one group's input planes `dx`.
fn col2im_add<T: Real>(g: &ConvGeom, col: &[T], dx: &mut [T]) {
    let [h, w] = g.in_hw;
    let [oh, ow] = g.out_hw;
    let [ry, rx] = ranges(g);
    let (sy, sx) = (g.stride[0], g.stride[1]);
    let mut rows = col.chunks_exact(oh * ow);
    for plane in dx.chunks_exact_mut(h * w).take(g.cin / g.groups) {
        for ty in &ry {
            for tx in &rx {
                let Some(src) = rows.next() else { return };
                for oy in ty.lo..ty.hi {
                    let line = &src[oy * ow + tx.lo..oy * ow + tx.hi];
                    let dst = &mut plane[(ty.first + (oy - ty.lo) * sy) * w..][..w];
                    if sx == 1 {
                        add_into(&mut dst[tx.first..tx.first + line.len()], line);
                    } else {
                        for (j, &v) in line.iter().enumerate() {
                            dst[tx.first + j * sx] += v;
                        }
                    }
                }
            }
        }
    }
}

/// The im2col matrix of group `grp` of one item: the input itself for pointwise convs.
fn group_cols<'a, T: Real>(g: &ConvGeom, x: &'a [T], grp: usize, col: &'a mut Vec<T>) -> &'a [T] {
    let plane = g.in_hw[0] * g.in_hw[1];
    let cin_g = g.cin / g.groups;
    let xg = &x[grp * cin_g * plane..(grp + 1) * cin_g * plane];
    if g.is_pointwise() {
        return xg;
    }
    col.resize(g.k_len() * g.pixels(), T::ZERO);
    im2col(g, xg, col);
    col
}

/// `y = act(conv(x, w) + b)` for `batch` items (`x`: `[N, in, H, W]`, `y`: `[N, out, OH, OW]`).
/// With `act = None` and `b = None` this is the linear map the JVP reuses.
pub(crate) fn forward<T: Real>(
    g: &ConvGeom,
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    batch: usize,
    y: &mut [T],
) {
    let in_len = g.cin * g.in_hw[0] * g.in_hw[1];
    let out_len = g.cout * g.pixels();
    let per = items_per_chunk(batch);
    let (cout_g, k_len, pixels) = (g.cout / g.groups, g.k_len(), g.pixels());
    y.par_chunks_mut(per * out_len).zip(x.par_chunks(per * in_len)).for_each(|(yc, xc)| {
        let mut col = Vec::new();
        for (ys, xs) in yc.chunks_mut(out_len).zip(xc.chunks(in_len)) {
            for grp in 0..g.groups {
                let cols = group_cols(g, xs, grp, &mut col);
                let wg = &w[grp * cout_g * k_len..(grp + 1) * cout_g * k_len];
                let yg = &mut ys[grp * cout_g * pixels..(grp + 1) * cout_g * pixels];
                T::gemm(yg, wg, Layout::Plain, cols, Layout::Plain, cout_g, pixels, k_len, false);
            }
            if let Some(b) = b {
                for (plane, &bv) in ys.chunks_mut(pixels).zip(b) {
                    plane.iter_mut().for_each(|v| *v += bv);
                }
            }
            activate(g.act, ys);
        }
    });
}

/// Backward of [`forward`]: from the output `y` and its gradient `dy`, returns the weight and
/// bias gradients (summed over the batch, optionally with per-item squared norms) and adds the
/// input gradient into `dx` when given.
#[allow(clippy::too_many_arguments)] // the operands of a conv backward
pub(crate) fn backward<T: Real>(
    g: &ConvGeom,
    x: &[T],
    w: &[T],
    y: &[T],
    dy: &[T],
    batch: usize,
    dx: Option<&mut [T]>,
    per_item_norms: bool,
) -> LayerGrad<T> {
    let in_len = g.cin * g.in_hw[0] * g.in_hw[1];
    let out_len = g.cout * g.pixels();
    let per = items_per_chunk(batch);
    let (cout_g, k_len, pixels) = (g.cout / g.groups, g.k_len(), g.pixels());
    let n_chunks = batch.div_ceil(per);
    let dx_chunks = optional_chunks(dx, per * in_len, n_chunks);
    let work: Vec<_> = x
        .chunks(per * in_len)
        .zip(y.chunks(per * out_len))
        .zip(dy.chunks(per * out_len))
        .zip(dx_chunks)
        .collect();
    let parts: Vec<ChunkGrad<T>> = work
        .into_par_iter()
        .map(|(((xc, yc), dyc), mut dxc)| {
            let mut acc = ChunkGrad {
                weight: vec![T::ZERO; w.len()],
                bias: vec![T::ZERO; g.cout],
                weight_norms: Vec::new(),
                bias_norms: Vec::new(),
            };
            let mut item_w = if per_item_norms { vec![T::ZERO; w.len()] } else { Vec::new() };
            let (mut col, mut dcol, mut dpre) = (Vec::new(), Vec::new(), Vec::new());
            let items = xc.len() / in_len;
            for i in 0..items {
                let xs = &xc[i * in_len..(i + 1) * in_len];
                dpre.clear();
                dpre.extend_from_slice(&dyc[i * out_len..(i + 1) * out_len]);
                mask_by_output(g.act, &yc[i * out_len..(i + 1) * out_len], &mut dpre);
                let dw: &mut [T] = if per_item_norms { &mut item_w } else { &mut acc.weight };
                for grp in 0..g.groups {
                    let dpre_g = &dpre[grp * cout_g * pixels..(grp + 1) * cout_g * pixels];
                    let wsl = grp * cout_g * k_len..(grp + 1) * cout_g * k_len;
                    let cols = group_cols(g, xs, grp, &mut col);
                    // dW_g (cout_g × k_len) += dpre_g (cout_g × P) · colsᵀ (P × k_len)
                    T::gemm(
                        &mut dw[wsl.clone()],
                        dpre_g,
                        Layout::Plain,
                        cols,
                        Layout::Transposed,
                        cout_g,
                        k_len,
                        pixels,
                        !per_item_norms,
                    );
                    if let Some(dxc) = dxc.as_deref_mut() {
                        let plane = g.in_hw[0] * g.in_hw[1];
                        let cin_g = g.cin / g.groups;
                        let off = i * in_len + grp * cin_g * plane;
                        let dxg = &mut dxc[off..off + cin_g * plane];
                        // dcols (k_len × P) = W_gᵀ (k_len × cout_g) · dpre_g (cout_g × P)
                        if g.is_pointwise() {
                            T::gemm(
                                dxg,
                                &w[wsl],
                                Layout::Transposed,
                                dpre_g,
                                Layout::Plain,
                                k_len,
                                pixels,
                                cout_g,
                                true,
                            );
                        } else {
                            dcol.resize(k_len * pixels, T::ZERO);
                            T::gemm(
                                &mut dcol,
                                &w[wsl],
                                Layout::Transposed,
                                dpre_g,
                                Layout::Plain,
                                k_len,
                                pixels,
                                cout_g,
                                false,
                            );
                            col2im_add(g, &dcol, dxg);
                        }
                    }
                }
                let mut item_b = vec![T::ZERO; g.cout];
                for (bv, plane) in item_b.iter_mut().zip(dpre.chunks(pixels)) {
                    *bv = plane.iter().copied().sum();
                }
                add_into(&mut acc.bias, &item_b);
                if per_item_norms {
                    acc.weight_norms.push(sq_norm(&item_w));
                    acc.bias_norms.push(sq_norm(&item_b));
                    add_into(&mut acc.weight, &item_w);
                }
            }
            acc
        })
        .collect();
    LayerGrad::reduce(parts, w.len(), g.cout)
}
