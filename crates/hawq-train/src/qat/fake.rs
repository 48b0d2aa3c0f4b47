//! The fake quantizers: float values rounded onto the integer grids the lowering uses, with the
//! integer quantizers of `hawq-quant` doing the rounding wherever one exists, so a fake-quantized
//! weight or bias is exactly the dequantized integer the exported model stores.

use super::sites::{ScaleSource, SiteRounding, Sites};
use crate::error::{Result, TrainError};
use crate::network::FakeQuantHook;
use hawq_quant::observer::RangeObserver;
use hawq_quant::{ActFormat, quantize_bias, quantize_weights};
use std::collections::HashMap;

/// Writes `clamp(round(x / s)) · s` into `y` (`Nearest`: half to even, as
/// [`ActFormat::quantize`]; `Truncate`: toward zero, with a 0.01 guard against quotients like
/// 1.9999999 of an exact 2 — the integer pools divide exactly).
pub fn fake_quant_activation(
    x: &[f32],
    fmt: ActFormat,
    scale: f32,
    rounding: SiteRounding,
    y: &mut [f32],
) {
    let (lo, hi) = fmt.range();
    let (lo, hi) = (lo as f32, hi as f32);
    for (o, &v) in y.iter_mut().zip(x) {
        let r = v / scale;
        let q = match rounding {
            SiteRounding::Nearest => r.round_ties_even(),
            SiteRounding::Truncate => (r + 0.01f32.copysign(r)).trunc(),
        };
        *o = q.clamp(lo, hi) * scale;
    }
}

/// Per-output-channel fake-quantized weights `q_w[c] · s_w[c]` (the integers and scales of
/// [`quantize_weights`]), and the scales.
pub fn fake_quant_weights(
    w: &[f32],
    out_channels: usize,
    bits: u32,
    layer: &str,
) -> Result<(Vec<f32>, Vec<f32>)> {
    let q = quantize_weights(w, out_channels, bits).map_err(|e| quant_error(layer, e))?;
    let per = w.len() / out_channels.max(1);
    let values = q
        .values
        .chunks(per.max(1))
        .zip(&q.scales)
        .flat_map(|(ch, &s)| ch.iter().map(move |&v| v as f32 * s))
        .collect();
    Ok((values, q.scales))
}

/// Fake-quantized int32 bias `q_b[c] · f32(s_in · s_w[c])` ([`quantize_bias`]'s integers).
pub fn fake_quant_bias(bias: &[f32], s_in: f32, s_w: &[f32], layer: &str) -> Result<Vec<f32>> {
    let q = quantize_bias(bias, s_in, s_w).map_err(|e| quant_error(layer, e))?;
    Ok(q.iter().zip(s_w).map(|(&v, &sw)| (v as f64 * (s_in * sw) as f64) as f32).collect())
}

pub(crate) fn quant_error(layer: &str, e: hawq_quant::QuantError) -> TrainError {
    TrainError::Config { what: "fake quantization", detail: format!("layer '{layer}': {e}") }
}

/// The scale of every integer-model value for the current ranges (the lowering's
/// `scale_of`: 32-bit values get a signed 16-bit scale).
pub(crate) fn resolve_scales(
    sites: &Sites,
    observers: &HashMap<String, RangeObserver>,
) -> Result<Vec<f32>> {
    let mut scales = vec![1.0f32; sites.scales.len()];
    for (v, src) in sites.scales.iter().enumerate() {
        scales[v] = match src {
            ScaleSource::Own(name) => {
                let (lo, hi) =
                    observers.get(name).and_then(RangeObserver::range).ok_or_else(|| {
                        TrainError::Config {
                            what: "activation ranges",
                            detail: format!("value '{name}' has no range (calibrate first)"),
                        }
                    })?;
                let fmt = sites.formats[v];
                let scale_fmt = if fmt.bits >= 32 { ActFormat::signed(16) } else { fmt };
                scale_fmt.scale_for_range(lo, hi)
            }
            // Values are numbered in execution order, so `u < v` is resolved already.
            ScaleSource::Same(u) => scales[*u],
            ScaleSource::Unscaled => 1.0,
        };
    }
    Ok(scales)
}

/// The activation fake-quantizer of one forward pass: every site at its value's format and
/// current scale.
pub(crate) struct ActivationQuant<'a> {
    pub sites: &'a Sites,
    pub scales: &'a [f32],
}

impl FakeQuantHook<f32> for ActivationQuant<'_> {
    fn fake_quant(&mut self, site: usize, x: &[f32], y: &mut [f32]) -> Result<()> {
        let s = self.sites.acts.get(site).ok_or_else(|| TrainError::Config {
            what: "fake quantization",
            detail: format!("plan site {site} is unknown to this QAT model"),
        })?;
        let fmt = self.sites.formats[s.value];
        fake_quant_activation(x, fmt, self.scales[s.value], s.rounding, y);
        Ok(())
    }
}
