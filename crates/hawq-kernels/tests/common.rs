//! Shared test problem: a random quantized GEMM, a naive reference, and output decoding.

use hawq_kernels::*;
use hawq_quant::Dyadic;

/// The ISAs to exercise: every one this CPU supports (a note for the others). Also checks that
/// `HAWQ_ISA`, when set, resolves to a supported ISA that is in the list.
pub fn isas() -> Vec<Isa> {
    let mut v = Vec::new();
    for i in Isa::ALL {
        if i.is_supported() {
            v.push(i);
        } else {
            eprintln!("note: skipping {i}: not supported by this CPU");
        }
    }
    match isa() {
        Ok(i) => assert!(v.contains(&i)),
        Err(e) => eprintln!("note: HAWQ_ISA refused: {e}"),
    }
    v
}

/// Tiny deterministic generator for sweeps.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    U8,
    I8,
    I16,
    I32,
    U4,
    Raw,
}
pub const KINDS: [Kind; 6] = [Kind::U8, Kind::I8, Kind::I16, Kind::I32, Kind::U4, Kind::Raw];

impl Kind {
    pub fn range(self) -> (i32, i32) {
        match self {
            Kind::U8 => (0, 255),
            Kind::I8 => (-128, 127),
            Kind::I16 => (i16::MIN as i32, i16::MAX as i32),
            Kind::I32 | Kind::Raw => (i32::MIN, i32::MAX),
            Kind::U4 => (0, 15),
        }
    }
}

/// A full GEMM problem with plain (unpacked) data.
#[derive(Debug, Clone)]
pub struct Problem {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub lda: usize,
    pub signed: bool,
    pub a: Vec<i32>,
    pub w_nk: Vec<i8>,
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
    /// (values, row stride, is_i16, mult, shift)
    pub residual: Option<(Vec<i32>, usize, bool, i32, i32)>,
    pub kind: Kind,
    pub lo: i32,
    pub hi: i32,
    pub ldc: usize,
}

impl Problem {
    /// A random problem from a seed; `extreme` pushes values to their limits.
    pub fn random(g: &mut Lcg, m: usize, n: usize, k: usize, kind: Kind, extreme: bool) -> Problem {
        let signed = g.next().is_multiple_of(2);
        let lda = k + (g.next() % 3) as usize;
        let (alo, ahi) = if signed { (-128, 127) } else { (0, 255) };
        let pick = |g: &mut Lcg, lo: i64, hi: i64| -> i64 {
            if extreme && g.next().is_multiple_of(2) {
                if g.next().is_multiple_of(2) { lo } else { hi }
            } else {
                g.range(lo, hi)
            }
        };
        let a = (0..m * lda).map(|_| pick(g, alo, ahi) as i32).collect();
        let w4 = g.next().is_multiple_of(4);
        let w_nk = (0..n * k)
            .map(|_| if w4 { pick(g, -8, 7) as i8 } else { pick(g, -128, 127) as i8 })
            .collect();
        let bias = (0..n)
            .map(|_| {
                if extreme && g.next().is_multiple_of(4) {
                    [i32::MIN, i32::MAX, 0][g.next() as usize % 3]
                } else {
                    g.range(-100_000, 100_000) as i32
                }
            })
            .collect();
        let mult = (0..n).map(|_| g.range(1 << 30, (1 << 31) - 1) as i32).collect();
        let odd_shifts = g.next().is_multiple_of(5);
        let shift = (0..n)
            .map(|_| if odd_shifts { g.range(-3, 70) as i32 } else { g.range(20, 45) as i32 })
            .collect();
        let (lo, hi) = kind.range();
        let (lo, hi) = match g.next() % 3 {
            0 => (lo.max(0), hi),                    // ReLU
            1 => (lo.max(0), hi.min(lo.max(0) + 6)), // ReLU6 with a small q6
            _ => (lo, hi),
        };
        let ldc = n + 2 * (g.next() % 2) as usize;
        let ldc = if kind == Kind::U4 { ldc.div_ceil(2) * 2 } else { ldc };
        let residual = (kind != Kind::Raw && g.next().is_multiple_of(2)).then(|| {
            let is16 = g.next().is_multiple_of(2);
            let rs = n + (g.next() % 3) as usize;
            let (rlo, rhi) = if is16 {
                (i16::MIN as i64, i16::MAX as i64)
            } else {
                (i32::MIN as i64, i32::MAX as i64)
            };
            let vals = (0..m * rs).map(|_| pick(g, rlo, rhi) as i32).collect();
            (vals, rs, is16, g.range(1 << 30, (1 << 31) - 1) as i32, g.range(25, 40) as i32)
        });
        Problem { m, n, k, lda, signed, a, w_nk, bias, mult, shift, residual, kind, lo, hi, ldc }
    }

