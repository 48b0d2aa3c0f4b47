//! The input table: one row per weight layer, with its size, MACs, Hessian trace, quantization
//! perturbation per bit width and (optionally) measured latency per bit width.
//!
//! JSON form:
//! `{"layers":[{"name":"s1u1c1","params":4096,"macs":12845056,"trace":0.12,
//!   "delta":{"4":1e-3,"8":4e-6},"latency_ms":{"4":0.2,"8":0.3},"pin":8}],"tie":[["a","b"]]}`
//! where `latency_ms`, `pin` and `tie` are optional, and so are the provenance fields
//! `trace_stderr` (standard error of a stochastic trace estimate) and `method` (how the trace
//! was obtained, e.g. `exact-gauss-newton` or `hutchinson`), which the allocator ignores.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// One weight layer of the allocation problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layer {
    /// Unique layer name (the module name in the bit config).
    pub name: String,
    /// Number of weights.
    pub params: u64,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Average Hessian trace `Tr(H_i)/n_i`.
    pub trace: f64,
    /// Quantization perturbation `||Q_b(W) − W||²` per offered bit width `b`. Its keys are the
    /// widths this layer may take.
    pub delta: BTreeMap<u32, f64>,
    /// Measured latency in milliseconds per bit width (same keys as `delta`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<BTreeMap<u32, f64>>,
    /// A fixed bit width for this layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<u32>,
    /// Standard error of `trace` when it is a stochastic estimate (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_stderr: Option<f64>,
    /// How `trace` was computed (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl Layer {
    /// Sensitivity `Ω(b) = trace · delta[b]`, or `None` when `b` is not offered.
    pub fn omega(&self, bits: u32) -> Option<f64> {
        self.delta.get(&bits).map(|d| self.trace * d)
    }

    /// Weight storage in bytes at `bits` per weight.
    pub fn size_bytes(&self, bits: u32) -> f64 {
        self.params as f64 * f64::from(bits) / 8.0
    }

    /// Bit operations at `bits` for both weights and activations: `MACs · b²`.
    pub fn bops(&self, bits: u32) -> f64 {
        self.macs as f64 * f64::from(bits) * f64::from(bits)
    }
}

/// The whole table: layers plus groups of layers that must share a bit width.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerTable {
    /// The layers, in network order.
    pub layers: Vec<Layer>,
    /// Groups (usually pairs) of layer names that must take equal bit widths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tie: Vec<Vec<String>>,
}

impl LayerTable {
    /// Parses a table from JSON. Structure only; [`crate::Model::new`] validates the content.
    pub fn from_json(text: &str) -> Result<Self> {
        Ok(serde_json::from_str(text)?)
    }

    /// Writes the table as compact JSON.
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self)?)
    }

    /// Whether every layer carries a latency table.
    pub fn has_latency(&self) -> bool {
        self.layers.iter().all(|l| l.latency_ms.is_some())
    }
}
