//! The validated problem: a [`LayerTable`] with ties merged into groups and pins applied.
//!
//! Every tie group becomes one decision with a list of candidate widths (the widths all its
//! layers offer), each carrying the group's summed costs. Groups with a pin, or with a single
//! common width, are fixed and only add constants. Nothing here assumes the widths are {4, 8}.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::budget::{Budget, BudgetKind, Limit};
use crate::error::{AllocError, Result};
use crate::table::{Layer, LayerTable};

/// Relative slack (times the largest achievable total) allowed on every budget, so that a limit
/// computed as a sum in another order (α = 1, say) is not missed by rounding.
pub const REL_TOL: f64 = 1e-9;

/// A quantity summed over layers: the objective or a budgeted resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Sensitivity `Σ Ω_i(b_i)`.
    Omega,
    /// Bytes.
    Size,
    /// Bit operations.
    Bops,
    /// Milliseconds.
    Latency,
}

impl Metric {
    /// Number of metrics (the length of [`Choice::cost`]).
    pub const COUNT: usize = 4;

    /// Position in [`Choice::cost`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The metric a budget kind limits.
    pub fn of(kind: BudgetKind) -> Metric {
        match kind {
            BudgetKind::Size => Metric::Size,
            BudgetKind::Bops => Metric::Bops,
            BudgetKind::Latency => Metric::Latency,
        }
    }
}

/// One candidate width of a group with the group's summed costs at that width.
#[derive(Clone, Debug, PartialEq)]
pub struct Choice {
    /// The bit width.
    pub bits: u32,
    /// Costs indexed by [`Metric::index`]; latency is 0 when the table has none.
    pub cost: [f64; Metric::COUNT],
}

/// Layers that must share a width, and the widths they may take (ascending).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// Indices into the table's layers.
    pub layers: Vec<usize>,
    /// Candidate widths, ascending, at least two.
    pub choices: Vec<Choice>,
}

/// A validated table, ready for solving.
#[derive(Clone, Debug)]
pub struct Model {
    names: Vec<String>,
    free: Vec<Group>,
    fixed_bits: Vec<(usize, u32)>,
    fixed_cost: [f64; Metric::COUNT],
    has_latency: bool,
    missing_latency: Vec<String>,
    low: [f64; Metric::COUNT],
    high: [f64; Metric::COUNT],
    scale: [f64; Metric::COUNT],
}

impl Model {
    /// Validates `table` and merges ties. Errors name the offending layers.
    pub fn new(table: &LayerTable) -> Result<Model> {
        if table.layers.is_empty() {
            return Err(AllocError::EmptyTable);
        }
        let mut index = HashMap::new();
        for (i, layer) in table.layers.iter().enumerate() {
            if index.insert(layer.name.as_str(), i).is_some() {
                return Err(AllocError::DuplicateLayer { name: layer.name.clone() });
            }
            check_layer(layer)?;
        }
        let has_latency = table.has_latency();
        let mut parent: Vec<usize> = (0..table.layers.len()).collect();
        for (t, tie) in table.tie.iter().enumerate() {
            if tie.len() < 2 {
                return Err(AllocError::ShortTie { tie: t, count: tie.len() });
            }
            let unknown: Vec<String> =
                tie.iter().filter(|n| !index.contains_key(n.as_str())).cloned().collect();
            if !unknown.is_empty() {
                return Err(AllocError::UnknownTieLayer { tie: t, names: unknown });
            }
            // Every name was just checked to be in `index`.
            let first = find(&mut parent, index[tie[0].as_str()]);
            for name in &tie[1..] {
                let other = find(&mut parent, index[name.as_str()]);
                parent[other.max(first)] = other.min(first);
            }
        }
        let mut members: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for i in 0..table.layers.len() {
            let root = find(&mut parent, i);
            members.entry(root).or_default().push(i);
        }
        let mut model = Model {
            names: table.layers.iter().map(|l| l.name.clone()).collect(),
            free: Vec::new(),
            fixed_bits: Vec::new(),
            fixed_cost: [0.0; Metric::COUNT],
            has_latency,
            missing_latency: table
                .layers
                .iter()
                .filter(|l| l.latency_ms.is_none())
                .map(|l| l.name.clone())
                .collect(),
            low: [0.0; Metric::COUNT],
            high: [0.0; Metric::COUNT],
            scale: [0.0; Metric::COUNT],
        };
        for layers in members.into_values() {
            model.add_group(table, layers)?;
        }
        model.compute_totals();
        Ok(model)
    }

