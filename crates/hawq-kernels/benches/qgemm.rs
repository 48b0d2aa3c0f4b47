//! Quantized GEMM on ResNet layer shapes, per ISA, single thread; reports GOP/s = 2·M·N·K / time
//! (the AVX-512 VNNI peak of this machine kind is about 473 GOP/s per core).
// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hawq_kernels::*;
use std::time::Duration;

const SHAPES: [(&str, usize, usize, usize); 5] = [
    ("conv3x3_56", 3136, 576, 64),
    ("conv3x3_28", 784, 1152, 128),
    ("conv3x3_14", 196, 2304, 256),
    ("conv3x3_7", 49, 4608, 512),
    ("conv1x1_56", 3136, 64, 256),
];

fn bench(c: &mut Criterion) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("thread pool");
    for &(name, m, k, n) in &SHAPES {
        let a: Vec<u8> = (0..m * k).map(|i| (i * 31 % 251) as u8).collect();
        let w: Vec<i8> = (0..n * k).map(|i| ((i * 17 % 255) as i32 - 127) as i8).collect();
        let b = PackedWeights::from_nk(&w, n, k, WeightBits::B8).expect("pack");
        let bias = vec![7i32; n];
        let mult = vec![1_500_000_000i32; n];
        let shift = vec![40i32; n];
        let epi = Epilogue {
            bias: &bias,
            requant: Some(Requant { mult: &mult, shift: &shift }),
            residual: None,
            lo: 0,
            hi: 255,
        };
        let mut out = vec![0u8; m * n];
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        group
            .sample_size(10)
            .warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        for isa in Isa::ALL.into_iter().filter(|i| i.is_supported()) {
            let act = ActView { data: ActIn::U8(&a), rows: m, row_stride: k };
            group.bench_function(isa.name(), |bench| {
                bench.iter(|| {
                    pool.install(|| {
                        qgemm(
                            isa,
                            &act,
                            &b,
                            &epi,
                            OutView { data: OutBuf::U8(&mut out), row_stride: n },
                        )
                    })
                    .expect("qgemm")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
