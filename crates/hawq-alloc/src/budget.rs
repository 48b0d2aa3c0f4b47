//! Budgets on model size, bit operations and latency, and their text form.
//!
//! A budget is either a fraction `α ∈ [0, 1]` of the way from the all-lowest-width total to the
//! all-highest-width total (HAWQ-V3's `L = T4 + α(T8 − T4)`), or an absolute value with a unit.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{AllocError, Result};

/// The resource a budget limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetKind {
    /// Weight storage in bytes, `Σ params · b / 8`.
    Size,
    /// Bit operations, `Σ MACs · b²` (weights and activations share the width).
    Bops,
    /// Latency in milliseconds, `Σ latency_ms[b]`.
    Latency,
}

impl BudgetKind {
    /// All kinds, in a fixed order.
    pub const ALL: [BudgetKind; 3] = [BudgetKind::Size, BudgetKind::Bops, BudgetKind::Latency];

    /// The units a budget of this kind accepts, with their value in base units
    /// (bytes, BOPs, milliseconds). Matching ignores ASCII case.
    fn units(self) -> &'static [(&'static str, f64)] {
        match self {
            BudgetKind::Size => &[
                ("B", 1.0),
                ("kB", 1e3),
                ("MB", 1e6),
                ("GB", 1e9),
                ("KiB", 1024.0),
                ("MiB", 1048576.0),
                ("GiB", 1073741824.0),
            ],
            BudgetKind::Bops => {
                &[("BOPs", 1.0), ("kBOPs", 1e3), ("MBOPs", 1e6), ("GBOPs", 1e9), ("TBOPs", 1e12)]
            }
            BudgetKind::Latency => {
                &[("s", 1e3), ("ms", 1.0), ("us", 1e-3), ("µs", 1e-3), ("μs", 1e-3), ("ns", 1e-6)]
            }
        }
    }

    /// Renders `value` (in base units) with the unit that suits `scale`, using `decimals`.
    fn format_with(self, value: f64, scale: f64, decimals: usize) -> String {
        let (unit, factor) = match self {
            BudgetKind::Size => {
                pick_unit(scale, &[("B", 1.0), ("kB", 1e3), ("MB", 1e6), ("GB", 1e9)])
            }
            BudgetKind::Bops => pick_unit(
                scale,
                &[("BOPs", 1.0), ("kBOPs", 1e3), ("MBOPs", 1e6), ("GBOPs", 1e9), ("TBOPs", 1e12)],
            ),
            BudgetKind::Latency => pick_unit(scale, &[("us", 1e-3), ("ms", 1.0)]),
        };
        format!("{:.*} {unit}", decimals, value / factor)
    }

    /// Formats two values of this kind with one unit and just enough decimals that they read
    /// differently when they differ (so an infeasibility message never says "3.4 MB < 3.4 MB").
    pub fn format_pair(self, a: f64, b: f64) -> (String, String) {
        let scale = a.abs().max(b.abs());
        let mut decimals = 1;
        loop {
            let (fa, fb) =
                (self.format_with(a, scale, decimals), self.format_with(b, scale, decimals));
            if fa != fb || a == b || decimals >= 12 {
                return (fa, fb);
            }
            decimals += 1;
        }
    }

    /// Formats one value of this kind with a fitting unit.
    pub fn format(self, value: f64) -> String {
        self.format_with(value, value.abs(), 3)
    }
}

/// Picks the largest unit not above `scale` (the smallest one for tiny values).
fn pick_unit(scale: f64, units: &[(&'static str, f64)]) -> (&'static str, f64) {
    // Every caller passes a non-empty constant list.
    let mut chosen = units[0];
    for &u in units {
        if scale >= u.1 {
            chosen = u;
        }
    }
    chosen
}

impl fmt::Display for BudgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetKind::Size => "size",
            BudgetKind::Bops => "BOPs",
            BudgetKind::Latency => "latency",
        })
    }
}