    /// The expected output through `hawq_quant::Dyadic::apply`, straight from the definition.
    pub fn naive(&self) -> Vec<i64> {
        let mut out = vec![0i64; self.m * self.n];
        for i in 0..self.m {
            for j in 0..self.n {
                let mut acc = 0i32;
                for kk in 0..self.k {
                    acc = acc.wrapping_add(
                        self.a[i * self.lda + kk] * self.w_nk[j * self.k + kk] as i32,
                    );
                }
                let acc = acc.wrapping_add(self.bias[j]);
                out[i * self.n + j] = if self.kind == Kind::Raw {
                    acc as i64
                } else {
                    let mut y =
                        Dyadic { mult: self.mult[j], shift: self.shift[j] }.apply(acc as i64);
                    if let Some((r, rs, _, rm, re)) = &self.residual {
                        let ry = Dyadic { mult: *rm, shift: *re }.apply(r[i * rs + j] as i64);
                        y = y.saturating_add(ry).clamp(i32::MIN as i64, i32::MAX as i64);
                    }
                    y.clamp(self.lo as i64, self.hi as i64)
                };
            }
        }
        out
    }

    pub fn pack(&self) -> PackedWeights {
        PackedWeights::from_nk(&self.w_nk, self.n, self.k, WeightBits::B8).unwrap()
    }

    /// Runs the kernel of `isa` and decodes the output to i64 (m × n).
    pub fn run(&self, isa: Isa, b: &PackedWeights) -> Vec<i64> {
        let a_u8: Vec<u8>;
        let a_i8: Vec<i8>;
        let data = if self.signed {
            a_i8 = self.a.iter().map(|&v| v as i8).collect();
            ActIn::I8(&a_i8)
        } else {
            a_u8 = self.a.iter().map(|&v| v as u8).collect();
            ActIn::U8(&a_u8)
        };
        let act = ActView { data, rows: self.m, row_stride: self.lda };
        let r16: Vec<i16> =
            self.residual.as_ref().map_or(vec![], |r| r.0.iter().map(|&v| v as i16).collect());
        let residual = self.residual.as_ref().map(|(r, rs, is16, rm, re)| Residual {
            data: if *is16 { ResidualData::I16(&r16) } else { ResidualData::I32(r) },
            row_stride: *rs,
            mult: *rm,
            shift: *re,
        });
        let epi = if self.kind == Kind::Raw {
            Epilogue::raw(&self.bias)
        } else {
            Epilogue {
                bias: &self.bias,
                requant: Some(Requant { mult: &self.mult, shift: &self.shift }),
                residual,
                lo: self.lo,
                hi: self.hi,
            }
        };
        let len = if self.m == 0 { 0 } else { (self.m - 1) * self.ldc + self.n };
        let mut out = vec![0i64; self.m * self.n];
        macro_rules! go {
            ($t:ty, $var:ident, $len:expr, $get:expr) => {{
                let mut buf = vec![0 as $t; $len];
                qgemm(
                    isa,
                    &act,
                    b,
                    &epi,
                    OutView { data: OutBuf::$var(&mut buf), row_stride: self.ldc },
                )
                .unwrap();
                for i in 0..self.m {
                    for j in 0..self.n {
                        out[i * self.n + j] = $get(&buf, i * self.ldc + j);
                    }
                }
            }};
        }
        match self.kind {
            Kind::U8 => go!(u8, U8, len, |b: &Vec<u8>, i: usize| b[i] as i64),
            Kind::I8 => go!(i8, I8, len, |b: &Vec<i8>, i: usize| b[i] as i64),
            Kind::I16 => go!(i16, I16, len, |b: &Vec<i16>, i: usize| b[i] as i64),
            Kind::I32 | Kind::Raw => go!(i32, I32, len, |b: &Vec<i32>, i: usize| b[i] as i64),
            Kind::U4 => go!(u8, U4, len.div_ceil(2), |b: &Vec<u8>, i: usize| ((b[i / 2]
                >> (4 * (i % 2)))
                & 15)
                as i64),
        }
        out
    }

    /// Asserts that every supported ISA equals the scalar reference, and that equals `naive`.
    pub fn check_all(&self) {
        let b = self.pack();
        let want = self.naive();
        let scalar = self.run(Isa::Scalar, &b);
        assert_eq!(scalar, want, "scalar vs naive: {self:?}");
        for isa in isas() {
            assert_eq!(
                self.run(isa, &b),
                scalar,
                "{isa} vs scalar: m={} n={} k={} kind={:?}",
                self.m,
                self.n,
                self.k,
                self.kind
            );
        }
    }
}
