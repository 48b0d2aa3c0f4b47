//! NHWC convolutions on top of the GEMM kernels: 1×1 as a GEMM straight on the input, k×k (and
//! grouped) through a cache-blocked im2col, depthwise as a direct kernel. Same fused epilogue.
//!
//! Output rows are output pixels `(b, oy, ox)` in NHWC order, columns are output channels.
//! Padding reads the activation value 0.

use crate::drive::{drive, drive_rows};
use crate::epilogue::{Epilogue, OutView, check_matrix};
use crate::error::KernelError;
use crate::gemm::{ActIn, ActView, Kernel, qgemm, run_task};
use crate::isa::Isa;
use crate::pack::{PackedWeights, WeightBits};
use std::cell::RefCell;

/// The shape of a 2-D convolution over an NHWC input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Batch size.
    pub batch: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub in_c: usize,
    /// Output channels.
    pub out_c: usize,
    /// Kernel `[height, width]`.
    pub kernel: [usize; 2],
    /// Stride `[y, x]`.
    pub stride: [usize; 2],
    /// Padding `[top, left, bottom, right]`.
    pub pad: [usize; 4],
    /// Dilation `[y, x]`.
    pub dilation: [usize; 2],
    /// Groups (divides `in_c` and `out_c`).
    pub groups: usize,
}

impl ConvGeometry {
    /// Output `(height, width)`, or why the geometry is inconsistent.
    pub fn out_hw(&self) -> Result<(usize, usize), KernelError> {
        let bad = |s: String| Err(KernelError::BadGeometry(s));
        if self.kernel.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0) {
            return bad(format!("zero kernel/stride/dilation in {self:?}"));
        }
        if self.groups == 0
            || !self.in_c.is_multiple_of(self.groups)
            || !self.out_c.is_multiple_of(self.groups)
        {
            return bad(format!(
                "groups {} must divide in_c {} and out_c {}",
                self.groups, self.in_c, self.out_c
            ));
        }
        let dim = |size: usize, p0: usize, p1: usize, k: usize, s: usize, d: usize| {
            let span = d * (k - 1) + 1;
            let padded = size + p0 + p1;
            (padded >= span).then(|| (padded - span) / s + 1)
        };
        let [pt, pl, pb, pr] = self.pad;
        match (
            dim(self.in_h, pt, pb, self.kernel[0], self.stride[0], self.dilation[0]),
            dim(self.in_w, pl, pr, self.kernel[1], self.stride[1], self.dilation[1]),
        ) {
            (Some(h), Some(w)) => Ok((h, w)),
            _ => bad(format!("kernel larger than the padded input in {self:?}")),
        }
    }
    fn is_depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.in_c && self.groups == self.out_c
    }
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1] && self.stride == [1, 1] && self.pad == [0; 4] && self.groups == 1
    }
}

/// Convolution weights packed once for [`conv2d_nhwc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackedConv {
    /// One packed GEMM operand per group (K order `(kh, kw, cin)`).
    Gemm(Vec<PackedWeights>),
    /// Depthwise weights as `[kh][kw][c]`.
    Depthwise(Vec<i16>),
}

impl PackedConv {
    /// Packs OIHW weights (`[out_c][in_c / groups][kh][kw]`) for `geom`.
    pub fn new(w_oihw: &[i8], geom: &ConvGeometry, bits: WeightBits) -> Result<Self, KernelError> {
        geom.out_hw()?;
        let [kh, kw] = geom.kernel;
        let (cin_g, cout_g) = (geom.in_c / geom.groups, geom.out_c / geom.groups);
        let per_group = cout_g * cin_g * kh * kw;
        let needed = per_group * geom.groups;
        if w_oihw.len() != needed {
            return Err(KernelError::BadLength {
                what: "conv weights (OIHW)",
                needed,
                got: w_oihw.len(),
            });
        }
        if geom.is_depthwise() {
            // Range check through the GEMM packer's rules, then transpose to [kh][kw][c].
            PackedWeights::from_nk(w_oihw, geom.out_c, kh * kw, bits)?;
            let c = geom.out_c;
            let mut w = vec![0i16; kh * kw * c];
            for ch in 0..c {
                for t in 0..kh * kw {
                    w[t * c + ch] = w_oihw[ch * kh * kw + t] as i16;
                }
            }
            return Ok(PackedConv::Depthwise(w));
        }
        let groups = (0..geom.groups)
            .map(|g| {
                let w = &w_oihw[g * per_group..(g + 1) * per_group];
                PackedWeights::from_oihw(w, [cout_g, cin_g, kh, kw], bits)
            })
            .collect::<Result<_, _>>()?;
        Ok(PackedConv::Gemm(groups))
    }
}