    /// Adds one tie group, fixed or free.
    fn add_group(&mut self, table: &LayerTable, layers: Vec<usize>) -> Result<()> {
        let mut pin: Option<(usize, u32)> = None;
        for &i in &layers {
            if let Some(bits) = table.layers[i].pin {
                match pin {
                    Some((j, other)) if other != bits => {
                        return Err(AllocError::ContradictoryPins {
                            first: self.names[j].clone(),
                            first_bits: other,
                            second: self.names[i].clone(),
                            second_bits: bits,
                        });
                    }
                    Some(_) => {}
                    None => pin = Some((i, bits)),
                }
            }
        }
        // Union-find groups are never empty.
        let mut widths: BTreeSet<u32> = table.layers[layers[0]].delta.keys().copied().collect();
        for &i in &layers[1..] {
            widths.retain(|b| table.layers[i].delta.contains_key(b));
        }
        if let Some((_, bits)) = pin {
            widths.retain(|&b| b == bits);
        }
        let choices: Vec<Choice> = widths
            .iter()
            .map(|&bits| Choice { bits, cost: group_cost(table, &layers, bits, self.has_latency) })
            .collect();
        match choices.len() {
            0 => Err(AllocError::NoCommonWidth {
                layers: layers.iter().map(|&i| self.names[i].clone()).collect(),
                pin: pin.map(|(_, b)| b),
            }),
            1 => {
                for (m, c) in choices[0].cost.iter().enumerate() {
                    self.fixed_cost[m] += c;
                }
                self.fixed_bits.extend(layers.iter().map(|&i| (i, choices[0].bits)));
                Ok(())
            }
            _ => {
                self.free.push(Group { layers, choices });
                Ok(())
            }
        }
    }

    /// Totals at the lowest and highest widths, and the largest achievable totals.
    fn compute_totals(&mut self) {
        for m in 0..Metric::COUNT {
            let (mut low, mut high, mut max) =
                (self.fixed_cost[m], self.fixed_cost[m], self.fixed_cost[m]);
            for g in &self.free {
                // Groups in `free` have at least two choices (see `add_group`).
                low += g.choices[0].cost[m];
                high += g.choices[g.choices.len() - 1].cost[m];
                max += g.choices.iter().map(|c| c.cost[m]).fold(0.0, f64::max);
            }
            self.low[m] = low;
            self.high[m] = high;
            // Costs are >= 0, so `max` bounds every total; keep the tolerance meaningful at 0.
            self.scale[m] = if max > 0.0 { max } else { 1.0 };
        }
    }

    /// The groups whose width is still to be chosen.
    pub fn free_groups(&self) -> &[Group] {
        &self.free
    }

    /// Whether every layer has a latency table.
    pub fn has_latency(&self) -> bool {
        self.has_latency
    }

    /// Sum of the fixed groups' costs for `metric`.
    pub fn fixed_cost(&self, metric: Metric) -> f64 {
        self.fixed_cost[metric.index()]
    }

    /// The largest achievable total of `metric` (1 when every total is 0): the scale of
    /// tolerances and of ILP rows.
    pub fn scale(&self, metric: Metric) -> f64 {
        self.scale[metric.index()]
    }

    /// The total of `metric` when each free group takes choice `picks[g]`, summed in group order
    /// (every caller sums the same way, so equal picks give bit-equal totals).
    pub fn total(&self, metric: Metric, picks: &[usize]) -> f64 {
        let m = metric.index();
        self.free
            .iter()
            .zip(picks)
            .fold(self.fixed_cost[m], |acc, (g, &p)| acc + g.choices[p].cost[m])
    }

    /// Whether `total` of `metric` meets `limit` (with the [`REL_TOL`] slack).
    pub fn fits(&self, metric: Metric, total: f64, limit: f64) -> bool {
        total <= limit + REL_TOL * self.scale(metric)
    }

    /// Turns a budget into an absolute limit in base units.
    pub fn resolve(&self, budget: &Budget) -> Result<f64> {
        if budget.kind == BudgetKind::Latency && !self.has_latency {
            return Err(AllocError::MissingLatency { layers: self.missing_latency.clone() });
        }
        let m = Metric::of(budget.kind).index();
        let bad = |reason: &str, value: f64| AllocError::BudgetSyntax {
            kind: budget.kind,
            input: value.to_string(),
            reason: reason.to_string(),
        };
        match budget.limit {
            Limit::Fraction(a) if (0.0..=1.0).contains(&a) => {
                Ok(self.low[m] + a * (self.high[m] - self.low[m]))
            }
            Limit::Fraction(a) => Err(bad("a fraction must lie in [0, 1]", a)),
            Limit::Absolute(v) if v.is_finite() && v >= 0.0 => Ok(v),
            Limit::Absolute(v) => Err(bad("an absolute budget must be finite and >= 0", v)),
        }
    }

    /// Layer name → width for the given picks (fixed layers included).
    pub fn bits(&self, picks: &[usize]) -> BTreeMap<String, u32> {
        let mut out: BTreeMap<String, u32> =
            self.fixed_bits.iter().map(|&(i, b)| (self.names[i].clone(), b)).collect();
        for (g, &p) in self.free.iter().zip(picks) {
            for &i in &g.layers {
                out.insert(self.names[i].clone(), g.choices[p].bits);
            }
        }
        out
    }
}

