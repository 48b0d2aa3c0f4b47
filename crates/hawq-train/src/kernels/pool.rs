//! Max, average and global average pooling over `[N, C, H, W]`, PyTorch semantics (padded
//! cells never win a max; `count_include_pad` divisor clipped to the padded extent).

use super::items_per_chunk;
use crate::plan::PoolGeom;
use crate::scalar::Real;
use rayon::prelude::*;

/// Marks an output whose window holds no input cell.
pub(crate) const NO_WINNER: u32 = u32::MAX;

fn lens(g: &PoolGeom) -> (usize, usize) {
    (g.in_hw[0] * g.in_hw[1], g.out_hw[0] * g.out_hw[1])
}

/// Max pooling; returns the winning input index (within its plane) of every output. Ties go to
/// the first tap in row-major window order.
pub(crate) fn max_forward<T: Real>(g: &PoolGeom, x: &[T], batch: usize, y: &mut [T]) -> Vec<u32> {
    let (ip, op) = lens(g);
    let mut arg = vec![NO_WINNER; y.len()];
    let per = items_per_chunk(batch) * g.channels;
    y.par_chunks_mut(per * op)
        .zip(arg.par_chunks_mut(per * op))
        .zip(x.par_chunks(per * ip))
        .for_each(|((yc, ac), xc)| {
            for ((yp, ap), xp) in yc.chunks_mut(op).zip(ac.chunks_mut(op)).zip(xc.chunks(ip)) {
                for oy in 0..g.out_hw[0] {
                    for ox in 0..g.out_hw[1] {
                        let o = oy * g.out_hw[1] + ox;
                        let mut best: Option<(T, usize)> = None;
                        for ky in 0..g.kernel[0] {
                            for kx in 0..g.kernel[1] {
                                let Some(i) = g.tap(oy, ox, ky, kx) else { continue };
                                if best.is_none_or(|(b, _)| xp[i] > b) {
                                    best = Some((xp[i], i));
                                }
                            }
                        }
                        // Only pads ≥ the window leave a window empty; the IR allows it.
                        (yp[o], ap[o]) = match best {
                            Some((v, i)) => (v, i as u32),
                            None => (T::ZERO, NO_WINNER),
                        };
                    }
                }
            }
        });
    arg
}

/// Routes each output's value (gradient or tangent) `d` to its winning input cell in `dx`
/// (added), using the winners from [`max_forward`].
pub(crate) fn max_route<T: Real>(g: &PoolGeom, arg: &[u32], d: &[T], batch: usize, dx: &mut [T]) {
    let (ip, op) = lens(g);
    let per = items_per_chunk(batch) * g.channels;
    dx.par_chunks_mut(per * ip).zip(arg.par_chunks(per * op)).zip(d.par_chunks(per * op)).for_each(
        |((xc, ac), dc)| {
            for ((xp, ap), dp) in xc.chunks_mut(ip).zip(ac.chunks(op)).zip(dc.chunks(op)) {
                for (&a, &v) in ap.iter().zip(dp) {
                    if a != NO_WINNER {
                        xp[a as usize] += v;
                    }
                }
            }
        },
    );
}

/// Max-pool tangent: `dy[o] = dx[winner(o)]`.
pub(crate) fn max_gather<T: Real>(g: &PoolGeom, arg: &[u32], dx: &[T], dy: &mut [T]) {
    let (ip, op) = lens(g);
    for ((yp, ap), xp) in dy.chunks_mut(op).zip(arg.chunks(op)).zip(dx.chunks(ip)) {
        for (o, &a) in yp.iter_mut().zip(ap) {
            *o = if a == NO_WINNER { T::ZERO } else { xp[a as usize] };
        }
    }
}

/// Divisor of output `(oy, ox)`, or 0 when its window holds no input cell.
fn divisor(g: &PoolGeom, oy: usize, ox: usize) -> usize {
    let cells = (0..g.kernel[0])
        .flat_map(|ky| (0..g.kernel[1]).map(move |kx| (ky, kx)))
        .filter(|&(ky, kx)| g.tap(oy, ox, ky, kx).is_some())
        .count();
    match (cells, g.count_include_pad) {
        (0, _) => 0,
        (_, true) => g.padded_cells(oy, ox),
        (c, false) => c,
    }
}

/// Average pooling (a linear map, so the JVP reuses it on tangents).
pub(crate) fn avg_forward<T: Real>(g: &PoolGeom, x: &[T], batch: usize, y: &mut [T]) {
    let (ip, op) = lens(g);
    let per = items_per_chunk(batch) * g.channels;
    y.par_chunks_mut(per * op).zip(x.par_chunks(per * ip)).for_each(|(yc, xc)| {
        for (yp, xp) in yc.chunks_mut(op).zip(xc.chunks(ip)) {
            for oy in 0..g.out_hw[0] {
                for ox in 0..g.out_hw[1] {
                    let div = divisor(g, oy, ox);
                    let mut sum = T::ZERO;
                    for ky in 0..g.kernel[0] {
                        for kx in 0..g.kernel[1] {
                            if let Some(i) = g.tap(oy, ox, ky, kx) {
                                sum += xp[i];
                            }
                        }
                    }
                    yp[oy * g.out_hw[1] + ox] =
                        if div == 0 { T::ZERO } else { sum / T::from_f64(div as f64) };
                }
            }
        }
    });
}

/// Backward of [`avg_forward`], added into `dx`.
pub(crate) fn avg_backward<T: Real>(g: &PoolGeom, dy: &[T], batch: usize, dx: &mut [T]) {
    let (ip, op) = lens(g);
    let per = items_per_chunk(batch) * g.channels;
    dx.par_chunks_mut(per * ip).zip(dy.par_chunks(per * op)).for_each(|(xc, yc)| {
        for (xp, yp) in xc.chunks_mut(ip).zip(yc.chunks(op)) {
            for oy in 0..g.out_hw[0] {
                for ox in 0..g.out_hw[1] {
                    let div = divisor(g, oy, ox);
                    if div == 0 {
                        continue;
                    }
                    let v = yp[oy * g.out_hw[1] + ox] / T::from_f64(div as f64);
                    for ky in 0..g.kernel[0] {
                        for kx in 0..g.kernel[1] {
                            if let Some(i) = g.tap(oy, ox, ky, kx) {
                                xp[i] += v;
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Global average pooling: one mean per plane of `plane` values.
pub(crate) fn global_forward<T: Real>(plane: usize, x: &[T], y: &mut [T]) {
    let inv = T::ONE / T::from_f64(plane as f64);
    for (o, xp) in y.iter_mut().zip(x.chunks(plane)) {
        *o = xp.iter().copied().sum::<T>() * inv;
    }
}

/// Backward of [`global_forward`], added into `dx`.
pub(crate) fn global_backward<T: Real>(plane: usize, dy: &[T], dx: &mut [T]) {
    let inv = T::ONE / T::from_f64(plane as f64);
    for (&g, xp) in dy.iter().zip(dx.chunks_mut(plane)) {
        let v = g * inv;
        xp.iter_mut().for_each(|d| *d += v);
    }
}
