//! AVX-512 VNNI kernels: an 8×32 register tile of `vpdpbusd` (u8×s8 → i32) over packed
//! panels, with the epilogue fused in zmm registers; single rows (GEMV) take a 4-way K-unrolled
//! kernel so the `vpdpbusd` latency is hidden.
//!
//! i8 activations are offset to u8 by XOR 0x80 (= +128) and the column correction
//! `−128·Σ_k b[k, n]` (precomputed at pack time) is added with the bias, so every result is
//! bit-identical to the scalar reference. The epilogue is monomorphised per output kind
//! ([`Sink`]), and its per-column operands are loaded once per panel, not once per tile.

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
        // SAFETY: `self` exists only if the CPU has avx512f/bw/vl/vnni (checked constructor);
        // every sink points at the block's validated output buffer.
        unsafe {
            match out {
                OutBuf::U8(s) => gemm_block(job, Narrow8(s.as_mut_ptr()), ldc),
                OutBuf::I8(s) => gemm_block(job, Narrow8(s.as_mut_ptr().cast()), ldc),
                OutBuf::I16(s) => gemm_block(job, Narrow16(s.as_mut_ptr()), ldc),
                OutBuf::I32(s) => gemm_block(job, Wide32(s.as_mut_ptr()), ldc),
                OutBuf::U4(s) => gemm_block(job, Nibbles(s.as_mut_ptr()), ldc),
            }
        }
    }
}

/// Where finished values go: one implementation per stored element type, so the store is
/// chosen at compile time. Values handed over are already clamped to the type's range.
trait Sink: Copy {
    /// Stores lanes `0..len` of `y` (selected by `mask`) at elements `idx..idx+len`.
    ///
    /// # Safety
    /// The CPU has avx512f/bw/vl; elements `idx..idx+len` are inside the output buffer.
    unsafe fn put16(self, idx: usize, len: usize, mask: __mmask16, y: __m512i);
    /// Stores one value at element `idx`.
    ///
    /// # Safety
    /// Element `idx` is inside the output buffer.
    unsafe fn put1(self, idx: usize, v: i32);
}

/// u8 or i8 output (the same bytes: values are in range, the store truncates).
#[derive(Clone, Copy)]
struct Narrow8(*mut u8);
/// i16 output.
#[derive(Clone, Copy)]
struct Narrow16(*mut i16);
/// i32 output.
#[derive(Clone, Copy)]
struct Wide32(*mut i32);
/// u4 output, two per byte, even element in the low nibble.
#[derive(Clone, Copy)]
struct Nibbles(*mut u8);

impl Sink for Narrow8 {
    #[inline(always)]
    unsafe fn put16(self, idx: usize, _len: usize, mask: __mmask16, y: __m512i) {
        // Narrow in registers, then a masked plain store: the memory forms of vpmovdb/vpmovdw
        // are slow on Zen 4.
        // SAFETY: the caller guarantees the masked lanes are inside the buffer and the features.
        unsafe { _mm_mask_storeu_epi8(self.0.add(idx).cast(), mask, _mm512_cvtepi32_epi8(y)) }
    }
    #[inline(always)]
    unsafe fn put1(self, idx: usize, v: i32) {
        // SAFETY: the caller guarantees idx is inside the buffer.
        unsafe { *self.0.add(idx) = v as u8 }
    }
}

impl Sink for Narrow16 {
    #[inline(always)]
    unsafe fn put16(self, idx: usize, _len: usize, mask: __mmask16, y: __m512i) {
        // SAFETY: as for Narrow8.
        unsafe { _mm256_mask_storeu_epi16(self.0.add(idx), mask, _mm512_cvtepi32_epi16(y)) }
    }
    #[inline(always)]
    unsafe fn put1(self, idx: usize, v: i32) {
        // SAFETY: the caller guarantees idx is inside the buffer.
        unsafe { *self.0.add(idx) = v as i16 }
    }
}

impl Sink for Wide32 {
    #[inline(always)]
    unsafe fn put16(self, idx: usize, _len: usize, mask: __mmask16, y: __m512i) {
        // SAFETY: as for Narrow8.
        unsafe { _mm512_mask_storeu_epi32(self.0.add(idx), mask, y) }
    }
    #[inline(always)]
    unsafe fn put1(self, idx: usize, v: i32) {
        // SAFETY: the caller guarantees idx is inside the buffer.
        unsafe { *self.0.add(idx) = v }
    }
}

impl Sink for Nibbles {
    #[inline(always)]
    unsafe fn put16(self, idx: usize, len: usize, _mask: __mmask16, y: __m512i) {
        let mut tmp = [0i32; 16];
        // SAFETY: tmp holds 16 i32; the caller guarantees the elements are in the buffer.
        unsafe {
            _mm512_storeu_si512(tmp.as_mut_ptr().cast(), y);
            for (j, &v) in tmp.iter().enumerate().take(len) {
                self.put1(idx + j, v);
            }
        }
    }
    #[inline(always)]
    unsafe fn put1(self, idx: usize, v: i32) {
        let sh = 4 * (idx % 2);
        // SAFETY: element idx lives in byte idx / 2, inside the buffer.
        unsafe {
            let p = self.0.add(idx / 2);
            *p = (*p & !(0x0f << sh)) | (((v as u8) & 0x0f) << sh);
        }
    }
}

