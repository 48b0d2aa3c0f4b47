//! How a GEMM is cut into tasks for the rayon pool: blocks of rows sized for the L2 cache and,
//! when there are too few rows to share (batch-1 linear layers, late small-image convs), runs of
//! column panels. Every output element is computed by the same instruction sequence whatever the
//! cut, so results never depend on the thread count.

use crate::epilogue::{OutBuf, OutView};
use crate::pack::PANEL_COLS;
use rayon::prelude::*;

/// Bytes of activations one row block may hold: half of a 1 MiB L2, so that a block stays
/// cached while every panel of B streams past it.
const A_BLOCK_BYTES: usize = 384 * 1024;
/// Rows per thread below which a GEMM is split over columns instead of rows.
const MIN_ROWS_PER_THREAD: usize = 32;

/// One unit of work: rows `row0..row0+rows`, panels `p0..p1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Task {
    /// First row.
    pub row0: usize,
    /// Number of rows.
    pub rows: usize,
    /// First panel.
    pub p0: usize,
    /// One past the last panel.
    pub p1: usize,
}

/// The cut of an `m × n` GEMM with reduction `k` for `threads` threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Rows per block (a multiple of 8 unless it covers all rows).
    pub block_rows: usize,
    /// Panels per column chunk.
    pub chunk_panels: usize,
}

impl Plan {
    /// The plan for the current rayon pool.
    pub(crate) fn new(m: usize, n: usize, k: usize) -> Plan {
        Plan::for_threads(m, n, k, rayon::current_num_threads())
    }

    /// The plan for `threads` threads.
    pub(crate) fn for_threads(m: usize, n: usize, k: usize, threads: usize) -> Plan {
        let t = threads.max(1);
        let panels = n.div_ceil(PANEL_COLS).max(1);
        let round8 = |r: usize| r.div_ceil(8) * 8;
        let mut block_rows = round8((A_BLOCK_BYTES / k.max(1)).max(8));
        let mut chunk_panels = panels;
        let mut blocks = m.div_ceil(block_rows).max(1);
        if t > 1 {
            if m >= MIN_ROWS_PER_THREAD * t {
                // Rows: a multiple of `t` blocks of nearly equal height.
                blocks = blocks.max(t).div_ceil(t) * t;
                block_rows = round8(m.div_ceil(blocks));
            } else {
                // Columns: about two chunks per thread over the row blocks there are.
                let chunks = (2 * t).div_ceil(blocks).min(panels);
                chunk_panels = panels.div_ceil(chunks);
            }
        }
        Plan { block_rows: block_rows.min(m.max(1)), chunk_panels }
    }

    /// Every task of the plan, row blocks outer.
    pub(crate) fn tasks(&self, m: usize, n: usize) -> Vec<Task> {
        let panels = n.div_ceil(PANEL_COLS);
        let mut v = Vec::new();
        for row0 in (0..m).step_by(self.block_rows.max(1)) {
            for p0 in (0..panels).step_by(self.chunk_panels.max(1)) {
                let rows = self.block_rows.min(m - row0);
                v.push(Task { row0, rows, p0, p1: (p0 + self.chunk_panels).min(panels) });
            }
        }
        v
    }
}

