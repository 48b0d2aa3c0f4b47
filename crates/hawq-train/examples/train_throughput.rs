//! Training throughput of CIFAR ResNet-20 (3×32×32): images per second of one
//! forward + backward + SGD-momentum step, median over several steps, per thread count.
//!
//! `cargo run --release -p hawq-train --example train_throughput -- [batch] [steps] [threads...]`
//! (defaults: batch 128, 5 timed steps after 1 warm-up, threads 1 and 2). Prints one line per
//! thread count: `threads=T batch=B median_ms=… images_per_s=…`.

use hawq_train::{Network, Sgd, SgdConfig, train_step};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let batch = args.first().copied().unwrap_or(128);
    let steps = args.get(1).copied().unwrap_or(5).max(1);
    let threads: Vec<usize> = if args.len() > 2 { args[2..].to_vec() } else { vec![1, 2] };
    let opts = hawq_zoo::ZooOptions::for_model("resnet20")?;
    let graph = hawq_zoo::build("resnet20", &opts)?;
    let classes = opts.num_classes as u32;
    // Deterministic pseudo-images and labels: throughput does not depend on the values.
    let images: Vec<f32> =
        (0..batch * 3 * 32 * 32).map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0).collect();
    let labels: Vec<u32> = (0..batch as u32).map(|i| i % classes).collect();
    for &t in &threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
        let mut net = Network::<f32>::from_graph(&graph)?;
        let mut sgd = Sgd::new(SgdConfig::default(), &net);
        let mut times = pool.install(|| -> Result<Vec<f64>, hawq_train::TrainError> {
            let mut times = Vec::new();
            for step in 0..=steps {
                let start = Instant::now();
                train_step(&mut net, &mut sgd, &images, &labels, 0.01, step as u64)?;
                if step > 0 {
                    times.push(start.elapsed().as_secs_f64());
                }
            }
            Ok(times)
        })?;
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "threads={t} batch={batch} median_ms={:.1} images_per_s={:.1}",
            median * 1e3,
            batch as f64 / median
        );
    }
    Ok(())
}
