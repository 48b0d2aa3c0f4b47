//! Weights packed once, at load time, into the layout every GEMM kernel reads.
//!
//! Layout: columns (output channels) are cut into panels of [`PANEL_COLS`] = 32; within a panel,
//! K is cut into groups of 4. For panel `p` and group `g` the 128 bytes
//! `data[(p·K4 + g)·128 ..]` hold, for each column `j` in 0..32, the four weights
//! `b[4g..4g+4, 32p + j]` in K order: exactly the operand `vpdpbusd` wants (16 columns × 4 bytes
//! per zmm). Columns past N and rows past K are zero, so kernels run whole panels and groups.
//!
//! 4-bit weights (values in −8..=7) are held in the same i8 layout; their packed memory form,
//! two per byte, puts the **even** index in the **low** nibble ([`pack_i4`], [`unpack_i4`]).

use crate::error::KernelError;

/// Columns per panel.
pub const PANEL_COLS: usize = 32;
/// K values per group (the `vpdpbusd` dot-product width).
pub const K_GROUP: usize = 4;

/// Bit width of the weight values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightBits {
    /// Values in −128..=127.
    B8,
    /// Values in −8..=7.
    B4,
}

impl WeightBits {
    fn bits(self) -> u32 {
        match self {
            WeightBits::B8 => 8,
            WeightBits::B4 => 4,
        }
    }
    fn contains(self, v: i8) -> bool {
        match self {
            WeightBits::B8 => true,
            WeightBits::B4 => (-8..=7).contains(&v),
        }
    }
}

/// A K×N weight matrix in the kernels' panel layout, with per-column sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedWeights {
    n: usize,
    k: usize,
    bits: WeightBits,
    data: Vec<i8>,
    /// `-128 · Σ_k b[k, n]` per column (padded to whole panels): the correction for i8
    /// activations that the VNNI kernel offsets by +128 to make them u8.
    neg128_colsum: Vec<i32>,
}

impl PackedWeights {
    /// Packs `w` given as N rows of K (`w[n·k + kk]` = weight of output `n`, reduction index `kk`).
    pub fn from_nk(w: &[i8], n: usize, k: usize, bits: WeightBits) -> Result<Self, KernelError> {
        let len = n.checked_mul(k).ok_or(KernelError::SizeOverflow("weights n·k"))?;
        if w.len() != len {
            return Err(KernelError::BadLength {
                what: "weights (n×k)",
                needed: len,
                got: w.len(),
            });
        }
        Self::build(n, k, bits, |kk, nn| w[nn * k + kk])
    }

    /// Packs 4-bit weights stored two per byte (even index in the low nibble), N rows of K.
    pub fn from_i4_nk(packed: &[u8], n: usize, k: usize) -> Result<Self, KernelError> {
        let len = n.checked_mul(k).ok_or(KernelError::SizeOverflow("weights n·k"))?;
        Self::from_nk(&unpack_i4(packed, len)?, n, k, WeightBits::B4)
    }

    /// Packs `w` given as K rows of N (`w[kk·n + nn]`).
    pub fn from_kn(w: &[i8], k: usize, n: usize, bits: WeightBits) -> Result<Self, KernelError> {
        let len = n.checked_mul(k).ok_or(KernelError::SizeOverflow("weights k·n"))?;
        if w.len() != len {
            return Err(KernelError::BadLength {
                what: "weights (k×n)",
                needed: len,
                got: w.len(),
            });
        }
        Self::build(n, k, bits, |kk, nn| w[kk * n + nn])
    }

    /// Packs conv weights in OIHW order (`[o][i][kh][kw]`) as a GEMM with N = `o` and K in
    /// NHWC im2col order `(kh, kw, i)`.
    pub fn from_oihw(
        w: &[i8],
        [o, i, kh, kw]: [usize; 4],
        bits: WeightBits,
    ) -> Result<Self, KernelError> {
        let k = [i, kh, kw]
            .into_iter()
            .try_fold(1usize, |a, b| a.checked_mul(b))
            .ok_or(KernelError::SizeOverflow("weights i·kh·kw"))?;
        let len = o.checked_mul(k).ok_or(KernelError::SizeOverflow("weights o·i·kh·kw"))?;
        if w.len() != len {
            return Err(KernelError::BadLength {
                what: "weights (OIHW)",
                needed: len,
                got: w.len(),
            });
        }
        Self::build(o, k, bits, |kk, nn| {
            // kk = (y·kw + x)·i + c  →  OIHW index ((nn·i + c)·kh + y)·kw + x
            let c = kk % i;
            let yx = kk / i;
            let (y, x) = (yx / kw, yx % kw);
            w[((nn * i + c) * kh + y) * kw + x]
        })
    }

