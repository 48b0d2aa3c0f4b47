//! AVX-512 VNNI kernels: an 8×32 register tile of `vpdpbusd` (u8×s8 → i32) over packed
//! panels, with the epilogue fused in zmm registers.
//!
//! i8 activations are offset to u8 by XOR 0x80 (= +128) and the column correction
//! `−128·Σ_k b[k, n]` (precomputed at pack time) is added with the bias, so every result is
//! bit-identical to the scalar reference.

use crate::epilogue::{OutBuf, ResidualData};
use crate::gemm::Block;
use crate::isa::Isa;
use crate::pack::{K_GROUP, PANEL_COLS};
use std::arch::x86_64::*;

/// Rows per register tile.
const MR: usize = 8;
/// Bytes of one packed K group of a panel.
const GROUP_BYTES: usize = PANEL_COLS * K_GROUP;

/// Proof that this CPU runs AVX-512 F/BW/VL/VNNI; only [`Avx512Vnni::try_new`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512Vnni(());

impl Avx512Vnni {
    /// `Some` only if the CPU has every feature the kernels use.
    pub(crate) fn try_new() -> Option<Self> {
        Isa::Avx512Vnni.is_supported().then_some(Avx512Vnni(()))
    }

    /// Runs one validated row block.
    pub(crate) fn gemm_block(self, job: &Block<'_>, out: &mut OutBuf<'_>, ldc: usize) {
        // SAFETY: `self` exists only if the CPU has avx512f/bw/vl/vnni (checked constructor).
        unsafe { gemm_block(job, out, ldc) }
    }
}

/// Raw output pointer of the block with its element kind.
#[derive(Clone, Copy)]
enum OutPtr {
    U8(*mut u8),
    I8(*mut i8),
    I16(*mut i16),
    I32(*mut i32),
    U4,
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn gemm_block(job: &Block<'_>, out: &mut OutBuf<'_>, ldc: usize) {
    let optr = match out {
        OutBuf::U8(s) => OutPtr::U8(s.as_mut_ptr()),
        OutBuf::I8(s) => OutPtr::I8(s.as_mut_ptr()),
        OutBuf::I16(s) => OutPtr::I16(s.as_mut_ptr()),
        OutBuf::I32(s) => OutPtr::I32(s.as_mut_ptr()),
        OutBuf::U4(_) => OutPtr::U4,
    };
    let n = job.b.n();
    for p in 0..job.b.panels() {
        let n0 = p * PANEL_COLS;
        let ncols = PANEL_COLS.min(n - n0);
        let mut i = 0;
        while i < job.rows {
            let mr = MR.min(job.rows - i);
            macro_rules! tile {
                ($r:literal) => {{
                    // SAFETY: rows i..i+$r exist in the block (mr = $r ≤ rows − i), panel p
                    // exists (p < panels), and the CPU features are those of this function.
                    let acc = unsafe {
                        if job.signed {
                            tile::<$r, true>(job, i, p)
                        } else {
                            tile::<$r, false>(job, i, p)
                        }
                    };
                    for h in 0..2 {
                        let c0 = 16 * h;
                        if c0 >= ncols {
                            continue;
                        }
                        let len = (ncols - c0).min(16);
                        // SAFETY: columns n0+c0.. up to n are inside the validated per-column
                        // arrays (loads past n are masked off).
                        let cols = unsafe { ColParams::load(job, n0 + c0, len) };
                        for (r, row) in acc.iter().enumerate() {
                            // SAFETY: row i + r < rows and the columns are inside the validated
                            // output block; lanes past n are masked off.
                            unsafe { epilogue16(job, row[h], &cols, i + r, out, optr, ldc) };
                        }
                    }
                }};
            }
            match mr {
                8 => tile!(8),
                7 => tile!(7),
                6 => tile!(6),
                5 => tile!(5),
                4 => tile!(4),
                3 => tile!(3),
                2 => tile!(2),
                _ => tile!(1),
            }
            i += mr;
        }
    }
}

/// Σ_k a·b for rows `i..i+R` of the block and the 32 columns of panel `p`, as two zmm per row.
///
/// # Safety
/// The CPU has avx512f/vnni; rows `i..i+R` and panel `p` exist in `job`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile<const R: usize, const SIGNED: bool>(
    job: &Block<'_>,
    i: usize,
    p: usize,
) -> [[__m512i; 2]; R] {
    let k = job.b.k();
    let panel = job.b.panel(p);
    let full = k / K_GROUP;
    let flip = _mm512_set1_epi8(if SIGNED { 0x80u8 as i8 } else { 0 });
    let mut acc = [[_mm512_setzero_si512(); 2]; R];
    let a = job.a.as_ptr();
    let b = panel.as_ptr();
    for g in 0..full {
        // SAFETY: g < K4 so both 64-byte halves of group g lie in the panel.
        let (b0, b1) = unsafe {
            (
                _mm512_loadu_si512(b.add(g * GROUP_BYTES).cast()),
                _mm512_loadu_si512(b.add(g * GROUP_BYTES + 64).cast()),
            )
        };
        for (r, acc_r) in acc.iter_mut().enumerate() {
            // SAFETY: row i + r exists and 4g + 4 ≤ K, so the 4 bytes are inside that row.
            let word =
                unsafe { a.add((i + r) * job.lda + g * K_GROUP).cast::<i32>().read_unaligned() };
            let mut av = _mm512_set1_epi32(word);
            if SIGNED {
                av = _mm512_xor_si512(av, flip);
            }
            acc_r[0] = _mm512_dpbusd_epi32(acc_r[0], av, b0);
            acc_r[1] = _mm512_dpbusd_epi32(acc_r[1], av, b1);
        }
    }
    if !k.is_multiple_of(K_GROUP) {
        let g = full;
        // SAFETY: the last group g = K/4 < K4 is in the panel.
        let (b0, b1) = unsafe {
            (
                _mm512_loadu_si512(b.add(g * GROUP_BYTES).cast()),
                _mm512_loadu_si512(b.add(g * GROUP_BYTES + 64).cast()),
            )
        };
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let row = &job.a[(i + r) * job.lda + g * K_GROUP..(i + r) * job.lda + k];
            let mut bytes = [0u8; 4];
            bytes[..row.len()].copy_from_slice(row);
            // Bytes past K meet zero weights, so their (flipped) value does not matter.
            let mut av = _mm512_set1_epi32(i32::from_le_bytes(bytes));
            if SIGNED {
                av = _mm512_xor_si512(av, flip);
            }
            acc_r[0] = _mm512_dpbusd_epi32(acc_r[0], av, b0);
            acc_r[1] = _mm512_dpbusd_epi32(acc_r[1], av, b1);
        }
    }
    acc
}

