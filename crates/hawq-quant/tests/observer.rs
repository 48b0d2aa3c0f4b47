//! Range observers: first-batch initialisation, EMA, min/max, percentile, errors.

mod common;

use common::Rng;
use hawq_quant::{
    ActFormat, DEFAULT_MOMENTUM, ObserverKind, QuantError, RangeObserver,
    activation_percentile_ranks,
};
use proptest::prelude::*;

fn observer(kind: ObserverKind) -> RangeObserver {
    RangeObserver::new(kind).unwrap()
}

#[test]
fn first_batch_initialises() {
    for kind in [ObserverKind::default(), ObserverKind::MinMax, ObserverKind::Ema { momentum: 0.5 }]
    {
        let mut o = observer(kind);
        assert_eq!((o.range(), o.batches()), (None, 0));
        assert_eq!(o.scale(ActFormat::signed(8)), None);
        o.observe(&[1.0, -2.0, 3.0]).unwrap();
        assert_eq!((o.range(), o.batches()), (Some((-2.0, 3.0)), 1));
    }
    assert_eq!(ObserverKind::default(), ObserverKind::Ema { momentum: DEFAULT_MOMENTUM });
}

#[test]
fn ema_weights_the_old_value() {
    let mut o = observer(ObserverKind::Ema { momentum: 0.75 });
    o.observe(&[-4.0, 8.0]).unwrap();
    o.observe(&[-8.0, 0.0, 4.0]).unwrap(); // 0.75·(−4) + 0.25·(−8) = −5; 0.75·8 + 0.25·4 = 7
    assert_eq!(o.range(), Some((-5.0, 7.0)));
    o.observe(&[3.0]).unwrap(); // −3.75 + 0.75 = −3; 5.25 + 0.75 = 6
    assert_eq!(o.range(), Some((-3.0, 6.0)));
    assert_eq!(o.batches(), 3);
    // Momentum 1 freezes the first range, momentum 0 follows the last batch.
    let mut frozen = observer(ObserverKind::Ema { momentum: 1.0 });
    let mut follow = observer(ObserverKind::Ema { momentum: 0.0 });
    for batch in [[1.0, 2.0], [-5.0, 9.0]] {
        frozen.observe(&batch).unwrap();
        follow.observe(&batch).unwrap();
    }
    assert_eq!((frozen.range(), follow.range()), (Some((1.0, 2.0)), Some((-5.0, 9.0))));
}

#[test]
fn default_momentum_is_099() {
    let mut o = observer(ObserverKind::default());
    o.observe(&[0.0, 100.0]).unwrap();
    o.observe(&[-100.0, 0.0]).unwrap();
    // 0.99f32 = 0.99000000953674316…: min = −1.0·(1 − m)·100 and max = m·100, rounded once.
    let m = 0.99f32 as f64;
    assert_eq!(o.range(), Some((((1.0 - m) * -100.0) as f32, (m * 100.0) as f32)));
    assert_eq!(o.range().unwrap().1, 99.0);
}

#[test]
fn minmax_keeps_running_extremes() {
    let mut o = observer(ObserverKind::MinMax);
    o.observe(&[0.5, 1.0]).unwrap();
    o.observe(&[-3.0, 0.0]).unwrap();
    o.observe(&[0.0, 0.25]).unwrap();
    o.observe(&[7.0]).unwrap();
    assert_eq!(o.range(), Some((-3.0, 7.0)));
}

#[test]
fn constant_batch_does_not_reinitialise() {
    // The reference would re-initialise after a constant batch (x_min == x_max) and report
    // (0, 4); the batch counter makes the second batch average in instead.
    let mut o = observer(ObserverKind::Ema { momentum: 0.5 });
    o.observe(&[2.0; 4]).unwrap();
    o.observe(&[0.0, 4.0]).unwrap();
    assert_eq!(o.range(), Some((1.0, 3.0)));
}

