//! The non-layer integer ops on NHWC storage: requantization, add, clamp, pools, concat,
//! flatten. Each is the reference op's formula (docs/NUMERICS.md, "Integer graph ops") with
//! the loops reordered for channel-innermost memory; results are identical.

use super::layout::{Dims, Dst, Elem, Src, with_dst, with_src};
use hawq_ir::{AvgPool, MaxPool};
use hawq_quant::Dyadic;
use rayon::prelude::*;

/// Elements per parallel chunk of the element-wise ops.
const CHUNK: usize = 1 << 14;

/// A dyadic multiplier in the form validation guarantees (`0 ≤ m < 2^31`, `1 ≤ e ≤ 62`):
/// `|x·m| < 2^62` for every i32 `x`, so rounding fits i64 and equals `Dyadic::apply`.
#[derive(Debug, Clone, Copy)]
pub struct Mul {
    m: i64,
    s: u32,
    half: i64,
}

impl Mul {
    /// From a validated dyadic.
    pub fn new(d: Dyadic) -> Mul {
        let s = d.shift.clamp(1, 62) as u32;
        Mul { m: d.mult as i64, s, half: 1i64 << (s - 1) }
    }
    /// `round(x · m / 2^e)`, ties away from zero.
    ///
    /// Branch-free so that loops over mixed-sign data vectorize and never mispredict: for
    /// `p < 0`, `−((half − p) >> e)` equals the arithmetic `(p + half − 1) >> e` (a ceiling
    /// written as a floor), and `p >> 63` is that `−1` (0 for `p ≥ 0`). No overflow:
    /// `|p| < 2^62` and `half ≤ 2^61`.
    #[inline(always)]
    pub fn apply(self, x: i32) -> i64 {
        let p = x as i64 * self.m;
        (p + self.half + (p >> 63)) >> self.s
    }
}

#[inline(always)]
fn clamp(v: i64, lo: i64, hi: i64) -> i32 {
    // lo/hi lie inside the output type's range (validated), so the result fits i32.
    v.clamp(lo, hi) as i32
}

/// `out[i] = f(x[i])` in parallel chunks. `f` is `Copy` and copied into each chunk's frame, so
/// its captured operands stay in registers (through a shared reference the compiler reloaded
/// them for every element).
fn map1<T: Elem, U: Elem>(x: &[T], out: &mut [U], f: impl Fn(i32) -> i32 + Sync + Copy) {
    out.par_chunks_mut(CHUNK).zip(x.par_chunks(CHUNK)).for_each(|(o, i)| {
        let apply = f;
        for (o, &v) in o.iter_mut().zip(i) {
            *o = U::put(apply(v.get()));
        }
    });
}

/// `clamp(apply(x, d), lo, hi)`.
pub fn requant(x: Src<'_>, out: Dst<'_>, d: Dyadic, lo: i64, hi: i64) {
    let m = Mul::new(d);
    with_src!(x, xs => with_dst!(out, os => map1(xs, os, move |v| clamp(m.apply(v), lo, hi))));
}

/// Element-wise clamp.
pub fn clamp_op(x: Src<'_>, out: Dst<'_>, lo: i64, hi: i64) {
    with_src!(x, xs => with_dst!(out, os => map1(xs, os, move |v| clamp(v as i64, lo, hi))));
}

fn add_typed<A: Elem, B: Elem, U: Elem>(
    a: &[A],
    b: &[B],
    out: &mut [U],
    (ma, mb): (Mul, Mul),
    (lo, hi): (i64, i64),
) {
    out.par_chunks_mut(CHUNK).zip(a.par_chunks(CHUNK).zip(b.par_chunks(CHUNK))).for_each(
        |(o, (a, b))| {
            // Operands copied into this frame so the loop keeps them in registers.
            let (ma, mb, lo, hi) = (ma, mb, lo, hi);
            for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
                *o = U::put(clamp(ma.apply(x.get()) + mb.apply(y.get()), lo, hi));
            }
        },
    );
}

/// `clamp(apply(a, da) + apply(b, db), lo, hi)`.
pub fn add(a: Src<'_>, b: Src<'_>, out: Dst<'_>, d: (Dyadic, Dyadic), lo: i64, hi: i64) {
    let m = (Mul::new(d.0), Mul::new(d.1));
    with_src!(a, xa => with_src!(b, xb => with_dst!(out, o => add_typed(xa, xb, o, m, (lo, hi)))));
}

