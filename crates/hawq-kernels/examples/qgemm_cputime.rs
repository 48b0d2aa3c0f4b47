//! GOP/s of `qgemm` on ResNet layer shapes per ISA and thread count, robust to a shared, loaded
//! machine: each call is timed alone, rounds are interleaved over ISAs, and the report gives the
//! fastest call (≈ a quiet machine), the median call, and the process-CPU-time rate
//! (`/proc/self/stat`, Linux, 10 ms ticks). Usage: `cargo run --release --example qgemm_cputime
//! [FILTER] [THREADS]` where FILTER matches "shape isa", e.g. `"conv1x1_56 avx512"`.
use hawq_kernels::*;
use std::time::Instant;

fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}

fn main() {
    let filter = std::env::args().nth(1).unwrap_or_default();
    let threads: usize = std::env::args().nth(2).map_or(1, |t| t.parse().unwrap());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    for &(name, m, k, n) in &[
        ("conv3x3_56", 3136, 576, 64),
        ("conv3x3_28", 784, 1152, 128),
        ("conv3x3_14", 196, 2304, 256),
        ("conv3x3_7", 49, 4608, 512),
        ("conv1x1_56", 3136, 64, 256),
        ("fc_b1", 1, 512, 1000),
        ("fc_b8", 8, 2048, 1000),
    ] {
        let a: Vec<u8> = (0..m * k).map(|i| (i * 31 % 251) as u8).collect();
        let w: Vec<i8> = (0..n * k).map(|i| ((i * 17 % 255) as i32 - 127) as i8).collect();
        let b = PackedWeights::from_nk(&w, n, k, WeightBits::B8).unwrap();
        let (bias, mult, shift) = (vec![7i32; n], vec![1_500_000_000i32; n], vec![40i32; n]);
        let epi = Epilogue {
            bias: &bias,
            requant: Some(Requant { mult: &mult, shift: &shift }),
            residual: None,
            lo: 0,
            hi: 255,
        };
        let mut out = vec![0u8; m * n];
        let isas: Vec<Isa> = Isa::ALL
            .into_iter()
            .filter(|i| i.is_supported() && format!("{name} {i}").contains(&filter))
            .collect();
        if isas.is_empty() {
            continue;
        }
        let act = ActView { data: ActIn::U8(&a), rows: m, row_stride: k };
        let ops = 2.0 * (m * n * k) as f64;
        let per_round = ((20e9 / ops) as usize).clamp(1, 2000);
        let mut times = vec![Vec::new(); isas.len()];
        let mut cpu_s = vec![0.0; isas.len()];
        for _round in 0..15 {
            for (x, &isa) in isas.iter().enumerate() {
                let reps = if isa == Isa::Scalar { 1 } else { per_round };
                let c0 = cpu();
                for _ in 0..reps {
                    let t0 = Instant::now();
                    pool.install(|| {
                        qgemm(
                            isa,
                            &act,
                            &b,
                            &epi,
                            OutView { data: OutBuf::U8(&mut out), row_stride: n },
                        )
                    })
                    .unwrap();
                    times[x].push(t0.elapsed().as_secs_f64());
                }
                cpu_s[x] += cpu() - c0;
            }
        }
        for (x, isa) in isas.iter().enumerate() {
            let t = &mut times[x];
            t.sort_by(f64::total_cmp);
            let total: f64 = t.iter().sum();
            println!(
                "{name:11} {isa:11} t={threads} best {:7.1}  median {:7.1}  cpu {:7.1} GOP/s  ({} calls)",
                ops / t[0] / 1e9,
                ops / t[t.len() / 2] / 1e9,
                ops * t.len() as f64 / cpu_s[x] / 1e9 * (total / total.max(1e-9)),
                t.len()
            );
        }
    }
}
