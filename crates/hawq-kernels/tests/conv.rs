//! Convolutions: stride/padding/dilation/groups combinations against a naive NHWC conv.

use crate::common::*;
use hawq_kernels::*;
use hawq_quant::Dyadic;

#[allow(clippy::too_many_arguments)]
fn naive(
    geom: &ConvGeometry,
    x: &[i32],
    w: &[i8],
    bias: &[i32],
    mult: &[i32],
    shift: &[i32],
    res: &[i32],
    lo: i32,
    hi: i32,
) -> Vec<i64> {
    let (oh, ow) = geom.out_hw().unwrap();
    let [kh, kw] = geom.kernel;
    let (cin_g, cout_g) = (geom.in_c / geom.groups, geom.out_c / geom.groups);
    let mut out = vec![];
    for b in 0..geom.batch {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..geom.out_c {
                    let g = o / cout_g;
                    let mut acc = 0i32;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * geom.stride[0] + ky * geom.dilation[0]) as isize
                                - geom.pad[0] as isize;
                            let ix = (ox * geom.stride[1] + kx * geom.dilation[1]) as isize
                                - geom.pad[1] as isize;
                            if iy < 0
                                || ix < 0
                                || iy >= geom.in_h as isize
                                || ix >= geom.in_w as isize
                            {
                                continue;
                            }
                            for ci in 0..cin_g {
                                let xv = x[((b * geom.in_h + iy as usize) * geom.in_w
                                    + ix as usize)
                                    * geom.in_c
                                    + g * cin_g
                                    + ci];
                                let wv = w[((o * cin_g + ci) * kh + ky) * kw + kx] as i32;
                                acc = acc.wrapping_add(xv * wv);
                            }
                        }
                    }
                    let acc = acc.wrapping_add(bias[o]) as i64;
                    let p = out.len() / geom.out_c;
                    let y = Dyadic { mult: mult[o], shift: shift[o] }.apply(acc);
                    let r =
                        Dyadic { mult: 1 << 30, shift: 31 }.apply(res[p * geom.out_c + o] as i64);
                    out.push((y + r).clamp(lo as i64, hi as i64));
                }
            }
        }
    }
    out
}

fn check(geom: ConvGeometry, seed: u64) {
    let mut g = Lcg(seed);
    let signed = g.next().is_multiple_of(2);
    let n_in = geom.batch * geom.in_h * geom.in_w * geom.in_c;
    let x: Vec<i32> = (0..n_in)
        .map(|_| if signed { g.range(-128, 127) } else { g.range(0, 255) } as i32)
        .collect();
    let nw = geom.out_c * geom.in_c / geom.groups * geom.kernel[0] * geom.kernel[1];
    let w: Vec<i8> = (0..nw).map(|_| g.range(-128, 127) as i8).collect();
    let bias: Vec<i32> = (0..geom.out_c).map(|_| g.range(-5000, 5000) as i32).collect();
    let mult: Vec<i32> = (0..geom.out_c).map(|_| g.range(1 << 30, (1 << 31) - 1) as i32).collect();
    let shift: Vec<i32> = (0..geom.out_c).map(|_| g.range(36, 42) as i32).collect();
    let (oh, ow) = geom.out_hw().unwrap();
    let m = geom.batch * oh * ow;
    let res: Vec<i32> = (0..m * geom.out_c).map(|_| g.range(-100, 100) as i32).collect();
    let (lo, hi) = if g.next().is_multiple_of(2) { (0, 127) } else { (-128, 127) };
    let want = naive(&geom, &x, &w, &bias, &mult, &shift, &res, lo, hi);
    let packed = PackedConv::new(&w, &geom, WeightBits::B8).unwrap();
    let (xu, xi): (Vec<u8>, Vec<i8>) =
        (x.iter().map(|&v| v as u8).collect(), x.iter().map(|&v| v as i8).collect());
    let input = if signed { ActIn::I8(&xi) } else { ActIn::U8(&xu) };
    let epi = Epilogue {
        bias: &bias,
        requant: Some(Requant { mult: &mult, shift: &shift }),
        residual: Some(Residual {
            data: ResidualData::I32(&res),
            row_stride: geom.out_c,
            mult: 1 << 30,
            shift: 31,
        }),
        lo,
        hi,
    };
    for isa in isas() {
        let mut out = vec![0i8; m * geom.out_c];
        conv2d_nhwc(
            isa,
            &geom,
            input,
            &packed,
            &epi,
            OutView { data: OutBuf::I8(&mut out), row_stride: geom.out_c },
        )
        .unwrap();
        let got: Vec<i64> = out.iter().map(|&v| v as i64).collect();
        assert_eq!(got, want, "{isa} {geom:?}");
    }
}