/// Runs `f(task, out, ldc)` for every task of a validated `m × n` output (m, n > 0), in
/// parallel. `out` starts at the task's first row and first column (`32·p0`).
///
/// Row-only plans hand each task its rows of the real output. Column-split plans compute each
/// task into its own i32 buffer (values are already clamped to the output's range, so storing
/// them as i32 and narrowing later is exact) and copy the results in afterwards: the copy is
/// small because column splits happen only for few rows.
pub(crate) fn drive<F>(m: usize, n: usize, k: usize, out: OutView<'_>, f: F)
where
    F: Fn(Task, &mut OutBuf<'_>, usize) + Sync,
{
    let plan = Plan::new(m, n, k);
    let panels = n.div_ceil(PANEL_COLS);
    if plan.chunk_panels >= panels {
        drive_rows(m, n, plan.block_rows, out, |row0, rows, buf, ldc| {
            f(Task { row0, rows, p0: 0, p1: panels }, buf, ldc)
        });
        return;
    }
    let tasks = plan.tasks(m, n);
    let results: Vec<(Task, Vec<i32>, usize)> = tasks
        .into_par_iter()
        .map(|t| {
            let cols = (t.p1 * PANEL_COLS).min(n) - t.p0 * PANEL_COLS;
            let mut tmp = vec![0i32; t.rows * cols];
            f(t, &mut OutBuf::I32(&mut tmp), cols);
            (t, tmp, cols)
        })
        .collect();
    let (mut data, ldc) = (out.data, out.row_stride);
    for (t, tmp, cols) in results {
        for (r, row) in tmp.chunks_exact(cols).enumerate() {
            let base = (t.row0 + r) * ldc + t.p0 * PANEL_COLS;
            for (j, &v) in row.iter().enumerate() {
                data.store(base + j, v);
            }
        }
    }
}

/// Splits a validated `m`-row output (m > 0) into blocks of `block_rows` rows and runs
/// `f(row0, rows, block_out, ldc)` on each, in parallel.
pub(crate) fn drive_rows<F>(m: usize, n: usize, block_rows: usize, out: OutView<'_>, f: F)
where
    F: Fn(usize, usize, &mut OutBuf<'_>, usize) + Sync,
{
    let chunk = block_rows.max(1);
    let ldc = out.row_stride;
    // Caller validated the buffer, so `(m−1)·ldc + n` elements exist; trimming to at most m rows
    // makes the number of chunks exactly ⌈m / chunk⌉.
    let span = (m * ldc).min((m - 1) * ldc + n.max(1));
    // Saturating: a block may be taller than m, and then one chunk takes everything.
    let step = chunk.saturating_mul(ldc);
    let run = |idx: usize, mut buf: OutBuf<'_>| {
        let row0 = idx * chunk;
        f(row0, chunk.min(m - row0), &mut buf, ldc)
    };
    match out.data {
        OutBuf::U8(s) => split(&mut s[..span], step, |i, c| run(i, OutBuf::U8(c))),
        OutBuf::I8(s) => split(&mut s[..span], step, |i, c| run(i, OutBuf::I8(c))),
        OutBuf::I16(s) => split(&mut s[..span], step, |i, c| run(i, OutBuf::I16(c))),
        OutBuf::I32(s) => split(&mut s[..span], step, |i, c| run(i, OutBuf::I32(c))),
        // ldc is even for u4 (validated), so row blocks start on byte boundaries.
        OutBuf::U4(s) => split(&mut s[..span.div_ceil(2)], step / 2, |i, c| run(i, OutBuf::U4(c))),
    }
}

fn split<T: Send>(s: &mut [T], len: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if s.len() <= len {
        f(0, s);
    } else {
        s.par_chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covers(m: usize, n: usize, k: usize, t: usize) {
        let plan = Plan::for_threads(m, n, k, t);
        let mut seen = vec![0u8; m * n.div_ceil(PANEL_COLS)];
        for task in plan.tasks(m, n) {
            for r in task.row0..task.row0 + task.rows {
                for p in task.p0..task.p1 {
                    seen[r * n.div_ceil(PANEL_COLS) + p] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "m={m} n={n} k={k} t={t} {plan:?}");
    }

    #[test]
    fn plans_cover_every_tile_once() {
        for t in 1..=5 {
            for (m, n, k) in
                [(1, 1000, 512), (8, 1000, 2048), (49, 512, 4608), (3136, 256, 64), (196, 33, 9)]
            {
                covers(m, n, k, t);
            }
        }
    }

    #[test]
    fn small_m_splits_columns_big_m_rows() {
        let gemv = Plan::for_threads(1, 1000, 512, 2);
        assert!(gemv.chunk_panels < 1000usize.div_ceil(PANEL_COLS), "{gemv:?}");
        let big = Plan::for_threads(3136, 64, 576, 2);
        assert_eq!(big.chunk_panels, 2);
        assert_eq!(3136usize.div_ceil(big.block_rows) % 2, 0, "{big:?}");
    }
}
