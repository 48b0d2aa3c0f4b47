//! What a report holds: plain numbers, serialisable as JSON so a report can be re-rendered
//! (`hawq report results.json`) without re-running the pipeline.

use crate::error::{ReportError, Result};
use serde::{Deserialize, Serialize};

/// One pipeline run: the results table and the per-layer detail behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Page title.
    pub title: String,
    /// The model as given (path or zoo name).
    pub model: String,
    /// The data as given (e.g. `fmnist-subset`).
    pub data: String,
    /// Images every accuracy was measured on.
    pub eval_images: usize,
    /// Kernel set of the fast integer engine (e.g. `avx2`).
    pub isa: String,
    /// Worker threads of the accuracy runs (latency is measured on one thread, batch 1).
    pub threads: usize,
    /// One row per model variant (FP32, INT8, mixed, INT4, ...).
    pub results: Vec<ModelResult>,
    /// Per weight layer sensitivity and the mixed-precision choice, in network order.
    #[serde(default)]
    pub layers: Vec<LayerSensitivity>,
    /// Per-layer latency of each integer variant (empty when not measured).
    #[serde(default)]
    pub latency: Vec<LatencyProfile>,
    /// The size Pareto front of the allocator (empty when not computed).
    #[serde(default)]
    pub pareto: Vec<ParetoPoint>,
    /// Free-form remarks shown at the end (method choices, caveats).
    #[serde(default)]
    pub notes: Vec<String>,
    /// Wall time of the whole pipeline in seconds.
    #[serde(default)]
    pub wall_seconds: Option<f64>,
}

/// One model variant of the results table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelResult {
    /// Short name (`FP32`, `INT8`, `mixed`, `INT4`).
    pub name: String,
    /// How it was made (e.g. "size α = 0.5: 12 of 22 layers at 4 bits").
    pub description: String,
    /// Top-1 accuracy as a fraction.
    pub top1: f64,
    /// Conv/linear weight storage in MB (10⁶ bytes) at the variant's bit widths.
    pub size_mb: f64,
    /// Bit operations `Σ MACs · b_w · b_a` of one image.
    pub bops: f64,
    /// Median latency of one image (batch 1) in milliseconds.
    pub latency_ms: Option<f64>,
    /// Fast engine against the reference engine, when checked.
    pub bit_exact: Option<BitExact>,
}

/// The outcome of comparing the fast engine's integers with the reference engine's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitExact {
    /// Images in the compared batch.
    pub images: usize,
    /// Integers compared (every output element of the batch).
    pub compared: usize,
    /// How many differed.
    pub mismatches: usize,
}

impl BitExact {
    /// Whether every integer matched.
    pub fn is_exact(&self) -> bool {
        self.mismatches == 0 && self.compared > 0
    }
}

/// One weight layer: its Hessian trace, its sensitivity `Ω(b) = trace · ‖Q_b(W) − W‖²` at 4
/// and 8 bits, and the bits the allocator chose for the mixed model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSensitivity {
    /// Weight name.
    pub name: String,
    /// Number of weights.
    pub params: u64,
    /// Multiply-accumulates of one image.
    pub macs: u64,
    /// Average Hessian trace.
    pub trace: f64,
    /// `Ω(4)`.
    pub omega4: f64,
    /// `Ω(8)`.
    pub omega8: f64,
    /// Bits chosen for the mixed model.
    pub bits: Option<u32>,
    /// Whether the bits were fixed rather than chosen (first and last layers).
    #[serde(default)]
    pub pinned: bool,
}

/// Per-layer latency of one model variant on the fast engine (batch 1, medians).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyProfile {
    /// Variant name, as in [`ModelResult::name`].
    pub model: String,
    /// `(layer, ms)` in execution order.
    pub layers: Vec<(String, f64)>,
    /// Time outside every layer (input quantization, dequantization, dispatch).
    pub overhead_ms: f64,
    /// Median of whole runs.
    pub total_ms: f64,
}

/// One point of the allocator's size sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParetoPoint {
    /// Budget fraction α between the all-4-bit (0) and all-8-bit (1) size.
    pub alpha: f64,
    /// Weight size of the allocation in MB.
    pub size_mb: f64,
    /// Bit operations of the allocation.
    pub bops: f64,
    /// Total sensitivity `Σ Ω` the allocation reaches (what the ILP minimises).
    pub objective: f64,
    /// Layers at 4 bits.
    pub layers_4bit: usize,
    /// Whether this is the allocation the mixed model uses.
    #[serde(default)]
    pub chosen: bool,
}