    fn build(
        n: usize,
        k: usize,
        bits: WeightBits,
        at: impl Fn(usize, usize) -> i8,
    ) -> Result<Self, KernelError> {
        let panels = n.div_ceil(PANEL_COLS);
        let k4 = k.div_ceil(K_GROUP);
        let bytes = panels
            .checked_mul(k4)
            .and_then(|x| x.checked_mul(PANEL_COLS * K_GROUP))
            .ok_or(KernelError::SizeOverflow("packed weights"))?;
        let mut data = vec![0i8; bytes];
        let mut neg128_colsum = vec![0i32; panels * PANEL_COLS];
        for nn in 0..n {
            let mut sum = 0i32;
            for kk in 0..k {
                let v = at(kk, nn);
                if !bits.contains(v) {
                    return Err(KernelError::WeightOutOfRange {
                        index: nn * k + kk,
                        value: v,
                        bits: bits.bits(),
                    });
                }
                sum += v as i32;
                data[offset(k4, kk, nn)] = v;
            }
            // |Σ| ≤ 128·k; the product wraps only for k ≥ 2^17, where the i32 accumulator
            // itself is the caller's concern; wrapping keeps every ISA identical anyway.
            neg128_colsum[nn] = sum.wrapping_mul(-128);
        }
        Ok(PackedWeights { n, k, bits, data, neg128_colsum })
    }

    /// Number of columns (output channels).
    pub fn n(&self) -> usize {
        self.n
    }
    /// Reduction length.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Declared bit width.
    pub fn bits(&self) -> WeightBits {
        self.bits
    }
    /// The weight `b[kk, nn]`, or `None` outside K×N.
    pub fn get(&self, kk: usize, nn: usize) -> Option<i8> {
        self.view().get(kk, nn)
    }
    /// Number of panels.
    pub(crate) fn panels(&self) -> usize {
        self.n.div_ceil(PANEL_COLS)
    }
    /// All panels, as the kernels see them.
    pub(crate) fn view(&self) -> PanelsView<'_> {
        self.panel_range(0, self.panels())
    }
    /// Panels `p0..p1` (`p0 < p1 ≤ panels`) as a matrix of their own: columns `32·p0..`.
    pub(crate) fn panel_range(&self, p0: usize, p1: usize) -> PanelsView<'_> {
        let len = self.k.div_ceil(K_GROUP) * PANEL_COLS * K_GROUP;
        PanelsView {
            n: self.n.min(p1 * PANEL_COLS) - p0 * PANEL_COLS,
            k: self.k,
            data: &self.data[p0 * len..p1 * len],
            neg128_colsum: &self.neg128_colsum[p0 * PANEL_COLS..p1 * PANEL_COLS],
        }
    }
}

/// A borrowed run of whole panels: what one kernel call multiplies by. Column 0 of the view is
/// the first column of its first panel.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PanelsView<'a> {
    n: usize,
    k: usize,
    data: &'a [i8],
    neg128_colsum: &'a [i32],
}

impl<'a> PanelsView<'a> {
    /// Columns in the view.
    pub(crate) fn n(&self) -> usize {
        self.n
    }
    /// Reduction length.
    pub(crate) fn k(&self) -> usize {
        self.k
    }
    /// Number of 4-groups along K (K rounded up).
    pub(crate) fn k4(&self) -> usize {
        self.k.div_ceil(K_GROUP)
    }
    /// The weight `b[kk, nn]` of the view, or `None` outside it.
    pub(crate) fn get(&self, kk: usize, nn: usize) -> Option<i8> {
        (kk < self.k && nn < self.n).then(|| self.data[offset(self.k4(), kk, nn)])
    }
    /// The packed bytes of panel `p` of the view (K4 groups × 128 bytes).
    pub(crate) fn panel(&self, p: usize) -> &'a [i8] {
        let len = self.k4() * PANEL_COLS * K_GROUP;
        &self.data[p * len..(p + 1) * len]
    }
    /// Number of panels.
    pub(crate) fn panels(&self) -> usize {
        self.n.div_ceil(PANEL_COLS)
    }
    /// `-128·Σ_k b[k, n]`, padded with zeros to whole panels.
    pub(crate) fn neg128_colsum(&self) -> &'a [i32] {
        self.neg128_colsum
    }
}

fn offset(k4: usize, kk: usize, nn: usize) -> usize {
    let (p, j) = (nn / PANEL_COLS, nn % PANEL_COLS);
    let (g, r) = (kk / K_GROUP, kk % K_GROUP);
    ((p * k4 + g) * PANEL_COLS + j) * K_GROUP + r
}

/// Packs 4-bit values (each in −8..=7) two per byte, even index in the low nibble.
pub fn pack_i4(values: &[i8]) -> Result<Vec<u8>, KernelError> {
    let mut out = vec![0u8; values.len().div_ceil(2)];
    for (i, &v) in values.iter().enumerate() {
        if !(-8..=7).contains(&v) {
            return Err(KernelError::WeightOutOfRange { index: i, value: v, bits: 4 });
        }
        out[i / 2] |= ((v as u8) & 0x0f) << (4 * (i % 2));
    }
    Ok(out)
}

/// Unpacks `len` 4-bit values stored two per byte (even index in the low nibble), sign-extended.
pub fn unpack_i4(bytes: &[u8], len: usize) -> Result<Vec<i8>, KernelError> {
    let needed = len.div_ceil(2);
    if bytes.len() < needed {
        return Err(KernelError::BadLength {
            what: "packed 4-bit values",
            needed,
            got: bytes.len(),
        });
    }
    Ok((0..len)
        .map(|i| {
            let nib = (bytes[i / 2] >> (4 * (i % 2))) & 0x0f;
            ((nib << 4) as i8) >> 4
        })
        .collect())
}
