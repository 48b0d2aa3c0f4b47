//! GEMM: edge sweeps and property tests, every ISA equal to the reference.

use crate::common::*;
use hawq_kernels::*;
use proptest::prelude::*;

#[test]
fn edge_sweep_k_and_tails() {
    let mut g = Lcg(7);
    for k in [0, 1, 2, 3, 4, 5, 63, 64, 65] {
        for (m, n) in [(1, 1), (3, 17), (17, 5), (8, 32), (9, 33), (16, 16), (2, 64)] {
            let kind = KINDS[g.next() as usize % KINDS.len()];
            let extreme = g.next().is_multiple_of(2);
            Problem::random(&mut g, m, n, k, kind, extreme).check_all();
        }
    }
}

#[test]
fn every_tail_and_out_kind() {
    let mut g = Lcg(11);
    for m in 1..=17 {
        for n in [1, 2, 15, 16, 17, 31, 33] {
            for kind in KINDS {
                Problem::random(&mut g, m, n, 7, kind, true).check_all();
            }
        }
    }
}

#[test]
fn zero_weights_and_extremes() {
    let mut g = Lcg(3);
    for kind in KINDS {
        let mut p = Problem::random(&mut g, 9, 20, 37, kind, true);
        p.w_nk.iter_mut().for_each(|w| *w = 0);
        p.check_all();
        let mut p = Problem::random(&mut g, 9, 20, 37, kind, true);
        p.a.iter_mut().for_each(|a| *a = if p.signed { -128 } else { 255 });
        p.w_nk.iter_mut().enumerate().for_each(|(i, w)| *w = if i % 2 == 0 { -128 } else { 127 });
        p.check_all();
    }
}

#[test]
fn same_result_for_any_thread_count() {
    let mut g = Lcg(5);
    let p = Problem::random(&mut g, 203, 70, 90, Kind::U8, false);
    let b = p.pack();
    for isa in isas() {
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| p.run(isa, &b));
        for t in [2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
            assert_eq!(pool.install(|| p.run(isa, &b)), one, "{isa} with {t} threads");
        }
    }
}

#[test]
fn refusals_are_typed() {
    let b = PackedWeights::from_nk(&[1, 2, 3, 4], 2, 2, WeightBits::B8).unwrap();
    let a = [1u8, 2, 3];
    let act = ActView { data: ActIn::U8(&a), rows: 2, row_stride: 2 };
    let mut out = [0i32; 4];
    let r = qgemm(
        Isa::Scalar,
        &act,
        &b,
        &Epilogue::raw(&[0, 0]),
        OutView { data: OutBuf::I32(&mut out), row_stride: 2 },
    );
    assert!(matches!(r, Err(KernelError::BadLength { what: "activations", .. })), "{r:?}");
    let act = ActView { data: ActIn::U8(&a), rows: 1, row_stride: 2 };
    let mut out8 = [0u8; 2];
    let r = qgemm(
        Isa::Scalar,
        &act,
        &b,
        &Epilogue::raw(&[0, 0]),
        OutView { data: OutBuf::U8(&mut out8), row_stride: 2 },
    );
    assert!(matches!(r, Err(KernelError::BadEpilogue(_))), "{r:?}");
    let epi = Epilogue {
        bias: &[0, 0],
        requant: Some(Requant { mult: &[1, 1], shift: &[1, 1] }),
        residual: None,
        lo: -1,
        hi: 255,
    };
    let r =
        qgemm(Isa::Scalar, &act, &b, &epi, OutView { data: OutBuf::U8(&mut out8), row_stride: 2 });
    assert!(matches!(r, Err(KernelError::BadEpilogue(_))), "{r:?}");
    assert!(matches!(
        PackedWeights::from_nk(&[9], 1, 1, WeightBits::B4),
        Err(KernelError::WeightOutOfRange { .. })
    ));
    assert!(matches!(resolve_isa(Some("sse9")), Err(KernelError::BadIsaName { .. })));
    for i in Isa::ALL {
        assert_eq!(resolve_isa(Some(i.name())).is_ok(), i.is_supported());
        assert_eq!(i.name().parse::<Isa>().unwrap(), i);
    }
}