/// Epilogue operands shared by every tile of a block.
#[derive(Clone, Copy)]
struct Consts {
    lo: __m512i,
    hi: __m512i,
    /// The residual's per-tensor dyadic scale, if the fast path has a residual.
    residual: Option<Lanes64>,
    /// Interleaves the low dwords of two i64 vectors (even lanes from the first).
    interleave: __m512i,
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn gemm_block<S: Sink>(job: &Block<'_>, sink: S, ldc: usize) {
    let epi = job.epi;
    let consts = Consts {
        lo: _mm512_set1_epi64(epi.lo as i64),
        hi: _mm512_set1_epi64(epi.hi as i64),
        residual: epi
            .residual
            .filter(|_| job.fast && epi.requant.is_some())
            .map(|r| Lanes64::new(_mm512_set1_epi32(r.mult), _mm512_set1_epi32(r.shift))),
        interleave: _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30),
    };
    let n = job.b.n();
    for p in 0..job.b.panels() {
        let n0 = p * PANEL_COLS;
        let ncols = PANEL_COLS.min(n - n0);
        // SAFETY: columns n0.. up to n are inside the validated per-column arrays (loads past
        // n are masked off); the second half exists only if the panel has more than 16 columns.
        let cols = unsafe {
            [
                ColParams::load(job, n0, ncols.min(16)),
                ColParams::load(job, n0 + 16, ncols.max(16) - 16),
            ]
        };
        let halves = if ncols > 16 { 2 } else { 1 };
        let mut i = 0;
        while i < job.rows {
            let mr = MR.min(job.rows - i);
            macro_rules! tile {
                ($r:literal) => {
                    tile!(if job.signed {
                        tile::<$r, true>(job, i, p)
                    } else {
                        tile::<$r, false>(job, i, p)
                    })
                };
                ($acc:expr) => {{
                    // SAFETY: rows i..i+mr exist in the block (mr ≤ rows − i), panel p exists
                    // (p < panels), and the CPU features are those of this function.
                    let acc = unsafe { $acc };
                    for (r, row) in acc.iter().enumerate() {
                        for h in 0..halves {
                            // SAFETY: row i + r < rows and the columns are inside the validated
                            // output block; lanes past n are masked off.
                            unsafe { epilogue16(job, row[h], &cols[h], &consts, i + r, sink, ldc) };
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
                _ => tile!(if job.signed {
                    gemv::<true>(job, i, p)
                } else {
                    gemv::<false>(job, i, p)
                }),
            }
            i += mr;
        }
    }
}

/// The four activation bytes of group `g` of row `row` (zero past K), flipped to u8 if signed.
///
/// # Safety
/// Row `row` of the block exists and `g < K4`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn a_word<const SIGNED: bool>(job: &Block<'_>, row: usize, g: usize) -> __m512i {
    let k = job.b.k();
    let start = row * job.lda + g * K_GROUP;
    let word = if g * K_GROUP + K_GROUP <= k {
        // SAFETY: 4g + 4 ≤ K, so the four bytes are inside the row.
        unsafe { job.a.as_ptr().add(start).cast::<i32>().read_unaligned() }
    } else {
        // The last, partial group: bytes past K meet zero weights, so their value (flipped or
        // not) does not matter.
        let mut bytes = [0u8; 4];
        bytes[..k - g * K_GROUP].copy_from_slice(&job.a[start..row * job.lda + k]);
        i32::from_le_bytes(bytes)
    };
    let av = _mm512_set1_epi32(word);
    if SIGNED { _mm512_xor_si512(av, _mm512_set1_epi8(0x80u8 as i8)) } else { av }
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
            // SAFETY: row i + r exists and g < K4.
            let av = unsafe { a_word::<SIGNED>(job, i + r, g) };
            acc_r[0] = _mm512_dpbusd_epi32(acc_r[0], av, b0);
            acc_r[1] = _mm512_dpbusd_epi32(acc_r[1], av, b1);
        }
    }
    acc
}

/// One row (GEMV): like `tile::<1, _>` but with four independent accumulator pairs over
/// interleaved K groups, summed at the end (wrapping i32 addition is associative, so the
/// result is the same bits).
///
/// # Safety
/// The CPU has avx512f/vnni; row `i` and panel `p` exist in `job`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn gemv<const SIGNED: bool>(job: &Block<'_>, i: usize, p: usize) -> [[__m512i; 2]; 1] {
    const U: usize = 4;
    let k4 = job.b.k4();
    let b = job.b.panel(p).as_ptr();
    let mut acc = [[_mm512_setzero_si512(); 2]; U];
    let mut g = 0;
    while g + U <= k4 {
        for (u, acc_u) in acc.iter_mut().enumerate() {
            // SAFETY: g + u < K4: the group lies in the panel and row i exists.
            unsafe {
                let av = a_word::<SIGNED>(job, i, g + u);
                let off = (g + u) * GROUP_BYTES;
                acc_u[0] = _mm512_dpbusd_epi32(acc_u[0], av, _mm512_loadu_si512(b.add(off).cast()));
                acc_u[1] =
                    _mm512_dpbusd_epi32(acc_u[1], av, _mm512_loadu_si512(b.add(off + 64).cast()));
            }
        }
        g += U;
    }
    while g < k4 {
        // SAFETY: g < K4.
        unsafe {
            let av = a_word::<SIGNED>(job, i, g);
            let off = g * GROUP_BYTES;
            acc[0][0] = _mm512_dpbusd_epi32(acc[0][0], av, _mm512_loadu_si512(b.add(off).cast()));
            acc[0][1] =
                _mm512_dpbusd_epi32(acc[0][1], av, _mm512_loadu_si512(b.add(off + 64).cast()));
        }
        g += 1;
    }
    let sum = |h: usize| {
        let s01 = _mm512_add_epi32(acc[0][h], acc[1][h]);
        let s23 = _mm512_add_epi32(acc[2][h], acc[3][h]);
        _mm512_add_epi32(s01, s23)
    };
    [[sum(0), sum(1)]]
}