fn geom(
    in_c: usize,
    out_c: usize,
    k: usize,
    s: usize,
    p: usize,
    d: usize,
    groups: usize,
) -> ConvGeometry {
    ConvGeometry {
        batch: 2,
        in_h: 7,
        in_w: 6,
        in_c,
        out_c,
        kernel: [k, k],
        stride: [s, s],
        pad: [p, p, p, p],
        dilation: [d, d],
        groups,
    }
}

#[test]
fn conv_combinations() {
    let mut seed = 1;
    for (k, s, p, d) in [
        (1, 1, 0, 1),
        (1, 2, 0, 1),
        (3, 1, 1, 1),
        (3, 2, 1, 1),
        (3, 1, 2, 2),
        (5, 2, 2, 1),
        (2, 1, 0, 1),
        (7, 2, 3, 1), // the ResNet stem: whole-row im2col runs with padding on both sides
    ] {
        for (cin, cout, groups) in
            [(3, 5, 1), (16, 33, 1), (8, 8, 8), (8, 16, 8), (6, 9, 3), (4, 4, 2)]
        {
            seed += 1;
            check(geom(cin, cout, k, s, p, d, groups), seed);
        }
    }
    // A stem-like 7×7/2 over 3 channels on an image wide enough that the middle output
    // pixels take the whole-run im2col copy and the border ones the per-tap path.
    for (in_c, w) in [(3, 20), (5, 17)] {
        seed += 1;
        check(ConvGeometry { in_h: 12, in_w: w, ..geom(in_c, 9, 7, 2, 3, 1, 1) }, seed);
    }
    // Asymmetric padding, batch 1, wide.
    check(
        ConvGeometry {
            batch: 1,
            in_h: 9,
            in_w: 4,
            in_c: 32,
            out_c: 40,
            kernel: [3, 2],
            stride: [2, 1],
            pad: [0, 1, 2, 0],
            dilation: [1, 2],
            groups: 1,
        },
        99,
    );
}

/// One tiny conv per path (im2col with groups and dilation, depthwise, 1×1 straight GEMM),
/// small enough for `scripts/miri.sh`.
#[test]
fn small_conv_paths() {
    let tiny = |in_c, out_c, k, p, d, groups| ConvGeometry {
        batch: 1,
        in_h: 4,
        in_w: 3,
        ..geom(in_c, out_c, k, 1, p, d, groups)
    };
    check(tiny(4, 6, 3, 1, 1, 2), 41);
    check(tiny(3, 3, 3, 2, 2, 3), 42);
    check(tiny(5, 3, 1, 0, 1, 1), 43);
}

#[test]
fn conv_geometry_errors() {
    let mut g = geom(6, 9, 3, 1, 1, 1, 4);
    assert!(matches!(g.out_hw(), Err(KernelError::BadGeometry(_))));
    g.groups = 3;
    g.kernel = [9, 9];
    assert!(matches!(g.out_hw(), Err(KernelError::BadGeometry(_))));
    g.kernel = [3, 3];
    assert!(matches!(
        PackedConv::new(&[0; 5], &g, WeightBits::B8),
        Err(KernelError::BadLength { .. })
    ));
}