/// `out = epilogue(conv(input, w))` over an NHWC input `[batch, in_h, in_w, in_c]`, writing
/// `[batch·out_h·out_w]` rows of `out_c` channels (`out.row_stride` apart).
pub fn conv2d_nhwc(
    isa: Isa,
    geom: &ConvGeometry,
    input: ActIn<'_>,
    w: &PackedConv,
    epi: &Epilogue<'_>,
    mut out: OutView<'_>,
) -> Result<(), KernelError> {
    let kernel = Kernel::new(isa)?;
    let (oh, ow) = geom.out_hw()?;
    let (bytes, signed) = input.bytes();
    let count = |dims: [usize; 3], what| {
        dims.into_iter()
            .try_fold(1usize, |a, b| a.checked_mul(b))
            .ok_or(KernelError::SizeOverflow(what))
    };
    let pixels = count([geom.batch, geom.in_h, geom.in_w], "conv input pixels")?;
    check_matrix("conv input", pixels, geom.in_c, geom.in_c, bytes.len())?;
    let m = count([geom.batch, oh, ow], "conv output pixels")?;
    match w {
        PackedConv::Depthwise(wd) => {
            if !geom.is_depthwise() || wd.len() != geom.kernel[0] * geom.kernel[1] * geom.out_c {
                return Err(KernelError::BadGeometry(format!(
                    "depthwise weights do not fit {geom:?}"
                )));
            }
            epi.validate(m, geom.out_c, &out)?;
            if m == 0 || geom.out_c == 0 {
                return Ok(());
            }
            // Depthwise reads its input directly: blocks of rows, two per thread, are the cut.
            let rows = m.div_ceil(2 * rayon::current_num_threads()).clamp(8, 512);
            drive_rows(m, geom.out_c, rows, out, |row0, rows, buf, ldc| {
                crate::depthwise::depthwise_rows(
                    geom,
                    (oh, ow),
                    bytes,
                    signed,
                    wd,
                    epi,
                    row0,
                    rows,
                    buf,
                    ldc,
                )
            });
            Ok(())
        }
        PackedConv::Gemm(groups) => {
            let (cin_g, cout_g) = (geom.in_c / geom.groups, geom.out_c / geom.groups);
            if groups.len() != geom.groups
                || groups
                    .iter()
                    .any(|b| b.n() != cout_g || b.k() != cin_g * geom.kernel[0] * geom.kernel[1])
            {
                return Err(KernelError::BadGeometry(format!(
                    "packed weights do not fit {geom:?}"
                )));
            }
            if geom.is_pointwise() {
                let act = ActView { data: input, rows: m, row_stride: geom.in_c };
                return qgemm(isa, &act, &groups[0], epi, out);
            }
            epi.validate(m, geom.out_c, &out)?;
            if m == 0 || geom.out_c == 0 {
                return Ok(());
            }
            if !cout_g.is_multiple_of(2)
                && matches!(out.data, crate::epilogue::OutBuf::U4(_))
                && geom.groups > 1
            {
                return Err(KernelError::BadEpilogue(
                    "u4 output of a grouped conv needs even channels per group".into(),
                ));
            }
            for (g, b) in groups.iter().enumerate() {
                let epi_g = epi.columns(g * cout_g, cout_g);
                let fast = epi_g.validate(
                    m,
                    cout_g,
                    &OutView { data: out.data.tail(g * cout_g), row_stride: out.row_stride },
                )?;
                let out_g = OutView { data: out.data.tail(g * cout_g), row_stride: out.row_stride };
                let k = b.k();
                drive(m, cout_g, k, out_g, |t, buf, ldc| {
                    with_scratch(t.rows * k, |a| {
                        im2col(geom, (oh, ow), bytes, g * cin_g, cin_g, t.row0, a);
                        run_task(kernel, t, a, signed, k, b, &epi_g, fast, buf, ldc);
                    })
                });
            }
            Ok(())
        }
    }
}

thread_local! {
    /// Per-thread im2col buffer, kept between calls: a block is a few hundred KiB, and a fresh
    /// allocation per block costs page faults on every layer of every run.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` bytes of this thread's scratch (contents unspecified: im2col overwrites
/// every byte). A nested call on the same thread gets a fresh buffer instead of panicking.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            if v.len() < len {
                v.resize(len, 0);
            }
            f(&mut v[..len])
        }
        Err(_) => f(&mut vec![0u8; len]),
    })
}

/// Fills `a` (rows × kh·kw·cin_g) with the receptive fields of output pixels `row0..`, channels
/// `c0..c0+cin_g`; out-of-image taps are 0. Every byte of `a` is written.
///
/// Without groups and with x-dilation 1, the `kw` taps of one kernel row are one contiguous
/// run of `kw·in_c` input bytes (NHWC), copied at once when the run lies inside the image: for
/// a 7×7 stem over 3 channels that is 7 copies of 21 bytes per output pixel instead of 49 of 3.
fn im2col(
    geom: &ConvGeometry,
    (oh, ow): (usize, usize),
    x: &[u8],
    c0: usize,
    cin_g: usize,
    row0: usize,
    a: &mut [u8],
) {
    let [kh, kw] = geom.kernel;
    let span = kw * cin_g;
    let k = kh * span;
    let whole_runs = geom.dilation[1] == 1 && cin_g == geom.in_c;
    for (r, row) in a.chunks_exact_mut(k.max(1)).enumerate() {
        let p = row0 + r;
        let (b, oy, ox) = (p / (oh * ow), (p / ow) % oh, p % ow);
        let ix0 = (ox * geom.stride[1]).checked_sub(geom.pad[1]).filter(|&ix| ix + kw <= geom.in_w);
        for ky in 0..kh {
            let iy = (oy * geom.stride[0] + ky * geom.dilation[0])
                .checked_sub(geom.pad[0])
                .filter(|&iy| iy < geom.in_h);
            let dst_row = &mut row[ky * span..(ky + 1) * span];
            let Some(iy) = iy else {
                dst_row.fill(0);
                continue;
            };
            let line = (b * geom.in_h + iy) * geom.in_w;
            if let (true, Some(ix0)) = (whole_runs, ix0) {
                let src = (line + ix0) * geom.in_c;
                dst_row.copy_from_slice(&x[src..src + span]);
                continue;
            }
            for (kx, dst) in dst_row.chunks_exact_mut(cin_g.max(1)).enumerate() {
                let ix = (ox * geom.stride[1] + kx * geom.dilation[1]).checked_sub(geom.pad[1]);
                match ix {
                    Some(ix) if ix < geom.in_w => {
                        let src = (line + ix) * geom.in_c + c0;
                        dst.copy_from_slice(&x[src..src + cin_g]);
                    }
                    _ => dst.fill(0),
                }
            }
        }
    }
}