/// Per-column epilogue operands of 16 columns, loaded once per tile and reused by every row.
struct ColParams {
    /// First column and number of valid columns.
    c: usize,
    len: usize,
    mask: __mmask16,
    /// Bias plus, for i8 activations, the −128·Σb correction.
    bias: __m512i,
    /// Requantization operands for even/odd lanes as 64-bit lanes (fast path only).
    q: Option<Lanes64>,
}

/// A dyadic `(mult, shift)` split into even and odd 64-bit lanes, with the rounding half.
#[derive(Clone, Copy)]
struct Lanes64 {
    mult_odd: __m512i,
    mult: __m512i,
    shift: [__m512i; 2],
    half: [__m512i; 2],
}

impl Lanes64 {
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn new(mult: __m512i, shift: __m512i) -> Lanes64 {
        let one = _mm512_set1_epi64(1);
        let se = _mm512_and_si512(shift, _mm512_set1_epi64(0xffff_ffff));
        let so = _mm512_srli_epi64(shift, 32);
        let half = |s| _mm512_sllv_epi64(one, _mm512_sub_epi64(s, one));
        Lanes64 {
            mult_odd: _mm512_srli_epi64(mult, 32),
            mult,
            shift: [se, so],
            half: [half(se), half(so)],
        }
    }

    /// `round(x·mult / 2^shift)`, ties away from zero, for the even and odd i32 lanes of `x`,
    /// as i64. Exact for shifts in 1..=62: `|x·mult| ≤ 2^62` and `half ≤ 2^61`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn apply(&self, x: __m512i) -> [__m512i; 2] {
        let pe = _mm512_mul_epi32(x, self.mult);
        let po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), self.mult_odd);
        [round_shift(pe, self.shift[0], self.half[0]), round_shift(po, self.shift[1], self.half[1])]
    }
}

#[inline]
#[target_feature(enable = "avx512f")]
fn round_shift(p: __m512i, s: __m512i, half: __m512i) -> __m512i {
    let zero = _mm512_setzero_si512();
    let mag = _mm512_srlv_epi64(_mm512_add_epi64(_mm512_abs_epi64(p), half), s);
    let neg = _mm512_cmplt_epi64_mask(p, zero);
    _mm512_mask_sub_epi64(mag, neg, zero, mag)
}

