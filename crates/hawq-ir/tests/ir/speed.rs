//! Interpreter speed (ignored by default; run with
//! `cargo test -p hawq-ir --release --test ir speed -- --ignored --nocapture`).

use crate::common::{Rng, count_macs, resnet50};
use hawq_ir::Conv2d;
use hawq_ir::interp::{conv2d, run};
use hawq_ir::passes::simplify;
use std::time::Instant;

/// CPU time this thread has run, in seconds (Linux `schedstat`; `None` elsewhere). On a shared
/// machine wall time overstates the cost, so both are printed.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
}

/// Prints wall and CPU throughput of `macs` multiply-accumulates.
fn report(what: &str, macs: f64, wall: f64, cpu: Option<f64>) {
    let cpu_part = cpu
        .map_or(String::new(), |c| format!(", CPU {:.3} s = {:.2} GMAC/CPU-s", c, macs / c / 1e9));
    println!(
        "{what}: {:.2} GMAC, wall {wall:.3} s = {:.2} GMAC/s{cpu_part}",
        macs / 1e9,
        macs / wall / 1e9
    );
}

#[test]
#[ignore = "timing; run on demand"]
fn conv_and_resnet50_throughput() {
    let mut rng = Rng::new(99);
    // ResNet-50 layer1 3x3 conv: 64 -> 64 at 56x56, 115.6 M MACs.
    let cfg = Conv2d::new("w", 64, 64, 3, 1, 1);
    let x = rng.tensor(&[1, 64, 56, 56], -1.0, 1.0);
    let w = rng.tensor(&cfg.weight_shape(), -0.1, 0.1);
    conv2d(&x, &w, None, &cfg).unwrap();
    let reps = 5;
    let (t, c) = (Instant::now(), thread_cpu_seconds());
    for _ in 0..reps {
        conv2d(&x, &w, None, &cfg).unwrap();
    }
    let cpu = thread_cpu_seconds().zip(c).map(|(b, a)| (b - a) / reps as f64);
    let macs = 64.0 * 64.0 * 9.0 * 56.0 * 56.0;
    report("conv 3x3 64->64 @56x56", macs, t.elapsed().as_secs_f64() / reps as f64, cpu);

    let mut g = resnet50(&mut rng, 224);
    simplify(&mut g).unwrap();
    let macs = count_macs(&g) as f64;
    let x = rng.tensor(&[1, 3, 224, 224], -1.0, 1.0);
    let (t, c) = (Instant::now(), thread_cpu_seconds());
    let out = run(&g, &[x]).unwrap();
    let cpu = thread_cpu_seconds().zip(c).map(|(b, a)| b - a);
    assert_eq!(out[0].shape(), &[1, 1000]);
    assert!(out[0].data().iter().all(|v| v.is_finite()));
    report("ResNet-50 @224, batch 1, BN folded", macs, t.elapsed().as_secs_f64(), cpu);
}