/// Union-find root with path halving.
fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Summed costs of `layers` at `bits` (each layer offers `bits`, checked by the caller).
fn group_cost(
    table: &LayerTable,
    layers: &[usize],
    bits: u32,
    with_latency: bool,
) -> [f64; Metric::COUNT] {
    let mut cost = [0.0; Metric::COUNT];
    for &i in layers {
        let layer = &table.layers[i];
        cost[Metric::Omega.index()] += layer.omega(bits).unwrap_or(0.0);
        cost[Metric::Size.index()] += layer.size_bytes(bits);
        cost[Metric::Bops.index()] += layer.bops(bits);
        if with_latency {
            let lat = layer.latency_ms.as_ref().and_then(|l| l.get(&bits)).copied();
            cost[Metric::Latency.index()] += lat.unwrap_or(0.0);
        }
    }
    cost
}

/// Checks one layer's numbers and widths.
fn check_layer(layer: &Layer) -> Result<()> {
    let bad = |field: String, value: f64| AllocError::BadNumber {
        layer: layer.name.clone(),
        field,
        value,
    };
    let widths_err = |reason: String| AllocError::BadWidths { layer: layer.name.clone(), reason };
    if !layer.trace.is_finite() || layer.trace < 0.0 {
        return Err(bad("trace".into(), layer.trace));
    }
    if layer.delta.is_empty() {
        return Err(widths_err("`delta` offers no bit width".into()));
    }
    for (&bits, &d) in &layer.delta {
        if !(1..=32).contains(&bits) {
            return Err(widths_err(format!("bit width {bits} is outside 1..=32")));
        }
        if !d.is_finite() || d < 0.0 {
            return Err(bad(format!("delta[{bits}]"), d));
        }
    }
    if let Some(lat) = &layer.latency_ms {
        if !lat.keys().eq(layer.delta.keys()) {
            return Err(widths_err(format!(
                "`latency_ms` has widths {:?} but `delta` has {:?}",
                lat.keys().collect::<Vec<_>>(),
                layer.delta.keys().collect::<Vec<_>>()
            )));
        }
        for (&bits, &v) in lat {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(format!("latency_ms[{bits}]"), v));
            }
        }
    }
    if let Some(bits) = layer.pin
        && !layer.delta.contains_key(&bits)
    {
        return Err(AllocError::PinNotOffered {
            layer: layer.name.clone(),
            bits,
            offered: layer.delta.keys().copied().collect(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(name: &str, params: u64, widths: &[u32]) -> Layer {
        Layer {
            name: name.into(),
            params,
            macs: params * 10,
            trace: 1.0,
            delta: widths.iter().map(|&b| (b, 1.0 / f64::from(b))).collect(),
            latency_ms: None,
            pin: None,
            trace_stderr: None,
            method: None,
        }
    }

    #[test]
    fn chained_ties_form_one_group_over_common_widths() {
        let table = LayerTable {
            layers: vec![
                layer("a", 8, &[2, 4, 8]),
                layer("b", 16, &[4, 8, 16]),
                layer("c", 8, &[2, 4, 8]),
                layer("d", 8, &[4, 8]),
            ],
            tie: vec![vec!["a".into(), "b".into()], vec!["c".into(), "b".into()]],
        };
        let m = Model::new(&table).unwrap();
        assert_eq!(m.free_groups().len(), 2);
        let g = &m.free_groups()[0];
        assert_eq!(g.layers, vec![0, 1, 2]);
        assert_eq!(g.choices.iter().map(|c| c.bits).collect::<Vec<_>>(), vec![4, 8]);
        // 32 params at 4 bits = 16 bytes; at 8 bits, 32 bytes.
        assert_eq!(
            (g.choices[0].cost[Metric::Size.index()], g.choices[1].cost[Metric::Size.index()]),
            (16.0, 32.0)
        );
        assert_eq!(m.total(Metric::Size, &[1, 0]), 32.0 + 4.0);
        assert_eq!(m.bits(&[0, 1]).values().copied().collect::<Vec<_>>(), vec![4, 4, 4, 8]);
    }

    #[test]
    fn a_single_common_width_fixes_the_group() {
        let mut table = LayerTable {
            layers: vec![layer("a", 8, &[2, 4]), layer("b", 8, &[4, 8]), layer("c", 8, &[4, 8])],
            tie: vec![vec!["a".into(), "b".into()]],
        };
        table.layers[2].pin = Some(8);
        let m = Model::new(&table).unwrap();
        assert!(m.free_groups().is_empty());
        assert_eq!(m.fixed_cost(Metric::Size), 4.0 + 4.0 + 8.0);
        assert_eq!(m.bits(&[]).values().copied().collect::<Vec<_>>(), vec![4, 4, 8]);
        // Nothing is free, so every fraction resolves to the fixed total.
        assert_eq!(m.resolve(&Budget::fraction(BudgetKind::Size, 0.3)).unwrap(), 16.0);
    }

    #[test]
    fn fits_allows_only_the_relative_slack() {
        let table = LayerTable { layers: vec![layer("a", 1000, &[4, 8])], tie: Vec::new() };
        let m = Model::new(&table).unwrap();
        // The largest size is 1000 bytes, so the slack is 1e-6 bytes.
        assert!(m.fits(Metric::Size, 500.0 + 0.9e-6, 500.0));
        assert!(!m.fits(Metric::Size, 500.0 + 1.1e-6, 500.0));
    }
}
