//! GOP/s of `qgemm` on the bench shapes per ISA, one thread, measured both by wall clock and by
//! process CPU time (`/proc/self/stat`, Linux): on a shared machine the CPU-time figure is the
//! one that approximates a quiet machine. Usage: `cargo run --release --example qgemm_cputime
//! [FILTER]` where FILTER matches "shape isa", e.g. `"conv1x1_56 avx512"`.
use hawq_kernels::*;
fn cpu() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = s.rsplit(')').next().unwrap().split_whitespace().collect();
    (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
}
fn main() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let filter = std::env::args().nth(1).unwrap_or_default();
    for &(name, m, k, n) in &[
        ("conv3x3_56", 3136, 576, 64),
        ("conv3x3_28", 784, 1152, 128),
        ("conv3x3_14", 196, 2304, 256),
        ("conv3x3_7", 49, 4608, 512),
        ("conv1x1_56", 3136, 64, 256),
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
        for isa in Isa::ALL
            .into_iter()
            .filter(|i| i.is_supported() && format!("{name} {i}").contains(&filter))
        {
            let act = ActView { data: ActIn::U8(&a), rows: m, row_stride: k };
            let ops = 2.0 * (m * n * k) as f64;
            let iters = ((if isa == Isa::Scalar { 3e9 } else { 150e9 } / ops) as usize).max(3);
            let (c0, t0) = (cpu(), std::time::Instant::now());
            for _ in 0..iters {
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
            }
            let (c, t) = (cpu() - c0, t0.elapsed().as_secs_f64());
            println!(
                "{name:11} {isa:11} cpu {:7.1} GOP/s  wall {:7.1} GOP/s",
                ops * iters as f64 / c / 1e9,
                ops * iters as f64 / t / 1e9
            );
        }
    }
}