/// Input and output geometry of a pooling op.
#[derive(Debug, Clone, Copy)]
pub struct PoolGeom {
    /// Input `(h, w, c)`.
    pub input: (usize, usize, usize),
    /// Output `(oh, ow)`.
    pub out: (usize, usize),
}

fn map_dims(d: Dims) -> (usize, usize, usize) {
    match d {
        Dims::Map { h, w, c } => (h, w, c),
        Dims::Flat { f } => (1, 1, f),
    }
}

impl PoolGeom {
    /// From the input and output value geometries.
    pub fn new(input: Dims, out: Dims) -> PoolGeom {
        let (oh, ow, _) = map_dims(out);
        PoolGeom { input: map_dims(input), out: (oh, ow) }
    }
}

/// Input pixel of window tap `k` for output coordinate `o`, if inside the input.
#[inline(always)]
fn tap(o: usize, stride: usize, k: usize, dil: usize, pad: usize, size: usize) -> Option<usize> {
    (o * stride + k * dil).checked_sub(pad).filter(|&i| i < size)
}

fn max_pool_typed<T: Elem, U: Elem>(x: &[T], out: &mut [U], g: PoolGeom, p: &MaxPool) {
    let ((h, w, c), (oh, ow)) = (g.input, g.out);
    out.par_chunks_mut(ow * c).enumerate().for_each(|(row, o)| {
        let (b, oy) = (row / oh, row % oh);
        let item = &x[b * h * w * c..(b + 1) * h * w * c];
        for (ox, px) in o.chunks_exact_mut(c).enumerate() {
            let mut any = false;
            for ky in 0..p.kernel[0] {
                let Some(iy) = tap(oy, p.stride[0], ky, p.dilation[0], p.pads[0], h) else {
                    continue;
                };
                for kx in 0..p.kernel[1] {
                    let Some(ix) = tap(ox, p.stride[1], kx, p.dilation[1], p.pads[1], w) else {
                        continue;
                    };
                    let src = &item[(iy * w + ix) * c..(iy * w + ix + 1) * c];
                    if any {
                        px.iter_mut()
                            .zip(src)
                            .for_each(|(d, &s)| *d = U::put(d.get().max(s.get())));
                    } else {
                        px.iter_mut().zip(src).for_each(|(d, &s)| *d = U::put(s.get()));
                        any = true;
                    }
                }
            }
            if !any {
                px.fill(U::put(0));
            }
        }
    });
}

/// Max pooling (padding never wins; an empty window yields 0).
pub fn max_pool(x: Src<'_>, out: Dst<'_>, g: PoolGeom, p: &MaxPool) {
    with_src!(x, xs => with_dst!(out, os => max_pool_typed(xs, os, g, p)));
}

fn avg_pool_typed<T: Elem, U: Elem>(x: &[T], out: &mut [U], g: PoolGeom, p: &AvgPool) {
    let ((h, w, c), (oh, ow)) = (g.input, g.out);
    let (hi, wi) = (h as isize, w as isize);
    out.par_chunks_mut(ow * c).enumerate().for_each(|(row, o)| {
        let (b, oy) = (row / oh, row % oh);
        let item = &x[b * h * w * c..(b + 1) * h * w * c];
        let mut sum = vec![0i64; c];
        for (ox, px) in o.chunks_exact_mut(c).enumerate() {
            let y0 = (oy * p.stride[0]) as isize - p.pads[0] as isize;
            let x0 = (ox * p.stride[1]) as isize - p.pads[1] as isize;
            let y1 = (y0 + p.kernel[0] as isize).min(hi + p.pads[2] as isize);
            let x1 = (x0 + p.kernel[1] as isize).min(wi + p.pads[3] as isize);
            let padded = (y1 - y0) * (x1 - x0);
            let (vy0, vx0, vy1, vx1) = (y0.max(0), x0.max(0), y1.min(hi), x1.min(wi));
            sum.fill(0);
            for iy in vy0..vy1 {
                for ix in vx0..vx1 {
                    let at = (iy * wi + ix) as usize * c;
                    sum.iter_mut().zip(&item[at..at + c]).for_each(|(s, &v)| *s += v.get() as i64);
                }
            }
            let valid = (vy1 - vy0).max(0) * (vx1 - vx0).max(0);
            let div = if p.count_include_pad { padded } else { valid } as i64;
            for (d, &s) in px.iter_mut().zip(&sum) {
                *d = U::put(if div > 0 { (s / div) as i32 } else { 0 });
            }
        }
    });
}