/// How a budget's limit is stated.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    /// `α ∈ [0, 1]`: `L = T_low + α (T_high − T_low)` over the table's layers.
    Fraction(f64),
    /// An absolute value in base units: bytes, BOPs or milliseconds.
    Absolute(f64),
}

/// One budget: a resource and its limit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    /// The limited resource.
    pub kind: BudgetKind,
    /// The limit.
    pub limit: Limit,
}

impl Budget {
    /// A fractional budget; `alpha` is checked when the budget is resolved against a table.
    pub fn fraction(kind: BudgetKind, alpha: f64) -> Self {
        Budget { kind, limit: Limit::Fraction(alpha) }
    }

    /// An absolute budget in base units (bytes, BOPs, milliseconds).
    pub fn absolute(kind: BudgetKind, value: f64) -> Self {
        Budget { kind, limit: Limit::Absolute(value) }
    }
}

/// Parses a budget such as `0.5`, `12MB`, `1.5 GiB`, `150GBOPs` or `800us`.
///
/// A bare number in `[0, 1]` is a fraction; a bare number above 1 is rejected because its unit
/// would be a guess. Units are decimal (`kB` = 1000 B) unless binary (`MiB`).
pub fn parse_budget(kind: BudgetKind, text: &str) -> Result<Budget> {
    let fail = |reason: String| AllocError::BudgetSyntax { kind, input: text.to_string(), reason };
    let accepted = || kind.units().iter().map(|(u, _)| *u).collect::<Vec<_>>().join(", ");
    let trimmed = text.trim();
    let split = number_end(trimmed);
    let (number, unit) = (&trimmed[..split], trimmed[split..].trim());
    let value: f64 = number.parse().map_err(|_| fail(format!("`{number}` is not a number")))?;
    if !value.is_finite() || value < 0.0 {
        return Err(fail("the value must be a finite number >= 0".to_string()));
    }
    if unit.is_empty() {
        if value <= 1.0 {
            return Ok(Budget::fraction(kind, value));
        }
        return Err(fail(format!(
            "a number without a unit is a fraction in [0, 1]; for an absolute {kind} budget add one of the units {}",
            accepted()
        )));
    }
    let factor = kind
        .units()
        .iter()
        .find(|(u, _)| u.eq_ignore_ascii_case(unit))
        .map(|(_, f)| *f)
        .ok_or_else(|| {
        fail(format!("unknown unit `{unit}`; accepted units are {}", accepted()))
    })?;
    Ok(Budget::absolute(kind, value * factor))
}

/// Byte index where the leading decimal number of `s` ends (an exponent `e` counts only when
/// a digit or sign follows it, so units never get swallowed).
fn number_end(s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let exponent = (c == b'e' || c == b'E')
            && i > 0
            && bytes.get(i + 1).is_some_and(|n| n.is_ascii_digit() || *n == b'-' || *n == b'+');
        let sign = (c == b'-' || c == b'+') && (i == 0 || matches!(bytes[i - 1], b'e' | b'E'));
        if c.is_ascii_digit() || c == b'.' || exponent || sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_end_stops_before_units() {
        assert_eq!(number_end("12MB"), 2);
        assert_eq!(number_end("1.5e3 kB"), 5);
        assert_eq!(number_end("3.5ms"), 3);
        assert_eq!(number_end("2e-1"), 4);
        assert_eq!(number_end("7EB"), 1);
    }

    #[test]
    fn pair_formatting_adds_digits_until_values_differ() {
        let (a, b) = BudgetKind::Size.format_pair(3_400_000.0, 3_410_000.0);
        assert_eq!((a.as_str(), b.as_str()), ("3.40 MB", "3.41 MB"));
        let (a, b) = BudgetKind::Latency.format_pair(0.5, 0.25);
        assert_eq!((a.as_str(), b.as_str()), ("500.0 us", "250.0 us"));
    }
}