/// Per-column epilogue operands of 16 columns, loaded once per panel and reused by every row.
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

/// `p ≥ 0`: `(p + half) >> s`; `p < 0`: `−((half − p) >> s)`, which equals the arithmetic
/// `(p + half − 1) >> s` (ceil of `(p − half)/2^s` written as a floor). One expression for both
/// signs: add `half` and the sign (−1 or 0), shift arithmetically.
#[inline]
#[target_feature(enable = "avx512f")]
fn round_shift(p: __m512i, s: __m512i, half: __m512i) -> __m512i {
    let biased = _mm512_add_epi64(_mm512_add_epi64(p, half), _mm512_srai_epi64::<63>(p));
    _mm512_srav_epi64(biased, s)
}

impl ColParams {
    /// Operands of columns `c..c+len`; `len = 0` gives an unused, all-masked set.
    ///
    /// # Safety
    /// CPU has avx512f/bw/vl; `len ≤ 16`, `c + len ≤ N`, and `c` lies in a panel of the view.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn load(job: &Block<'_>, c: usize, len: usize) -> ColParams {
        let epi = job.epi;
        let mask: __mmask16 = if len >= 16 { 0xffff } else { (1u16 << len) - 1 };
        // SAFETY: masked loads touch only columns c..c+len ≤ N of length-N arrays.
        let mut bias = unsafe { _mm512_maskz_loadu_epi32(mask, epi.bias.as_ptr().wrapping_add(c)) };
        if job.signed {
            // SAFETY: the correction array is padded to whole panels, so c..c+16 is inside it
            // when len > 0; masked otherwise.
            let corr = unsafe {
                _mm512_maskz_loadu_epi32(mask, job.b.neg128_colsum().as_ptr().wrapping_add(c))
            };
            bias = _mm512_add_epi32(bias, corr);
        }
        let q = match (&epi.requant, job.fast) {
            (Some(rq), true) => {
                // SAFETY: masked loads of columns < N.
                let (mult, shift) = unsafe {
                    (
                        _mm512_maskz_loadu_epi32(mask, rq.mult.as_ptr().wrapping_add(c)),
                        _mm512_maskz_loadu_epi32(mask, rq.shift.as_ptr().wrapping_add(c)),
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
/// epilogue and residual buffers; `sink` points at the block's output.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn epilogue16<S: Sink>(
    job: &Block<'_>,
    acc: __m512i,
    cols: &ColParams,
    k: &Consts,
    m: usize,
    sink: S,
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
            if let (Some(r), Some(rq)) = (&epi.residual, &k.residual) {
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
                let [re, ro] = rq.apply(rv);
                // |y|, |r| < 2^62 each after a shift ≥ 1: the i64 sum cannot overflow, so it
                // equals the reference's saturating add.
                ye = _mm512_add_epi64(ye, re);
                yo = _mm512_add_epi64(yo, ro);
            }
            ye = _mm512_min_epi64(_mm512_max_epi64(ye, k.lo), k.hi);
            yo = _mm512_min_epi64(_mm512_max_epi64(yo, k.lo), k.hi);
            _mm512_permutex2var_epi32(ye, k.interleave, yo)
        }
        (Some(_), None) => {
            // Shifts outside 1..=62: the exact scalar epilogue.
            let mut tmp = [0i32; 16];
            // SAFETY: tmp holds 16 i32; elements idx..idx+len are in the output.
            unsafe {
                _mm512_storeu_si512(tmp.as_mut_ptr().cast(), x);
                for (j, &v) in tmp.iter().enumerate().take(len) {
                    sink.put1(idx + j, epi.finish(v, job.row0 + m, c + j));
                }
            }
            return;
        }
    };
    // SAFETY: masked stores write only columns c..c+len of row m, inside the output block.
    unsafe { sink.put16(idx, len, mask, y) }
}
