//! AVX2 kernels: 4 rows × 8 columns per tile. Activations are zero- (u8) or sign- (i8)
//! extended to i16, weights sign-extended to i16, and `vpmaddwd` sums adjacent pairs into i32:
//! each product is at most 255·128 in magnitude, so nothing saturates (unlike `vpmaddubsw`).
//! The epilogue is the scalar one; this level is the fallback for CPUs without VNNI.

use crate::epilogue::OutBuf;
use crate::gemm::Block;
use crate::isa::Isa;
use crate::pack::{K_GROUP, PANEL_COLS};
use std::arch::x86_64::*;

/// Rows per tile.
const MR: usize = 4;
/// Columns per tile (a quarter panel).
const NR: usize = 8;

/// Proof that this CPU runs AVX2; only [`Avx2::try_new`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// `Some` only if the CPU has AVX2.
    pub(crate) fn try_new() -> Option<Self> {
        Isa::Avx2.is_supported().then_some(Avx2(()))
    }

    /// Runs one validated row block.
    pub(crate) fn gemm_block(self, job: &Block<'_>, out: &mut OutBuf<'_>, ldc: usize) {
        // SAFETY: `self` exists only if the CPU has AVX2 (checked constructor).
        unsafe { gemm_block(job, out, ldc) }
    }
}

#[target_feature(enable = "avx2")]
unsafe fn gemm_block(job: &Block<'_>, out: &mut OutBuf<'_>, ldc: usize) {
    let n = job.b.n();
    for p in 0..job.b.panels() {
        for q in 0..PANEL_COLS / NR {
            let c0 = p * PANEL_COLS + q * NR;
            if c0 >= n {
                break;
            }
            let cols = NR.min(n - c0);
            let mut i = 0;
            while i < job.rows {
                let mr = MR.min(job.rows - i);
                let mut acc = [[0i32; NR]; MR];
                // SAFETY: rows i..i+mr exist, panel p and quarter q exist, CPU has AVX2.
                unsafe {
                    match mr {
                        4 => tile::<4>(job, i, p, q, &mut acc),
                        3 => tile::<3>(job, i, p, q, &mut acc),
                        2 => tile::<2>(job, i, p, q, &mut acc),
                        _ => tile::<1>(job, i, p, q, &mut acc),
                    }
                }
                for (r, row) in acc.iter().enumerate().take(mr) {
                    for (j, &v) in row.iter().enumerate().take(cols) {
                        let y = job.epi.finish(
                            v.wrapping_add(job.epi.bias[c0 + j]),
                            job.row0 + i + r,
                            c0 + j,
                        );
                        out.store((i + r) * ldc + c0 + j, y);
                    }
                }
                i += mr;
            }
        }
    }
}

/// Σ_k a·b for rows `i..i+R` and the 8 columns of quarter `q` of panel `p`.
///
/// # Safety
/// The CPU has AVX2; rows `i..i+R` exist in `job`, `p` < panels, `q` < 4.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn tile<const R: usize>(
    job: &Block<'_>,
    i: usize,
    p: usize,
    q: usize,
    res: &mut [[i32; NR]; MR],
) {
    let k = job.b.k();
    let full = k / K_GROUP;
    let panel = job.b.panel(p);
    let mut acc = [[_mm256_setzero_si256(); 2]; R];
    for g in 0..job.b.k4() {
        let off = g * PANEL_COLS * K_GROUP + q * NR * K_GROUP;
        // SAFETY: group g < K4 and quarter q < 4, so both 16-byte loads lie inside the panel.
        let (b0, b1) = unsafe {
            (
                _mm256_cvtepi8_epi16(_mm_loadu_si128(panel.as_ptr().add(off).cast())),
                _mm256_cvtepi8_epi16(_mm_loadu_si128(panel.as_ptr().add(off + 16).cast())),
            )
        };
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let start = (i + r) * job.lda + g * K_GROUP;
            let word = if g < full {
                // SAFETY: 4g + 4 ≤ K, so the four bytes lie inside row i + r.
                unsafe { job.a.as_ptr().add(start).cast::<i32>().read_unaligned() }
            } else {
                // The last, partial group: bytes past K meet zero weights.
                let mut bytes = [0u8; 4];
                bytes[..k - g * K_GROUP].copy_from_slice(&job.a[start..(i + r) * job.lda + k]);
                i32::from_le_bytes(bytes)
            };
            let a4 = _mm_cvtsi32_si128(word);
            let a16 = if job.signed { _mm_cvtepi8_epi16(a4) } else { _mm_cvtepu8_epi16(a4) };
            let av = _mm256_broadcastq_epi64(a16);
            acc_r[0] = _mm256_add_epi32(acc_r[0], _mm256_madd_epi16(av, b0));
            acc_r[1] = _mm256_add_epi32(acc_r[1], _mm256_madd_epi16(av, b1));
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        // Pair sums → [c0, c1, c4, c5 | c2, c3, c6, c7] → column order.
        let h = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(acc_r[0], acc_r[1]));
        // SAFETY: res[r] holds 8 i32 = 32 bytes.
        unsafe { _mm256_storeu_si256(res[r].as_mut_ptr().cast(), h) };
    }
}