impl Report {
    /// Parses a report written by [`Report::to_json`]; `source` names it in errors.
    pub fn from_json(text: &str, source: &str) -> Result<Report> {
        let r: Report = serde_json::from_str(text)
            .map_err(|e| ReportError::Json { what: source.to_string(), source: e })?;
        r.validate(source)?;
        Ok(r)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self)
            .map_err(|e| ReportError::Json { what: "report".into(), source: e })
    }

    /// Checks what the renderers rely on: finite, non-negative numbers and at least one
    /// result row.
    pub fn validate(&self, source: &str) -> Result<()> {
        let bad = |field: String, detail: &str| ReportError::Invalid {
            what: source.to_string(),
            detail: format!("{field}: {detail}"),
        };
        if self.results.is_empty() {
            return Err(bad("results".into(), "no model rows"));
        }
        let mut numbers: Vec<(String, f64)> = Vec::new();
        for r in &self.results {
            numbers.push((format!("results[{}].top1", r.name), r.top1));
            numbers.push((format!("results[{}].size_mb", r.name), r.size_mb));
            numbers.push((format!("results[{}].bops", r.name), r.bops));
            numbers.extend(r.latency_ms.map(|v| (format!("results[{}].latency_ms", r.name), v)));
            if !(0.0..=1.0).contains(&r.top1) {
                return Err(bad(format!("results[{}].top1", r.name), "not a fraction in [0, 1]"));
            }
        }
        for l in &self.layers {
            numbers.push((format!("layers[{}].trace", l.name), l.trace));
            numbers.push((format!("layers[{}].omega4", l.name), l.omega4));
            numbers.push((format!("layers[{}].omega8", l.name), l.omega8));
        }
        for p in &self.latency {
            numbers.extend(p.layers.iter().map(|(n, v)| (format!("latency[{}].{n}", p.model), *v)));
            numbers.push((format!("latency[{}].total_ms", p.model), p.total_ms));
        }
        for p in &self.pareto {
            numbers.push((format!("pareto[α={}].size_mb", p.alpha), p.size_mb));
            numbers.push((format!("pareto[α={}].objective", p.alpha), p.objective));
        }
        match numbers.into_iter().find(|(_, v)| !v.is_finite() || *v < 0.0) {
            Some((field, v)) => {
                Err(bad(field, &format!("{v} is not a finite non-negative number")))
            }
            None => Ok(()),
        }
    }

    /// Layer name without the `.weight` suffix, for labels.
    pub fn short_name(name: &str) -> &str {
        name.strip_suffix(".weight").unwrap_or(name)
    }
}

/// Column titles of the results table, matching [`ModelResult::cells`].
pub const RESULT_HEADER: [&str; 6] =
    ["model", "top-1 %", "weights MB", "GBOPs", "latency ms (batch 1)", "bit-exact"];

/// A count with an SI prefix: `1.24 G`, `310 k`.
pub fn si(v: f64) -> String {
    let (d, s) = match v.abs() {
        x if x >= 1e12 => (1e12, " T"),
        x if x >= 1e9 => (1e9, " G"),
        x if x >= 1e6 => (1e6, " M"),
        x if x >= 1e3 => (1e3, " k"),
        _ => return format!("{v}"),
    };
    format!("{:.3}{s}", v / d)
}

impl ModelResult {
    /// The row's cells, in [`RESULT_HEADER`] order.
    pub fn cells(&self) -> [String; 6] {
        [
            self.name.clone(),
            format!("{:.2}", self.top1 * 100.0),
            format!("{:.3}", self.size_mb),
            format!("{:.3}", self.bops / 1e9),
            self.latency_ms.map_or_else(|| "—".into(), |v| format!("{v:.3}")),
            match &self.bit_exact {
                None => "—".into(),
                Some(b) if b.is_exact() => format!("yes ({} images)", b.images),
                Some(b) => format!("NO: {} of {} integers differ", b.mismatches, b.compared),
            },
        ]
    }
}