#[test]
fn requantize_matches_dyadic_apply() {
    let mut g = Lcg(99);
    for shift in -63..=255 {
        for _ in 0..200 {
            let x = match g.next() % 4 {
                0 => [i32::MIN as i64, i32::MAX as i64, 0, -1, 1][g.next() as usize % 5],
                1 => g.range(-1000, 1000),
                _ => g.range(i32::MIN as i64, i32::MAX as i64),
            };
            let mult = match g.next() % 3 {
                0 => g.range(1 << 30, (1 << 31) - 1) as i32,
                1 => [0, 1, i32::MAX, i32::MIN, -1][g.next() as usize % 5],
                _ => g.range(i32::MIN as i64, i32::MAX as i64) as i32,
            };
            let want = hawq_quant::Dyadic { mult, shift }.apply(x);
            assert_eq!(requantize(x, mult, shift), want, "x={x} mult={mult} shift={shift}");
        }
    }
}

#[test]
fn i4_nibble_order() {
    let v: Vec<i8> = (-8..=7).chain([3]).collect();
    let p = pack_i4(&v).unwrap();
    assert_eq!(p[0], 0x9 << 4 | 0x8); // -8 → 0x8 low, -7 → 0x9 high
    assert_eq!(unpack_i4(&p, v.len()).unwrap(), v);
    // 4-bit packed weights give the same GEMM operand as the same values given as i8.
    let w: Vec<i8> = (0..5 * 7).map(|i| ((i * 5) % 16) as i8 - 8).collect();
    let from4 = PackedWeights::from_i4_nk(&pack_i4(&w).unwrap(), 5, 7).unwrap();
    let from8 = PackedWeights::from_nk(&w, 5, 7, WeightBits::B4).unwrap();
    assert_eq!(from4, from8);
    assert_eq!((0..7).map(|k| from4.get(k, 3).unwrap()).collect::<Vec<_>>(), w[21..28]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn random_problems(seed in any::<u64>(), m in 1usize..40, n in 1usize..80, k in 0usize..140,
                       kind in 0usize..6, extreme in any::<bool>()) {
        Problem::random(&mut Lcg(seed), m, n, k, KINDS[kind], extreme).check_all();
    }
}

/// The parallel driver at miri-sized shapes: with 2 threads, one row (3 panels) is split over
/// column panels into per-task buffers, and 64 rows are split into two row blocks of the real
/// output. Small enough for `scripts/miri.sh`, which checks the unsafe code these paths reach.
#[test]
fn small_parallel_splits() {
    let mut g = Lcg(31);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (m, n, k, kind) in [(1, 70, 9, Kind::U4), (64, 3, 6, Kind::I16)] {
        let p = Problem::random(&mut g, m, n, k, kind, true);
        let b = p.pack();
        let want = p.naive();
        for isa in isas() {
            assert_eq!(pool.install(|| p.run(isa, &b)), want, "{isa} m={m} n={n} k={k}");
        }
    }
}

/// Batch-1 and small-batch linear layers (M = 1..8) take the GEMV kernel and, with several
/// threads, the column split: every ISA and thread count equals the scalar reference.
#[test]
fn gemv_and_column_split_any_threads() {
    let mut g = Lcg(21);
    for (m, n, k) in [(1, 1000, 512), (1, 33, 5), (1, 97, 131), (2, 250, 64), (8, 130, 300)] {
        for kind in KINDS {
            let extreme = g.next().is_multiple_of(3);
            let p = Problem::random(&mut g, m, n, k, kind, extreme);
            let b = p.pack();
            let want = p.naive();
            for isa in isas() {
                for t in 1..=3 {
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
                    assert_eq!(
                        pool.install(|| p.run(isa, &b)),
                        want,
                        "{isa} t={t} m={m} n={n} k={k} {kind:?}"
                    );
                }
            }
        }
    }
}

/// Big layers are split over rows with 2 and 3 threads; residuals and i8 activations included.
#[test]
fn row_split_big_layers_any_threads() {
    let mut g = Lcg(23);
    for (m, n, k) in [(300, 64, 72), (97, 40, 1200)] {
        let p = Problem::random(&mut g, m, n, k, Kind::I8, false);
        let b = p.pack();
        let want = p.naive();
        for isa in isas() {
            for t in 1..=3 {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
                assert_eq!(pool.install(|| p.run(isa, &b)), want, "{isa} t={t} m={m}");
            }
        }
    }
}