/// Average pooling: integer window sum, truncating division by PyTorch's divisor.
pub fn avg_pool(x: Src<'_>, out: Dst<'_>, g: PoolGeom, p: &AvgPool) {
    with_src!(x, xs => with_dst!(out, os => avg_pool_typed(xs, os, g, p)));
}

fn global_avg_pool_typed<T: Elem, U: Elem>(x: &[T], out: &mut [U], hw: usize, c: usize) {
    out.par_chunks_mut(c).zip(x.par_chunks(hw * c)).for_each(|(o, item)| {
        let mut sum = vec![0i64; c];
        for px in item.chunks_exact(c) {
            sum.iter_mut().zip(px).for_each(|(s, &v)| *s += v.get() as i64);
        }
        for (d, &s) in o.iter_mut().zip(&sum) {
            *d = U::put((s / hw as i64) as i32);
        }
    });
}

/// Global average pooling: integer sum over H·W, truncating division by H·W.
pub fn global_avg_pool(x: Src<'_>, out: Dst<'_>, input: Dims) {
    let (h, w, c) = map_dims(input);
    with_src!(x, xs => with_dst!(out, os => global_avg_pool_typed(xs, os, h * w, c)));
}

fn concat_part<T: Elem, U: Elem>(
    x: &[T],
    out: &mut [U],
    (off, ci, ctot): (usize, usize, usize),
    m: Mul,
    (lo, hi): (i64, i64),
) {
    let rows = (CHUNK / ctot.max(1)).max(1);
    out.par_chunks_mut(rows * ctot).zip(x.par_chunks(rows * ci)).for_each(|(o, i)| {
        for (orow, irow) in o.chunks_exact_mut(ctot).zip(i.chunks_exact(ci)) {
            for (d, &v) in orow[off..off + ci].iter_mut().zip(irow) {
                *d = U::put(clamp(m.apply(v.get()), lo, hi));
            }
        }
    });
}

/// Channel concatenation, each input requantized to the output scale and clamped.
pub fn concat(xs: &[(Src<'_>, usize)], mut out: Dst<'_>, dyadics: &[Dyadic], lo: i64, hi: i64) {
    let ctot: usize = xs.iter().map(|(_, c)| c).sum();
    let mut off = 0;
    for (&(x, ci), &d) in xs.iter().zip(dyadics) {
        let m = Mul::new(d);
        with_src!(x, xs => with_dst!(&mut out, os => concat_part(xs, os, (off, ci, ctot), m, (lo, hi))));
        off += ci;
    }
}

fn flatten_typed<T: Elem, U: Elem>(x: &[T], out: &mut [U], px: usize, c: usize) {
    out.par_chunks_mut(px * c).zip(x.par_chunks(px * c)).for_each(|(o, item)| {
        for (p, pixel) in item.chunks_exact(c).enumerate() {
            for (ch, &v) in pixel.iter().enumerate() {
                o[ch * px + p] = U::put(v.get());
            }
        }
    });
}

/// Flatten: NHWC `[N, H, W, C]` → `[N, C·H·W]` in the reference's NCHW feature order.
pub fn flatten(x: Src<'_>, out: Dst<'_>, input: Dims) {
    let (px, c) = (input.pixels(), input.channels());
    with_src!(x, xs => with_dst!(out, os => flatten_typed(xs, os, px, c)));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free rounding equals `Dyadic::apply` on extremes, ties and random values.
    #[test]
    fn mul_matches_dyadic_apply() {
        let mut s = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 32) as u32
        };
        let xs = [i32::MIN, i32::MIN + 1, -65_537, -3, -2, -1, 0, 1, 2, 3, 65_535, i32::MAX];
        for shift in 1..=62 {
            let mults = [0, 1, 2, 3, 1 << 30, i32::MAX, (next() >> 1) as i32];
            for mult in mults {
                let d = Dyadic { mult, shift };
                let m = Mul::new(d);
                let randoms: Vec<i32> = (0..32).map(|_| next() as i32).collect();
                for &x in xs.iter().chain(&randoms) {
                    assert_eq!(m.apply(x), d.apply(x as i64), "x={x} mult={mult} shift={shift}");
                }
            }
        }
    }
}
