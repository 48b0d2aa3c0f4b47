//! The portable reference kernels: the simplest obviously-correct loops, always built.

use crate::epilogue::OutBuf;
use crate::gemm::Block;

/// `out[i, n] = epilogue(Σ_k a[i, k]·b[k, n] + bias[n])` for every row of the block.
pub(crate) fn gemm_block(job: &Block<'_>, out: &mut OutBuf<'_>, ldc: usize) {
    let (b, epi) = (job.b, job.epi);
    for i in 0..job.rows {
        let row = &job.a[i * job.lda..i * job.lda + b.k()];
        for n in 0..b.n() {
            let mut acc = 0i32;
            for (kk, &byte) in row.iter().enumerate() {
                let a = if job.signed { byte as i8 as i32 } else { byte as i32 };
                // In range by construction: kk < K and n < N.
                let w = b.get(kk, n).unwrap_or(0) as i32;
                acc = acc.wrapping_add(a * w);
            }
            acc = acc.wrapping_add(epi.bias[n]);
            out.store(i * ldc + n, epi.finish(acc, job.row0 + i, n));
        }
    }
}
