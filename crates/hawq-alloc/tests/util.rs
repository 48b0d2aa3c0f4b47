//! Shared helpers: a seeded random-instance generator and independent budget checks.

use std::collections::BTreeMap;

use hawq_alloc::{Allocation, Budget, BudgetKind, Layer, LayerTable, Limit, Model};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A seeded RNG.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Log-uniform draw in [lo, hi].
pub fn log_uniform(r: &mut StdRng, lo: f64, hi: f64) -> f64 {
    (r.random_range(lo.ln()..=hi.ln())).exp()
}

/// A layer offering `widths`, with HAWQ-like magnitudes: the perturbation falls by about 4× per
/// extra bit, and lower widths are usually (not always) faster.
pub fn random_layer(r: &mut StdRng, name: String, widths: &[u32], latency: bool) -> Layer {
    let top = *widths.last().unwrap_or(&8);
    let base = log_uniform(r, 1e-4, 1e-1);
    let delta: BTreeMap<u32, f64> = widths
        .iter()
        .map(|&b| (b, base * 4f64.powi((top - b) as i32) * r.random_range(0.8..1.2)))
        .collect();
    let lat_top = log_uniform(r, 0.05, 2.0);
    let latency_ms = latency.then(|| {
        widths
            .iter()
            .map(|&b| {
                (b, lat_top * (f64::from(b) / f64::from(top)).powf(0.3) * r.random_range(0.7..1.1))
            })
            .collect()
    });
    Layer {
        name,
        params: log_uniform(r, 1e3, 3e6) as u64,
        macs: log_uniform(r, 1e5, 5e8) as u64,
        trace: log_uniform(r, 1e-3, 10.0),
        delta,
        latency_ms,
        pin: None,
        trace_stderr: None,
        method: None,
    }
}

/// A random table of `n` layers with random ties and consistent random pins.
pub fn random_table(r: &mut StdRng, n: usize, widths: &[u32], latency: bool) -> LayerTable {
    let mut layers: Vec<Layer> =
        (0..n).map(|i| random_layer(r, format!("layer{i}"), widths, latency)).collect();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &[usize], mut i: usize) -> usize {
        while p[i] != i {
            i = p[i];
        }
        i
    }
    let mut tie = Vec::new();
    if n >= 2 {
        for _ in 0..r.random_range(0..=n / 3) {
            let (a, b) = (r.random_range(0..n), r.random_range(0..n));
            if a != b {
                tie.push(vec![layers[a].name.clone(), layers[b].name.clone()]);
                let (ra, rb) = (root(&parent, a), root(&parent, b));
                parent[ra] = rb;
            }
        }
    }
    let mut group_pin: BTreeMap<usize, u32> = BTreeMap::new();
    for _ in 0..r.random_range(0..=n / 4) {
        let i = r.random_range(0..n);
        let bits =
            *group_pin.entry(root(&parent, i)).or_insert(widths[r.random_range(0..widths.len())]);
        layers[i].pin = Some(bits);
    }
    LayerTable { layers, tie }
}

/// Totals of an allocation recomputed straight from the table (independently of the crate).
pub fn recompute(table: &LayerTable, bits: &BTreeMap<String, u32>) -> (f64, f64, f64, f64) {
    let (mut omega, mut size, mut bops, mut lat) = (0.0, 0.0, 0.0, 0.0);
    for l in &table.layers {
        let b = bits[&l.name];
        omega += l.trace * l.delta[&b];
        size += l.params as f64 * f64::from(b) / 8.0;
        bops += l.macs as f64 * f64::from(b * b);
        lat += l.latency_ms.as_ref().map_or(0.0, |m| m[&b]);
    }
    (omega, size, bops, lat)
}

/// Asserts ties, pins and every budget hold for `alloc` (budgets within 1e-9 of the largest total).
pub fn assert_meets(table: &LayerTable, model: &Model, budgets: &[Budget], alloc: &Allocation) {
    for l in &table.layers {
        if let Some(p) = l.pin {
            assert_eq!(alloc.bits[&l.name], p, "pin on {}", l.name);
        }
    }
    for t in &table.tie {
        assert!(t.iter().all(|n| alloc.bits[n] == alloc.bits[&t[0]]), "tie {t:?}");
    }
    let (omega, size, bops, lat) = recompute(table, &alloc.bits);
    assert!(rel_close(omega, alloc.objective, 1e-12), "objective {omega} vs {}", alloc.objective);
    assert!(rel_close(size, alloc.size_bytes, 1e-12));
    assert!(rel_close(bops, alloc.bops, 1e-12));
    for b in budgets {
        let limit = model.resolve(b).unwrap();
        let (total, top) = match b.kind {
            BudgetKind::Size => (size, max_total(table, |l, w| l.size_bytes(w))),
            BudgetKind::Bops => (bops, max_total(table, |l, w| l.bops(w))),
            BudgetKind::Latency => {
                (lat, max_total(table, |l, w| l.latency_ms.as_ref().unwrap()[&w]))
            }
        };
        assert!(total <= limit + 1e-9 * top, "{} total {total} over limit {limit}", b.kind);
    }
}

fn max_total(table: &LayerTable, f: impl Fn(&Layer, u32) -> f64) -> f64 {
    table.layers.iter().map(|l| l.delta.keys().map(|&w| f(l, w)).fold(0.0, f64::max)).sum()
}

/// |a − b| ≤ tol · max(|a|, |b|), exact for zeros.
pub fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs())
}

/// A budget of `kind` at `alpha`; negative `alpha` gives an absolute budget below the
/// all-lowest total (infeasible); `absolute` states a feasible one in base units instead.
pub fn budget_at(model: &Model, kind: BudgetKind, alpha: f64, absolute: bool) -> Budget {
    if alpha >= 0.0 && !absolute {
        return Budget::fraction(kind, alpha);
    }
    let lo = model.resolve(&Budget::fraction(kind, 0.0)).unwrap();
    let hi = model.resolve(&Budget::fraction(kind, 1.0)).unwrap();
    Budget { kind, limit: Limit::Absolute((lo + alpha * (hi - lo)).max(0.0)) }
}

/// Widths forced by pins, spread over tie groups (the test's own union of ties).
pub fn forced_widths(table: &LayerTable) -> BTreeMap<String, u32> {
    let mut forced: BTreeMap<String, u32> =
        table.layers.iter().filter_map(|l| l.pin.map(|p| (l.name.clone(), p))).collect();
    // Propagate along ties until nothing changes.
    loop {
        let before = forced.len();
        for t in &table.tie {
            if let Some(&p) = t.iter().find_map(|n| forced.get(n)) {
                for n in t {
                    forced.insert(n.clone(), p);
                }
            }
        }
        if forced.len() == before {
            return forced;
        }
    }
}
