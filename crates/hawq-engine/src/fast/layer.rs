//! Conv and linear layers on the SIMD kernels: weights packed once at plan time, the whole
//! output stage (bias, per-channel dyadic requantization, residual with its own dyadic,
//! clamp) fused into the kernel's epilogue; final layers in raw accumulator mode.

use super::layout::{Dims, Dst, Src};
use crate::error::{EngineError, Result};
use crate::qmodel::{OutputMode, QLayer};
use hawq_kernels::{
    ActIn, ActView, ConvGeometry, Epilogue, Isa, KernelError, OutBuf, OutView, PackedConv,
    PackedWeights, Requant, Residual, ResidualData, WeightBits, conv2d_nhwc, qgemm,
};

/// Packed weights of one layer.
#[derive(Debug)]
enum Packed {
    /// A conv: geometry with batch 1 (the batch is set per run).
    Conv(ConvGeometry, PackedConv),
    /// A linear layer (`in → out` features).
    Linear(PackedWeights),
}

/// A compiled conv/linear layer.
#[derive(Debug)]
pub struct FastLayer {
    name: String,
    packed: Packed,
    bias: Vec<i32>,
    /// Per-channel requantization (`None` = accumulator mode).
    requant: Option<(Vec<i32>, Vec<i32>)>,
    /// Residual dyadic `(mult, shift)`.
    residual: Option<(i32, i32)>,
    lo: i64,
    hi: i64,
    out_c: usize,
}

fn kernel_err(node: &str) -> impl Fn(KernelError) -> EngineError + '_ {
    move |source| EngineError::Kernel { node: node.to_string(), source }
}

impl FastLayer {
    /// Packs a validated layer that reads `input` and writes `output`.
    pub fn new(node: &str, l: &QLayer, input: Dims) -> Result<FastLayer> {
        let g = &l.geom;
        let bits = if l.bits == 4 { WeightBits::B4 } else { WeightBits::B8 };
        let packed = match input {
            Dims::Flat { f } if l.is_linear => Packed::Linear(
                PackedWeights::from_nk(&l.weights, g.out_channels, f, bits)
                    .map_err(kernel_err(node))?,
            ),
            Dims::Map { h, w, c } if !l.is_linear => {
                let geom = ConvGeometry {
                    batch: 1,
                    in_h: h,
                    in_w: w,
                    in_c: c,
                    out_c: g.out_channels,
                    kernel: g.kernel,
                    stride: g.stride,
                    pad: g.pads,
                    dilation: g.dilation,
                    groups: g.groups,
                };
                let packed = PackedConv::new(&l.weights, &geom, bits).map_err(kernel_err(node))?;
                Packed::Conv(geom, packed)
            }
            _ => {
                return Err(EngineError::InvalidModel {
                    node: node.to_string(),
                    detail: format!("layer input {input:?} does not fit a linear={}", l.is_linear),
                });
            }
        };
        let (requant, residual) = match &l.mode {
            OutputMode::Requantize { requant, residual } => (
                Some((
                    requant.iter().map(|d| d.mult).collect(),
                    requant.iter().map(|d| d.shift).collect(),
                )),
                residual.map(|d| (d.mult, d.shift)),
            ),
            OutputMode::Accumulator => (None, None),
        };
        Ok(FastLayer {
            name: node.to_string(),
            packed,
            bias: l.bias.clone(),
            requant,
            residual,
            lo: l.lo,
            hi: l.hi,
            out_c: g.out_channels,
        })
    }

    fn call(
        &self,
        isa: Isa,
        batch: usize,
        x: ActIn<'_>,
        epi: &Epilogue<'_>,
        out: OutView<'_>,
    ) -> Result<()> {
        match &self.packed {
            Packed::Conv(g, w) => {
                let geom = ConvGeometry { batch, ..*g };
                conv2d_nhwc(isa, &geom, x, w, epi, out)
            }
            Packed::Linear(w) => {
                let act = ActView { data: x, rows: batch, row_stride: w.k() };
                qgemm(isa, &act, w, epi, out)
            }
        }
        .map_err(kernel_err(&self.name))
    }

    /// Runs the layer on `batch` items: `x` (u8/i8), optional residual, into `out`.
    pub fn run(
        &self,
        isa: Isa,
        batch: usize,
        x: Src<'_>,
        residual: Option<Src<'_>>,
        out: Dst<'_>,
    ) -> Result<()> {
        let bad = |detail: &str| EngineError::InvalidModel {
            node: self.name.clone(),
            detail: detail.to_string(),
        };
        let act = match x {
            Src::U8(s) => ActIn::U8(s),
            Src::I8(s) => ActIn::I8(s),
            _ => return Err(bad("a layer input must be a 4- or 8-bit value")),
        };
        let n = self.out_c;
        let Some((mult, shift)) = &self.requant else {
            return self.run_accumulator(isa, batch, act, out);
        };
        // 8-bit residuals are widened once; the kernel reads i16 or i32.
        let widened: Vec<i16>;
        let res_data = match residual {
            None => None,
            Some(Src::I32(s)) => Some(ResidualData::I32(s)),
            Some(Src::I16(s)) => Some(ResidualData::I16(s)),
            Some(Src::U8(s)) => {
                widened = s.iter().map(|&v| v as i16).collect();
                Some(ResidualData::I16(&widened))
            }
            Some(Src::I8(s)) => {
                widened = s.iter().map(|&v| v as i16).collect();
                Some(ResidualData::I16(&widened))
            }
        };
        let residual = match (res_data, self.residual) {
            (Some(data), Some((mult, shift))) => {
                Some(Residual { data, row_stride: n, mult, shift })
            }
            (None, None) => None,
            _ => return Err(bad("residual input and residual multiplier do not match")),
        };
        // lo/hi were validated inside the output format's range, which fits i32.
        let epi = Epilogue {
            bias: &self.bias,
            requant: Some(Requant { mult, shift }),
            residual,
            lo: self.lo as i32,
            hi: self.hi as i32,
        };
        self.call(isa, batch, act, &epi, OutView { data: out_buf(out), row_stride: n })
    }

    /// Raw `acc + bias`, then the layer's clamp (the reference clamps accumulators too).
    fn run_accumulator(&self, isa: Isa, batch: usize, act: ActIn<'_>, out: Dst<'_>) -> Result<()> {
        let n = self.out_c;
        let epi = Epilogue::raw(&self.bias);
        let full = self.lo <= i32::MIN as i64 && self.hi >= i32::MAX as i64;
        match out {
            Dst::I32(o) => {
                self.call(isa, batch, act, &epi, OutView { data: OutBuf::I32(o), row_stride: n })?;
                if !full {
                    o.iter_mut().for_each(|v| *v = (*v as i64).clamp(self.lo, self.hi) as i32);
                }
                Ok(())
            }
            other => {
                let mut acc = vec![0i32; batch * n];
                self.call(
                    isa,
                    batch,
                    act,
                    &epi,
                    OutView { data: OutBuf::I32(&mut acc), row_stride: n },
                )?;
                let (lo, hi) = (self.lo, self.hi);
                super::layout::with_dst!(other, o => o.iter_mut().zip(&acc).for_each(|(d, &v)| {
                    *d = super::layout::Elem::put((v as i64).clamp(lo, hi) as i32)
                }));
                Ok(())
            }
        }
    }
}

fn out_buf(d: Dst<'_>) -> OutBuf<'_> {
    match d {
        Dst::U8(s) => OutBuf::U8(s),
        Dst::I8(s) => OutBuf::I8(s),
        Dst::I16(s) => OutBuf::I16(s),
        Dst::I32(s) => OutBuf::I32(s),
    }
}
