//! Running activation ranges (HAWQ-V3 §1.2), shared by post-training calibration and QAT.
//!
//! An observer sees float activation batches and keeps one `[min, max]` per tensor. Turning the
//! range into a scale is the job of [`ActFormat::scale_for_range`](crate::ActFormat), which is
//! also where the unsigned formats force the lower bound to 0.
//!
//! **Initialisation.** The reference initialises its buffers whenever `x_min == x_max` (both
//! start at 0, so the first batch initialises). We initialise on the first observed batch via
//! an explicit batch counter instead, because the equality test has side effects the reference
//! never intended: a tensor that is constant for one batch (e.g. an all-zero ReLU output) makes
//! the *next* batch overwrite the range instead of averaging into it, a range restored from a
//! checkpoint with `min == max` is thrown away, and the state depends on float equality rather
//! than on how many batches were seen. The two rules differ only after a constant batch.

use crate::quantizer::{ActFormat, QuantError};
use crate::select::{clamp_rank, decimal_f64, two_order_stats};
use serde::{Deserialize, Serialize};

/// The EMA momentum used by every published HAWQ-V3 command (weight on the *old* value).
pub const DEFAULT_MOMENTUM: f32 = 0.99;

/// How batch statistics are folded into the running range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ObserverKind {
    /// Exponential moving average of batch min/max: `new = m·old + (1−m)·batch`, `m ∈ [0, 1]`.
    Ema {
        /// Weight on the old value (0.99 in the reference's commands).
        momentum: f32,
    },
    /// Running extremes: `min = min(min, batch_min)`, `max = max(max, batch_max)`.
    MinMax,
    /// Batch percentiles instead of extremes, folded with an EMA of [`DEFAULT_MOMENTUM`].
    /// With `k ≈ round_half_even(N·p/100)` (see [`activation_percentile_ranks`]), the batch
    /// maximum is the `k`-th smallest value and the batch minimum the `k`-th largest.
    /// `p ∈ (50, 100]`.
    Percentile {
        /// Percentile in `(50, 100]`, e.g. 99.9.
        p: f32,
    },
}

impl Default for ObserverKind {
    fn default() -> Self {
        ObserverKind::Ema { momentum: DEFAULT_MOMENTUM }
    }
}

impl ObserverKind {
    /// Checks the parameters: momentum in `[0, 1]`, percentile in `(50, 100]`.
    pub fn check(self) -> Result<Self, QuantError> {
        match self {
            ObserverKind::Ema { momentum } if !(0.0..=1.0).contains(&momentum) => {
                Err(QuantError::InvalidParameter {
                    name: "EMA momentum",
                    value: momentum as f64,
                    expected: "a value in [0, 1]",
                })
            }
            ObserverKind::Percentile { p } if !(p > 50.0 && p <= 100.0) => {
                Err(QuantError::InvalidParameter {
                    name: "activation percentile",
                    value: p as f64,
                    expected: "a value in (50, 100]",
                })
            }
            kind => Ok(kind),
        }
    }
}

/// A per-tensor running `[min, max]` range.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RangeObserver {
    kind: ObserverKind,
    min: f32,
    max: f32,
    batches: u64,
    /// Reused buffer for percentile selection (never serialized).
    #[serde(skip)]
    scratch: Vec<f32>,
}

impl RangeObserver {
    /// A fresh observer that has seen nothing.
    pub fn new(kind: ObserverKind) -> Result<Self, QuantError> {
        Ok(RangeObserver {
            kind: kind.check()?,
            min: 0.0,
            max: 0.0,
            batches: 0,
            scratch: Vec::new(),
        })
    }

    /// An observer resuming from a known range (a checkpoint or a frozen calibration), counted
    /// as one observed batch. `min ≤ max`, both finite.
    pub fn from_range(kind: ObserverKind, min: f32, max: f32) -> Result<Self, QuantError> {
        for (name, v) in [("range minimum", min), ("range maximum", max)] {
            if !v.is_finite() {
                return Err(QuantError::InvalidParameter {
                    name,
                    value: v as f64,
                    expected: "a finite value",
                });
            }
        }
        if min > max {
            return Err(QuantError::InvalidParameter {
                name: "range minimum",
                value: min as f64,
                expected: "a value not above the range maximum",
            });
        }
        Ok(RangeObserver { kind: kind.check()?, min, max, batches: 1, scratch: Vec::new() })
    }

