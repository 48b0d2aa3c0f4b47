//! The quantized GEMM entry point and the per-ISA kernel selection.

use crate::drive::{Task, drive};
use crate::epilogue::{Epilogue, OutBuf, OutView, check_matrix};
use crate::error::KernelError;
use crate::isa::Isa;
use crate::pack::{PANEL_COLS, PackedWeights, PanelsView};

/// Activation elements: unsigned or signed 8-bit.
#[derive(Debug, Clone, Copy)]
pub enum ActIn<'a> {
    /// Unsigned activations (after ReLU).
    U8(&'a [u8]),
    /// Signed activations.
    I8(&'a [i8]),
}

impl<'a> ActIn<'a> {
    /// The raw bytes and whether they are signed.
    pub(crate) fn bytes(self) -> (&'a [u8], bool) {
        match self {
            ActIn::U8(s) => (s, false),
            ActIn::I8(s) => {
                // SAFETY: i8 and u8 have the same size, alignment and validity (every bit
                // pattern), so the same memory reinterpreted as u8 is a valid slice of equal length
                // and lifetime.
                let u = unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<u8>(), s.len()) };
                (u, true)
            }
        }
    }
    fn len(self) -> usize {
        self.bytes().0.len()
    }
}

/// The activation matrix A: `rows` rows of K elements, `row_stride` elements apart.
#[derive(Debug, Clone, Copy)]
pub struct ActView<'a> {
    /// The elements.
    pub data: ActIn<'a>,
    /// Number of rows M.
    pub rows: usize,
    /// Elements from one row to the next (≥ K).
    pub row_stride: usize,
}

/// One block of rows handed to a kernel (already validated).
pub(crate) struct Block<'a> {
    /// Activation bytes, row 0 of the block first.
    pub a: &'a [u8],
    /// Whether the bytes are i8.
    pub signed: bool,
    /// Row stride of `a`.
    pub lda: usize,
    /// Rows in the block.
    pub rows: usize,
    /// Global index of the block's first row (for the residual).
    pub row0: usize,
    /// The weight panels this block multiplies by (column 0 = the block's first column).
    pub b: PanelsView<'a>,
    /// Epilogue (validated for the whole output).
    pub epi: &'a Epilogue<'a>,
    /// All shifts in 1..=62, so the vector epilogue applies.
    pub fast: bool,
}

/// A kernel family proven runnable on this CPU (the checked constructor of each ISA module).
#[derive(Clone, Copy)]
pub(crate) enum Kernel {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2(crate::avx2::Avx2),
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni(crate::avx512vnni::Avx512Vnni),
}

impl Kernel {
    /// The kernels of `isa`, or the typed refusal if this CPU lacks it.
    pub(crate) fn new(isa: Isa) -> Result<Kernel, KernelError> {
        let refuse = || KernelError::IsaUnsupported { requested: isa, best: Isa::best() };
        match isa {
            Isa::Scalar => Ok(Kernel::Scalar),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => crate::avx2::Avx2::try_new().map(Kernel::Avx2).ok_or_else(refuse),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512Vnni => {
                crate::avx512vnni::Avx512Vnni::try_new().map(Kernel::Avx512Vnni).ok_or_else(refuse)
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => Err(refuse()),
        }
    }

    /// Runs one row block; `out` starts at the block's first row.
    pub(crate) fn gemm_block(self, job: &Block<'_>, out: &mut OutBuf<'_>, ldc: usize) {
        match self {
            Kernel::Scalar => crate::generic::gemm_block(job, out, ldc),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2(t) => t.gemm_block(job, out, ldc),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni(t) => t.gemm_block(job, out, ldc),
        }
    }
}

/// `out = epilogue(A · B)`: A is `a.rows × K` (K = `b.k()`), B the packed K×N weights.
///
/// Runs on the current rayon pool, split over blocks of rows, or over column panels when there
/// are few rows (use `ThreadPool::install` to pick the thread count); results are identical for
/// every ISA and thread count.
pub fn qgemm(
    isa: Isa,
    a: &ActView<'_>,
    b: &PackedWeights,
    epi: &Epilogue<'_>,
    out: OutView<'_>,
) -> Result<(), KernelError> {
    let kernel = Kernel::new(isa)?;
    let (m, n, k) = (a.rows, b.n(), b.k());
    if m > 0 && k > 0 {
        check_matrix("activations", m, k, a.row_stride, a.data.len())?;
    }
    let fast = epi.validate(m, n, &out)?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    let (bytes, signed) = a.data.bytes();
    let lda = a.row_stride;
    drive(m, n, k, out, |t, chunk, ldc| {
        // K = 0 may come with an empty A; the kernels then read no bytes.
        let a_rows = bytes.get(t.row0 * lda..).unwrap_or(&[]);
        run_task(kernel, t, a_rows, signed, lda, b, epi, fast, chunk, ldc);
    });
    Ok(())
}

/// Runs one task of a validated GEMM: its rows of `a` (row 0 = the task's first row) times
/// panels `t.p0..t.p1` of `b`; `out` starts at the task's first row and column.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_task(
    kernel: Kernel,
    t: Task,
    a: &[u8],
    signed: bool,
    lda: usize,
    b: &PackedWeights,
    epi: &Epilogue<'_>,
    fast: bool,
    out: &mut OutBuf<'_>,
    ldc: usize,
) {
    let view = b.panel_range(t.p0, t.p1);
    let cols = epi.columns(t.p0 * PANEL_COLS, view.n());
    let job = Block { a, signed, lda, rows: t.rows, row0: t.row0, b: view, epi: &cols, fast };
    kernel.gemm_block(&job, out, ldc);
}