impl ColParams {
    /// # Safety
    /// CPU has avx512f/bw/vl; `c < N`, `1 ≤ len ≤ 16`, `c + len ≤ N`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn load(job: &Block<'_>, c: usize, len: usize) -> ColParams {
        let epi = job.epi;
        let mask: __mmask16 = if len >= 16 { 0xffff } else { (1u16 << len) - 1 };
        // SAFETY: masked loads touch only columns c..c+len < N of length-N arrays.
        let mut bias = unsafe { _mm512_maskz_loadu_epi32(mask, epi.bias.as_ptr().add(c)) };
        if job.signed {
            // SAFETY: the correction array is padded to whole panels, so c+16 is inside it.
            let corr = unsafe { _mm512_loadu_si512(job.b.neg128_colsum().as_ptr().add(c).cast()) };
            bias = _mm512_add_epi32(bias, corr);
        }
        let q = match (&epi.requant, job.fast) {
            (Some(rq), true) => {
                // SAFETY: masked loads of columns < N.
                let (mult, shift) = unsafe {
                    (
                        _mm512_maskz_loadu_epi32(mask, rq.mult.as_ptr().add(c)),
                        _mm512_maskz_loadu_epi32(mask, rq.shift.as_ptr().add(c)),
                    )
                };
                Some(Lanes64::new(mult, shift))
            }
            _ => None,
        };
        ColParams { c, len, mask, bias, q }
    }
}

/// Finishes 16 accumulators of row `m` (block-local) for the columns of `cols`, and stores them.
///
/// # Safety
/// CPU has avx512f/bw/vl; row `m` and the columns of `cols` are inside the validated output,
/// epilogue and residual buffers; `optr` points at `out`'s data.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn epilogue16(
    job: &Block<'_>,
    acc: __m512i,
    cols: &ColParams,
    m: usize,
    out: &mut OutBuf<'_>,
    optr: OutPtr,
    ldc: usize,
) {
    let epi = job.epi;
    let (c, len, mask) = (cols.c, cols.len, cols.mask);
    let x = _mm512_add_epi32(acc, cols.bias);
    let idx = m * ldc + c;
    let y = match (&epi.requant, &cols.q) {
        (None, _) => x,
        (Some(_), Some(q)) => {
            let [mut ye, mut yo] = q.apply(x);
            if let Some(r) = &epi.residual {
                let ri = (job.row0 + m) * r.row_stride + c;
                // SAFETY: row row0+m < M and columns < N are inside the validated residual.
                let rv = unsafe {
                    match r.data {
                        ResidualData::I32(s) => _mm512_maskz_loadu_epi32(mask, s.as_ptr().add(ri)),
                        ResidualData::I16(s) => _mm512_cvtepi16_epi32(_mm256_maskz_loadu_epi16(
                            mask,
                            s.as_ptr().add(ri),
                        )),
                    }
                };
                let rq = Lanes64::new(_mm512_set1_epi32(r.mult), _mm512_set1_epi32(r.shift));
                let [re, ro] = rq.apply(rv);
                ye = _mm512_add_epi64(ye, re);
                yo = _mm512_add_epi64(yo, ro);
            }
            let (lo, hi) = (_mm512_set1_epi64(epi.lo as i64), _mm512_set1_epi64(epi.hi as i64));
            ye = _mm512_min_epi64(_mm512_max_epi64(ye, lo), hi);
            yo = _mm512_min_epi64(_mm512_max_epi64(yo, lo), hi);
            _mm512_mask_blend_epi32(0xaaaa, ye, _mm512_slli_epi64(yo, 32))
        }
        (Some(_), None) => {
            // Shifts outside 1..=62: the exact scalar epilogue.
            let mut tmp = [0i32; 16];
            // SAFETY: tmp holds 16 i32.
            unsafe { _mm512_storeu_si512(tmp.as_mut_ptr().cast(), x) };
            for (j, &v) in tmp.iter().enumerate().take(len) {
                out.store(idx + j, epi.finish(v, job.row0 + m, c + j));
            }
            return;
        }
    };
    // SAFETY: masked stores write only columns c..c+len of row m, inside the output block.
    unsafe {
        match optr {
            // Narrow in registers, then a masked plain store: the memory forms of vpmovdb/vpmovdw
            // are slow on Zen 4.
            OutPtr::U8(p) => _mm_mask_storeu_epi8(p.add(idx).cast(), mask, _mm512_cvtepi32_epi8(y)),
            OutPtr::I8(p) => _mm_mask_storeu_epi8(p.add(idx), mask, _mm512_cvtepi32_epi8(y)),
            OutPtr::I16(p) => _mm256_mask_storeu_epi16(p.add(idx), mask, _mm512_cvtepi32_epi16(y)),
            OutPtr::I32(p) => _mm512_mask_storeu_epi32(p.add(idx), mask, y),
            OutPtr::U4 => {
                let mut tmp = [0i32; 16];
                _mm512_storeu_si512(tmp.as_mut_ptr().cast(), y);
                for (j, &v) in tmp.iter().enumerate().take(len) {
                    out.store(idx + j, v);
                }
            }
        }
    }
}
