//! The fused epilogue: bias, dyadic requantization, residual, clamp, narrowing store.
//!
//! For output element `(m, n)` with accumulator `acc = Σ_k a·b`:
//! 1. `acc = acc + bias[n]` (i32, wrapping: the caller proves it cannot overflow; wrapping keeps
//!    every ISA identical even when the proof is missing);
//! 2. raw mode (`requant: None`): store `acc` as i32, nothing else;
//! 3. `y = round(acc · mult[n] / 2^shift[n])`, ties away from zero, exact ([`requantize`],
//!    identical to `hawq_quant::Dyadic::apply`);
//! 4. with a residual `r`: `y = sat(y + round(r[m, n] · r.mult / 2^r.shift))`;
//! 5. `y = clamp(y, lo, hi)` (ReLU and ReLU6 are just `lo`/`hi`), stored as the output kind.

use crate::error::KernelError;

/// Exact `round(x · mult / 2^shift)` with ties away from zero, in i128 (a left shift for
/// `shift ≤ 0`; shifts above 126 act as 126), saturated to i64. Bit-identical to
/// `hawq_quant::Dyadic { mult, shift }.apply(x)`.
pub fn requantize(x: i64, mult: i32, shift: i32) -> i64 {
    let prod = x as i128 * mult as i128;
    let r = if shift >= 1 {
        let s = shift.min(126) as u32;
        let half = 1i128 << (s - 1);
        if prod >= 0 { (prod + half) >> s } else { -((half - prod) >> s) }
    } else {
        // Epilogue validation keeps −shift ≤ 63, so |prod| < 2^63 shifted stays below 2^127.
        prod << shift.unsigned_abs()
    };
    r.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// Shifts accepted anywhere in an epilogue.
const SHIFT_RANGE: std::ops::RangeInclusive<i32> = -63..=255;
/// Shifts the vector epilogues handle; others take the exact scalar route.
pub(crate) const FAST_SHIFTS: std::ops::RangeInclusive<i32> = 1..=62;

/// Where results go: one variant per stored element type. Rows are `row_stride` elements apart.
#[derive(Debug)]
pub enum OutBuf<'a> {
    /// Unsigned 8-bit.
    U8(&'a mut [u8]),
    /// Signed 8-bit.
    I8(&'a mut [i8]),
    /// Signed 16-bit.
    I16(&'a mut [i16]),
    /// Signed 32-bit (also the only kind for raw mode).
    I32(&'a mut [i32]),
    /// Unsigned 4-bit, two per byte, even element index in the low nibble; `row_stride` even.
    U4(&'a mut [u8]),
}

impl OutBuf<'_> {
    /// The representable range of the stored type.
    pub fn range(&self) -> (i64, i64) {
        match self {
            OutBuf::U8(_) => (0, 255),
            OutBuf::I8(_) => (-128, 127),
            OutBuf::I16(_) => (i16::MIN as i64, i16::MAX as i64),
            OutBuf::I32(_) => (i32::MIN as i64, i32::MAX as i64),
            OutBuf::U4(_) => (0, 15),
        }
    }
    /// Capacity in elements.
    fn len(&self) -> usize {
        match self {
            OutBuf::U4(s) => s.len() * 2,
            OutBuf::U8(s) => s.len(),
            OutBuf::I8(s) => s.len(),
            OutBuf::I16(s) => s.len(),
            OutBuf::I32(s) => s.len(),
        }
    }
    /// A reborrow of the elements from `start` on (`start` must be even for U4).
    pub(crate) fn tail(&mut self, start: usize) -> OutBuf<'_> {
        match self {
            OutBuf::U8(s) => OutBuf::U8(&mut s[start..]),
            OutBuf::I8(s) => OutBuf::I8(&mut s[start..]),
            OutBuf::I16(s) => OutBuf::I16(&mut s[start..]),
            OutBuf::I32(s) => OutBuf::I32(&mut s[start..]),
            OutBuf::U4(s) => OutBuf::U4(&mut s[start / 2..]),
        }
    }
    /// Stores an in-range value at element index `i`.
    #[inline]
    pub(crate) fn store(&mut self, i: usize, v: i32) {
        match self {
            OutBuf::U8(s) => s[i] = v as u8,
            OutBuf::I8(s) => s[i] = v as i8,
            OutBuf::I16(s) => s[i] = v as i16,
            OutBuf::I32(s) => s[i] = v,
            OutBuf::U4(s) => {
                let sh = 4 * (i % 2);
                s[i / 2] = (s[i / 2] & !(0x0f << sh)) | (((v as u8) & 0x0f) << sh);
            }
        }
    }
}

/// An output matrix: a buffer and its row stride in elements.
#[derive(Debug)]
pub struct OutView<'a> {
    /// The elements.
    pub data: OutBuf<'a>,
    /// Elements from one row to the next (≥ N).
    pub row_stride: usize,
}

/// Residual values, same NHWC layout as the output.
#[derive(Debug, Clone, Copy)]
pub enum ResidualData<'a> {
    /// 32-bit residual.
    I32(&'a [i32]),
    /// 16-bit residual.
    I16(&'a [i16]),
}

/// A residual input added after requantization, with its own per-tensor dyadic scale.
#[derive(Debug, Clone, Copy)]
pub struct Residual<'a> {
    /// The values.
    pub data: ResidualData<'a>,
    /// Elements from one row to the next (≥ N).
    pub row_stride: usize,
    /// Dyadic multiplier applied to the residual.
    pub mult: i32,
    /// Dyadic shift applied to the residual.
    pub shift: i32,
}

impl Residual<'_> {
    #[inline]
    pub(crate) fn at(&self, m: usize, n: usize) -> i32 {
        match self.data {
            ResidualData::I32(s) => s[m * self.row_stride + n],
            ResidualData::I16(s) => s[m * self.row_stride + n] as i32,
        }
    }
    fn len(&self) -> usize {
        match self.data {
            ResidualData::I32(s) => s.len(),
            ResidualData::I16(s) => s.len(),
        }
    }
}

/// Per-output-channel dyadic scales.
#[derive(Debug, Clone, Copy)]
pub struct Requant<'a> {
    /// Multipliers, one per column.
    pub mult: &'a [i32],
    /// Right shifts, one per column.
    pub shift: &'a [i32],
}