#[test]
fn percentile_uses_the_reference_ranks() {
    // 1..=1000 shuffled; p = 99 → k = 990: max = 990th smallest, min = 990th largest = 11.
    let mut xs: Vec<f32> = (1..=1000).map(|v| v as f32).collect();
    let mut rng = Rng::new(7);
    for i in (1..xs.len()).rev() {
        xs.swap(i, rng.range_i128(0, i as i128) as usize);
    }
    let mut o = observer(ObserverKind::Percentile { p: 99.0 });
    o.observe(&xs).unwrap();
    assert_eq!(o.range(), Some((11.0, 990.0)));
    // Ranks: round half to even on 10·75/100 = 7.5 → 8 (upper); 10·(1 − 0.25) = 7.5 → 8.
    assert_eq!(activation_percentile_ranks(10, 75.0), (8, 8));
    assert_eq!(activation_percentile_ranks(1000, 99.9), (999, 999));
    assert_eq!(activation_percentile_ranks(10, 99.9), (10, 10)); // the extremes
    assert_eq!(activation_percentile_ranks(1, 60.0), (1, 1));
    let mut o = observer(ObserverKind::Percentile { p: 75.0 });
    o.observe(&[9.0, 0.0, 8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 5.0, 4.0]).unwrap();
    assert_eq!(o.range(), Some((2.0, 7.0))); // 8th largest, 8th smallest
    // Later batches use the default EMA.
    o.observe(&[102.0, 107.0, 100.0, 101.0, 103.0, 104.0, 105.0, 106.0, 108.0, 109.0]).unwrap();
    let m = DEFAULT_MOMENTUM as f64;
    let mix = |old: f64, new: f64| (m * old + (1.0 - m) * new) as f32;
    assert_eq!(o.range(), Some((mix(2.0, 102.0), mix(7.0, 107.0))));
}

#[test]
fn tiny_batches_near_the_median_stay_ordered() {
    let mut o = observer(ObserverKind::Percentile { p: 51.0 });
    o.observe(&[5.0, -1.0]).unwrap();
    let (lo, hi) = o.range().unwrap();
    assert!(lo <= hi);
}

#[test]
fn bad_input_is_an_error_and_changes_nothing() {
    let mut o = observer(ObserverKind::MinMax);
    o.observe(&[1.0, 2.0]).unwrap();
    let e = o.observe(&[0.0, f32::NAN]).unwrap_err();
    assert_eq!(e, QuantError::NonFinite { what: "activation batch", index: 1 });
    let e = o.observe(&[f32::NEG_INFINITY]).unwrap_err();
    assert_eq!(e, QuantError::NonFinite { what: "activation batch", index: 0 });
    assert_eq!(o.observe(&[]).unwrap_err(), QuantError::Empty { what: "activation batch" });
    assert_eq!((o.range(), o.batches()), (Some((1.0, 2.0)), 1));
}

#[test]
fn bad_parameters_are_errors() {
    for kind in [
        ObserverKind::Ema { momentum: 1.5 },
        ObserverKind::Ema { momentum: -0.1 },
        ObserverKind::Ema { momentum: f32::NAN },
        ObserverKind::Percentile { p: 50.0 },
        ObserverKind::Percentile { p: 100.1 },
        ObserverKind::Percentile { p: f32::NAN },
    ] {
        assert!(matches!(RangeObserver::new(kind), Err(QuantError::InvalidParameter { .. })));
    }
    assert!(RangeObserver::from_range(ObserverKind::MinMax, 2.0, 1.0).is_err());
    assert!(RangeObserver::from_range(ObserverKind::MinMax, f32::NAN, 1.0).is_err());
    let o = RangeObserver::from_range(ObserverKind::MinMax, -1.0, 2.0).unwrap();
    assert_eq!((o.range(), o.batches()), (Some((-1.0, 2.0)), 1));
}

#[test]
fn scale_follows_the_format() {
    let mut o = observer(ObserverKind::MinMax);
    o.observe(&[-0.5, 7.5]).unwrap();
    assert_eq!(o.scale(ActFormat::unsigned(4)), Some(8.0 / 15.0));
    o.observe(&[-127.0]).unwrap();
    assert_eq!(o.scale(ActFormat::signed(8)), Some(1.0));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Percentile statistics equal the ranked values of a full sort.
    #[test]
    fn percentile_matches_full_sort(
        xs in prop::collection::vec(-1e3f32..1e3, 1..300),
        p in 50.5f32..=100.0,
    ) {
        let mut o = observer(ObserverKind::Percentile { p });
        o.observe(&xs).unwrap();
        let mut sorted = xs.clone();
        sorted.sort_by(f32::total_cmp);
        let n = xs.len();
        let (k_lo, k_hi) = activation_percentile_ranks(n, p);
        let (a, b) = (sorted[n - k_lo], sorted[k_hi - 1]);
        prop_assert_eq!(o.range(), Some((a.min(b), a.max(b))));
    }

    /// Running ranges stay ordered under any observer and batch sequence.
    #[test]
    fn ranges_stay_ordered(
        batches in prop::collection::vec(prop::collection::vec(-1e6f32..1e6, 1..20), 1..8),
        m in 0.0f32..=1.0,
    ) {
        for kind in [ObserverKind::Ema { momentum: m }, ObserverKind::MinMax] {
            let mut o = observer(kind);
            for b in &batches {
                o.observe(b).unwrap();
                let (lo, hi) = o.range().unwrap();
                prop_assert!(lo <= hi);
            }
        }
    }
}
