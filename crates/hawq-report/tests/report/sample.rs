//! A report with every section filled, shaped like the demo's.

use hawq_report::{BitExact, LatencyProfile, LayerSensitivity, ModelResult, ParetoPoint, Report};

fn result(name: &str, top1: f64, size_mb: f64, bops: f64, exact: Option<usize>) -> ModelResult {
    ModelResult {
        name: name.into(),
        description: format!("{name} <variant> & co"),
        top1,
        size_mb,
        bops,
        latency_ms: Some(1.25),
        bit_exact: exact.map(|m| BitExact { images: 16, compared: 160, mismatches: m }),
    }
}

/// A four-row report over `n` layers.
pub fn report(n: usize) -> Report {
    let layers: Vec<LayerSensitivity> = (0..n)
        .map(|i| LayerSensitivity {
            name: format!("layer{i}.conv.weight"),
            params: 1000 * (i as u64 + 1),
            macs: 100_000 * (i as u64 + 1),
            trace: 0.5 / (i as f64 + 1.0),
            omega4: 1e-2 / (i as f64 + 1.0),
            omega8: 4e-5 / (i as f64 + 1.0),
            bits: Some(if i == 0 || i + 1 == n || i % 2 == 0 { 8 } else { 4 }),
            pinned: i == 0 || i + 1 == n,
        })
        .collect();
    let profile = |model: &str, scale: f64| LatencyProfile {
        model: model.into(),
        layers: layers.iter().map(|l| (l.name.clone(), 0.05 * scale)).collect(),
        overhead_ms: 0.01,
        total_ms: 0.05 * scale * n as f64 + 0.01,
    };
    let pareto = (0..=4)
        .map(|i| ParetoPoint {
            alpha: i as f64 / 4.0,
            size_mb: 0.1 + 0.05 * i as f64,
            bops: 1e9 * (1.0 + i as f64),
            objective: 1e-2 / (1.0 + 10.0 * i as f64),
            layers_4bit: n - 2 - i.min(n - 2),
            chosen: i == 2,
        })
        .collect();
    let latency = vec![profile("INT8", 1.0), profile("mixed", 0.9), profile("INT4", 0.8)];
    Report {
        title: "hawq demo: test".into(),
        model: "models/m.safetensors".into(),
        data: "fmnist-subset".into(),
        eval_images: 1000,
        isa: "avx2".into(),
        threads: 2,
        results: vec![
            ModelResult { bit_exact: None, ..result("FP32", 0.9, 1.08, 4.4e10, None) },
            result("INT8", 0.895, 0.27, 2.7e9, Some(0)),
            result("mixed", 0.88, 0.2, 1.9e9, Some(0)),
            result("INT4", 0.80, 0.14, 0.7e9, Some(3)),
        ],
        layers,
        latency,
        pareto,
        notes: vec!["a note with <angle brackets> & an ampersand".into()],
        wall_seconds: Some(42.0),
    }
}