/// The fused epilogue (see the module docs for the exact order of operations).
#[derive(Debug, Clone, Copy)]
pub struct Epilogue<'a> {
    /// One i32 bias per column.
    pub bias: &'a [i32],
    /// `None` = raw mode: store `acc + bias` as i32 (output must be [`OutBuf::I32`], no
    /// residual; `lo`/`hi` are not used).
    pub requant: Option<Requant<'a>>,
    /// Optional residual added after requantization.
    pub residual: Option<Residual<'a>>,
    /// Lower clamp (inclusive); must fit the output type.
    pub lo: i32,
    /// Upper clamp (inclusive); must fit the output type.
    pub hi: i32,
}

impl<'a> Epilogue<'a> {
    /// Raw mode: `acc + bias` stored as i32 (final logits).
    pub fn raw(bias: &'a [i32]) -> Self {
        Epilogue { bias, requant: None, residual: None, lo: i32::MIN, hi: i32::MAX }
    }
    /// Applies ReLU: `lo = max(lo, 0)`.
    pub fn relu(mut self) -> Self {
        self.lo = self.lo.max(0);
        self
    }
    /// Applies ReLU6 with `q6` the quantized 6: `lo = max(lo, 0)`, `hi = min(hi, q6)`.
    pub fn relu6(mut self, q6: i32) -> Self {
        self.lo = self.lo.max(0);
        self.hi = self.hi.min(q6);
        self
    }