    /// The update rule.
    pub fn kind(&self) -> ObserverKind {
        self.kind
    }

    /// Batches folded in so far (saturating).
    pub fn batches(&self) -> u64 {
        self.batches
    }

    /// The running range, or `None` before the first batch.
    pub fn range(&self) -> Option<(f32, f32)> {
        (self.batches > 0).then_some((self.min, self.max))
    }

    /// The scale of `fmt` for the running range, or `None` before the first batch.
    pub fn scale(&self, fmt: ActFormat) -> Option<f32> {
        self.range().map(|(lo, hi)| fmt.scale_for_range(lo, hi))
    }

    /// Folds one batch (the whole tensor, batch dimension included) into the range.
    ///
    /// Empty or non-finite batches are errors and leave the observer unchanged.
    pub fn observe(&mut self, xs: &[f32]) -> Result<(), QuantError> {
        const WHAT: &str = "activation batch";
        // Deserialised observers skip `new`, so the parameters are checked here as well.
        let kind = self.kind.check()?;
        if xs.is_empty() {
            return Err(QuantError::Empty { what: WHAT });
        }
        if let Some(index) = xs.iter().position(|v| !v.is_finite()) {
            return Err(QuantError::NonFinite { what: WHAT, index });
        }
        let (bmin, bmax) = match kind {
            ObserverKind::Percentile { p } => self.percentile_stats(xs, p),
            ObserverKind::Ema { .. } | ObserverKind::MinMax => xs
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v))),
        };
        if self.batches == 0 {
            (self.min, self.max) = (bmin, bmax);
        } else {
            match kind {
                ObserverKind::MinMax => {
                    self.min = self.min.min(bmin);
                    self.max = self.max.max(bmax);
                }
                ObserverKind::Ema { momentum } => self.ema(momentum, bmin, bmax),
                ObserverKind::Percentile { .. } => self.ema(DEFAULT_MOMENTUM, bmin, bmax),
            }
        }
        self.batches = self.batches.saturating_add(1);
        Ok(())
    }

    /// `old = m·old + (1−m)·batch`, evaluated in f64 and rounded once to f32. Rounding is
    /// monotone, so `min ≤ max` is preserved.
    fn ema(&mut self, momentum: f32, bmin: f32, bmax: f32) {
        let m = momentum as f64;
        let mix = |old: f32, new: f32| (m * old as f64 + (1.0 - m) * new as f64) as f32;
        self.min = mix(self.min, bmin);
        self.max = mix(self.max, bmax);
    }

    /// The batch range from order statistics, with the reference's index rules evaluated the
    /// same way in f64 (its `get_percentile_min_max(x, 100 − p, p)`):
    /// `k_hi = round(N·p·0.01)` and `k_lo = round(N·(1 − (100 − p)·0.01))`, Python `round`
    /// (half to even), each clamped to `1..=N`; the maximum is the `k_hi`-th smallest value and
    /// the minimum the `k_lo`-th largest. For tiny batches with `p` near 50 the two can cross
    /// (e.g. N = 2); they are then returned in order so the range stays well formed.
    fn percentile_stats(&mut self, xs: &[f32], p: f32) -> (f32, f32) {
        let (k_lo, k_hi) = activation_percentile_ranks(xs.len(), p);
        self.scratch.clear();
        self.scratch.extend_from_slice(xs);
        // The k-th largest is the (N − k + 1)-th smallest.
        let (a, b) = two_order_stats(&mut self.scratch, xs.len() - k_lo + 1, k_hi);
        (a.min(b), a.max(b))
    }
}

/// The ranks `(k_lo, k_hi)` used by [`ObserverKind::Percentile`] for a batch of `n ≥ 1` values:
/// the batch minimum is the `k_lo`-th *largest* value, the maximum the `k_hi`-th smallest.
/// `p` is read as its shortest decimal (99.9, not 99.900001525…), as the reference gets it.
pub fn activation_percentile_ranks(n: usize, p: f32) -> (usize, usize) {
    let p = decimal_f64(p);
    let n_f = n as f64;
    let k_hi = (n_f * p * 0.01).round_ties_even();
    let k_lo = (n_f * (1.0 - (100.0 - p) * 0.01)).round_ties_even();
    (clamp_rank(k_lo, n), clamp_rank(k_hi, n))
}
