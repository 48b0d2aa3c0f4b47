//! Times the allocator on a ResNet50-sized problem.
//!
//! `cargo run --release -p hawq-alloc --example alloc_timing`
//!
//! The 52 ILP layers of ResNet50 (16 bottleneck units × 3 convs + 4 downsample convs, stem and FC
//! excluded as in HAWQ-V3) with their true parameter and MAC counts at 224×224, seeded random
//! traces, perturbations and latencies, and the four conv1 = downsample ties (48 free groups).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hawq_alloc::{
    Budget, BudgetKind, IlpSolver, Layer, LayerTable, Model, allocate_model, alpha_grid, pareto,
    render_markdown,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn conv(r: &mut StdRng, name: String, cin: u64, cout: u64, k: u64, out_hw: u64) -> Layer {
    let params = cin * cout * k * k;
    let macs = params * out_hw * out_hw;
    let delta4 = (r.random_range(-9.0f64..-4.0)).exp() * params as f64;
    let lat8 = macs as f64 / 2.0e8; // ≈ 200 GMAC/s per core, in ms
    Layer {
        name,
        params,
        macs,
        trace: (r.random_range(-6.0f64..0.0)).exp(),
        delta: BTreeMap::from([(4, delta4), (8, delta4 / r.random_range(250.0..330.0))]),
        latency_ms: Some(BTreeMap::from([(4, lat8 * r.random_range(0.6..1.0)), (8, lat8)])),
        pin: None,
        trace_stderr: None,
        method: None,
    }
}

fn resnet50_table(seed: u64) -> LayerTable {
    let mut r = StdRng::seed_from_u64(seed);
    let (mut layers, mut tie) = (Vec::new(), Vec::new());
    let mut cin = 64;
    for (s, &units) in [3, 4, 6, 3].iter().enumerate() {
        let (mid, out, hw) = (64 << s, 256 << s, 56 >> s);
        for u in 0..units {
            let p = format!("stage{}.unit{}", s + 1, u + 1);
            layers.push(conv(
                &mut r,
                format!("{p}.conv1"),
                cin,
                mid,
                1,
                if u == 0 && s > 0 { 2 * hw } else { hw },
            ));
            layers.push(conv(&mut r, format!("{p}.conv2"), mid, mid, 3, hw));
            layers.push(conv(&mut r, format!("{p}.conv3"), mid, out, 1, hw));
            if u == 0 {
                layers.push(conv(&mut r, format!("{p}.downsample"), cin, out, 1, hw));
                tie.push(vec![format!("{p}.conv1"), format!("{p}.downsample")]);
            }
            cin = out;
        }
    }
    LayerTable { layers, tie }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), hawq_alloc::AllocError> {
    let table = resnet50_table(2021);
    let model = Model::new(&table)?;
    println!(
        "ResNet50-like table: {} layers, {} free groups after ties",
        table.layers.len(),
        model.free_groups().len()
    );
    let solver = IlpSolver::default();
    let cases: [(&str, Vec<Budget>); 4] = [
        ("size 0.5", vec![Budget::fraction(BudgetKind::Size, 0.5)]),
        ("BOPs 0.5", vec![Budget::fraction(BudgetKind::Bops, 0.5)]),
        ("latency 0.5", vec![Budget::fraction(BudgetKind::Latency, 0.5)]),
        (
            "size 0.6 + BOPs 0.5 + latency 0.7",
            vec![
                Budget::fraction(BudgetKind::Size, 0.6),
                Budget::fraction(BudgetKind::Bops, 0.5),
                Budget::fraction(BudgetKind::Latency, 0.7),
            ],
        ),
    ];
    const RUNS: usize = 15;
    for (label, budgets) in &cases {
        let mut times = Vec::with_capacity(RUNS);
        let mut last = None;
        for _ in 0..RUNS {
            let t = Instant::now();
            last = Some(allocate_model(&model, budgets, &solver)?);
            times.push(t.elapsed());
        }
        let a = last.expect("RUNS > 0");
        let eights = a.bits.values().filter(|&&b| b == 8).count();
        println!(
            "52-layer solve, {label:<34} median {:>8.2?} over {RUNS} runs  proven optimal: {}  8-bit layers: {eights}/52  objective {:.6e}",
            median(times),
            a.optimal,
            a.objective
        );
        assert!(a.optimal, "{label}: optimality not proven");
    }

    let alphas = alpha_grid(21);
    let t = Instant::now();
    let sweeps = BudgetKind::ALL.map(|kind| pareto(&table, kind, &alphas));
    let total = t.elapsed();
    let mut sizes = None;
    for (kind, sweep) in BudgetKind::ALL.iter().zip(sweeps) {
        let sweep = sweep?;
        assert!(sweep.iter().all(|p| p.allocation.optimal), "{kind} sweep: optimality not proven");
        if *kind == BudgetKind::Size {
            sizes = Some(sweep);
        }
    }
    println!("21-point Pareto sweeps over size, BOPs and latency (63 solves): total {total:.2?}");
    if let Some(points) = sizes {
        println!("\nsize sweep:\n{}", render_markdown(&points));
    }
    Ok(())
}