    /// The epilogue for columns `c0..c0+len` (per-channel arrays and residual shifted).
    pub(crate) fn columns(&self, c0: usize, len: usize) -> Epilogue<'a> {
        let sl = |s: &'a [i32]| &s[c0..c0 + len];
        Epilogue {
            bias: sl(self.bias),
            requant: self.requant.map(|r| Requant { mult: sl(r.mult), shift: sl(r.shift) }),
            residual: self.residual.map(|r| Residual {
                data: match r.data {
                    ResidualData::I32(s) => ResidualData::I32(&s[c0.min(s.len())..]),
                    ResidualData::I16(s) => ResidualData::I16(&s[c0.min(s.len())..]),
                },
                ..r
            }),
            ..*self
        }
    }

    /// Checks every slice and range against an `m × n` output; returns whether the vector
    /// epilogues may be used (all shifts in 1..=62).
    pub(crate) fn validate(
        &self,
        m: usize,
        n: usize,
        out: &OutView<'_>,
    ) -> Result<bool, KernelError> {
        let bad = |s: String| Err(KernelError::BadEpilogue(s));
        if self.bias.len() != n {
            return Err(KernelError::BadLength {
                what: "epilogue bias",
                needed: n,
                got: self.bias.len(),
            });
        }
        let mut fast = true;
        match &self.requant {
            None => {
                if !matches!(out.data, OutBuf::I32(_)) {
                    return bad("raw mode (no requant) stores i32 only".into());
                }
                if self.residual.is_some() {
                    return bad("raw mode (no requant) takes no residual".into());
                }
            }
            Some(rq) => {
                for (what, s) in [("epilogue mult", rq.mult), ("epilogue shift", rq.shift)] {
                    if s.len() != n {
                        return Err(KernelError::BadLength { what, needed: n, got: s.len() });
                    }
                }
                if let Some((c, s)) =
                    rq.shift.iter().enumerate().find(|(_, s)| !SHIFT_RANGE.contains(s))
                {
                    return bad(format!("shift {s} of column {c} is outside {SHIFT_RANGE:?}"));
                }
                fast &= rq.shift.iter().all(|s| FAST_SHIFTS.contains(s));
                let (tlo, thi) = out.data.range();
                if self.lo > self.hi || (self.lo as i64) < tlo || (self.hi as i64) > thi {
                    return bad(format!(
                        "clamp [{}, {}] is empty or exceeds the output range [{tlo}, {thi}]",
                        self.lo, self.hi
                    ));
                }
            }
        }
        if let Some(r) = &self.residual {
            if !SHIFT_RANGE.contains(&r.shift) {
                return bad(format!("residual shift {} is outside {SHIFT_RANGE:?}", r.shift));
            }
            fast &= FAST_SHIFTS.contains(&r.shift);
            check_matrix("residual", m, n, r.row_stride, r.len())?;
        }
        if matches!(out.data, OutBuf::U4(_)) && !out.row_stride.is_multiple_of(2) {
            return bad(format!("u4 output needs an even row stride, got {}", out.row_stride));
        }
        check_matrix("output", m, n, out.row_stride, out.data.len())?;
        Ok(fast)
    }

    /// The scalar epilogue of one element: `acc` already includes the bias.
    #[inline]
    pub(crate) fn finish(&self, acc: i32, m: usize, n: usize) -> i32 {
        let Some(rq) = &self.requant else { return acc };
        let mut y = requantize(acc as i64, rq.mult[n], rq.shift[n]);
        if let Some(r) = &self.residual {
            y = y.saturating_add(requantize(r.at(m, n) as i64, r.mult, r.shift));
        }
        y.clamp(self.lo as i64, self.hi as i64) as i32
    }
}

/// Checks that a `rows × cols` matrix with `stride` fits in `len` elements.
pub(crate) fn check_matrix(
    what: &'static str,
    rows: usize,
    cols: usize,
    stride: usize,
    len: usize,
) -> Result<(), KernelError> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    if stride < cols {
        return Err(KernelError::BadStride { what, stride, len: cols });
    }
    let needed = (rows - 1)
        .checked_mul(stride)
        .and_then(|x| x.checked_add(cols))
        .ok_or(KernelError::SizeOverflow(what))?;
    if len < needed {
        return Err(KernelError::BadLength { what, needed, got: len });
    }
    Ok(())
}
