//! Direct depthwise convolution (one filter per channel), portable code the compiler
//! vectorizes along channels; the same on every ISA.

use crate::conv::ConvGeometry;
use crate::epilogue::{Epilogue, OutBuf};

/// Output pixels `row0..row0+rows` of a validated depthwise conv; `out` starts at `row0`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn depthwise_rows(
    geom: &ConvGeometry,
    (oh, ow): (usize, usize),
    x: &[u8],
    signed: bool,
    w: &[i16],
    epi: &Epilogue<'_>,
    row0: usize,
    rows: usize,
    out: &mut OutBuf<'_>,
    ldc: usize,
) {
    let c = geom.in_c;
    let [kh, kw] = geom.kernel;
    let mut acc = vec![0i32; c];
    for r in 0..rows {
        let p = row0 + r;
        let (b, oy, ox) = (p / (oh * ow), (p / ow) % oh, p % ow);
        acc.fill(0);
        for ky in 0..kh {
            let Some(iy) = (oy * geom.stride[0] + ky * geom.dilation[0]).checked_sub(geom.pad[0])
            else {
                continue;
            };
            if iy >= geom.in_h {
                continue;
            }
            for kx in 0..kw {
                let Some(ix) =
                    (ox * geom.stride[1] + kx * geom.dilation[1]).checked_sub(geom.pad[1])
                else {
                    continue;
                };
                if ix >= geom.in_w {
                    continue;
                }
                let src = &x[((b * geom.in_h + iy) * geom.in_w + ix) * c..][..c];
                let wt = &w[(ky * kw + kx) * c..][..c];
                if signed {
                    for ((a, &xv), &wv) in acc.iter_mut().zip(src).zip(wt) {
                        *a = a.wrapping_add(xv as i8 as i32 * wv as i32);
                    }
                } else {
                    for ((a, &xv), &wv) in acc.iter_mut().zip(src).zip(wt) {
                        *a = a.wrapping_add(xv as i32 * wv as i32);
                    }
                }
            }
        }
        for (ch, &v) in acc.iter().enumerate() {
            out.store(r * ldc + ch, epi.finish(v.wrapping_add(epi.bias[ch]), p, ch));
        }
    }
}
