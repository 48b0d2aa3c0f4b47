//! Accumulator bounds: golden values, a brute-force tightness check, layer checks, residuals.

mod common;

use common::Rng;
use hawq_quant::{
    AccRange, AccumulatorError, ActFormat, Dyadic, Rounding, channel_bound, channel_range,
    check_accumulator, check_generic_accumulator, generic_bound, generic_range, residual_add,
    residual_range,
};

#[test]
fn generic_bounds_match_the_spec() {
    // W8A8 (signed), K = 3·3·512: 4608·128·128.
    assert_eq!(generic_bound(4608, 8, ActFormat::signed(8)), 75_497_472);
    let r = generic_range(4608, 8, ActFormat::signed(8));
    assert_eq!(r, AccRange { lo: -4608 * 128 * 127, hi: 4608 * 128 * 128 });
    // W4A4 unsigned: w ∈ [−8, 7], a ∈ [0, 15].
    assert_eq!(
        generic_range(4608, 4, ActFormat::unsigned(4)),
        AccRange { lo: -4608 * 120, hi: 4608 * 105 }
    );
    assert_eq!(generic_bound(4608, 4, ActFormat::unsigned(4)), 552_960);
    assert_eq!(generic_bound(0, 8, ActFormat::signed(8)), 0);
    // Huge K saturates instead of overflowing.
    assert!(generic_bound(usize::MAX, 8, ActFormat::signed(32)) > 1 << 100);
}

#[test]
fn channel_range_golden() {
    // w = [3, −2, 0], a ∈ [0, 15], b = −10: hi = 45 (before the bias), lo = −30 − 10.
    let r = channel_range(&[3, -2, 0], ActFormat::unsigned(4), -10);
    assert_eq!(r, AccRange { lo: -40, hi: 45 });
    assert_eq!(r.magnitude(), 45);
    // Signed 8-bit: w = [1, −1] → 127 + 128 at most, −128 − 127 at least.
    assert_eq!(channel_range(&[1, -1], ActFormat::signed(8), 0), AccRange { lo: -255, hi: 255 });
    assert_eq!(channel_range(&[-128], ActFormat::signed(8), 5), AccRange { lo: -16256, hi: 16389 });
    assert_eq!(channel_bound(&[], ActFormat::signed(8), -7), 7);
    // Never above Σ|w|·max|a| + |b|.
    let w = [5i8, -7, 3, -128, 127];
    let crude: u128 = w.iter().map(|&v| (v as i32).unsigned_abs() as u128 * 128).sum::<u128>() + 9;
    assert!(channel_bound(&w, ActFormat::signed(8), -9) <= crude);
}

/// Every activation vector and every partial sum (bias first or last) stays inside the range,
/// and both ends are reached: the bound is exact.
#[test]
fn channel_range_is_tight_by_brute_force() {
    let mut rng = Rng::new(0xB0B);
    for act in [ActFormat::unsigned(4), ActFormat::signed(4), ActFormat::unsigned(2)] {
        let (a_lo, a_hi) = act.range();
        for _ in 0..300 {
            let k = rng.range_i128(0, 3) as usize;
            let w: Vec<i8> = (0..k).map(|_| rng.range_i128(-8, 7) as i8).collect();
            let b = rng.range_i128(-40, 40) as i32;
            let r = channel_range(&w, act, b);
            let (mut seen_lo, mut seen_hi) = (i128::MAX, i128::MIN);
            let span = (a_hi - a_lo + 1) as usize;
            for code in 0..span.pow(k as u32) {
                let mut c = code;
                let mut partial = [0i128; 2]; // [without bias, with bias first]
                partial[1] = b as i128;
                let mut sums = vec![0i128, b as i128];
                for &wi in &w {
                    let a = a_lo + (c % span) as i64;
                    c /= span;
                    for p in &mut partial {
                        *p += wi as i128 * a as i128;
                    }
                    sums.extend(partial);
                }
                sums.push(partial[0] + b as i128); // bias last
                for s in sums {
                    assert!(r.lo <= s && s <= r.hi, "{w:?} b={b} {act:?}: {s} outside {r:?}");
                    (seen_lo, seen_hi) = (seen_lo.min(s), seen_hi.max(s));
                }
            }
            assert_eq!((seen_lo, seen_hi), (r.lo, r.hi), "{w:?} b={b} {act:?}");
        }
    }
}

#[test]
fn layer_check_names_layer_channel_and_k() {
    let act = ActFormat::signed(8);
    // 2^17 weights of −128 against a = −128: 2^17·2^14 = 2^31, one past i32::MAX.
    let k = 1 << 17;
    let mut w = vec![1i8; 2 * k];
    w[k..].fill(-128);
    let e = check_accumulator("layer3.conv2", &w, 2, act, None).unwrap_err();
    assert_eq!(
        e,
        AccumulatorError::Overflow {
            layer: "layer3.conv2".into(),
            channel: 1,
            k,
            lo: -(k as i128) * 128 * 127,
            hi: 1 << 31,
            magnitude: 1 << 31,
        }
    );
    let msg = e.to_string();
    assert!(
        msg.contains("layer3.conv2") && msg.contains("K = 131072") && msg.contains("2147483648")
    );
    // One product fewer fits exactly at the edge; the lower end −2^31 + 2^14·… also fits.
    let ok = check_accumulator("fits", &w[k + 1..], 1, act, None).unwrap();
    assert_eq!(ok.hi, (1 << 31) - (1 << 14));
    // A bias can push an otherwise safe channel over.
    let w = vec![127i8; 1000];
    let r = check_accumulator("fc", &w, 1, act, Some(&[0])).unwrap();
    assert_eq!(r, AccRange { lo: -127 * 128 * 1000, hi: 127 * 127 * 1000 });
    assert!(check_accumulator("fc", &w, 1, act, Some(&[i32::MIN])).is_err());
    assert!(check_accumulator("fc", &w, 1, act, Some(&[i32::MAX])).is_err());
    assert!(check_accumulator("fc", &w, 1, act, Some(&[i32::MAX - 127 * 127 * 1000])).is_ok());
}

#[test]
fn layer_check_rejects_bad_layouts() {
    let act = ActFormat::unsigned(4);
    for (w, c, bias) in [
        (&[1i8; 10][..], 3, None),
        (&[1i8; 10][..], 0, None),
        (&[][..], 1, None),
        (&[1i8; 10][..], 2, Some(&[0i32][..])),
    ] {
        let e = check_accumulator("conv1", w, c, act, bias).unwrap_err();
        assert!(matches!(e, AccumulatorError::Layout { .. }), "{e}");
        assert!(e.to_string().contains("conv1"));
    }
}

#[test]
fn generic_layer_check() {
    assert!(check_generic_accumulator("l", 4608, 8, ActFormat::signed(8), 1 << 20).is_ok());
    let e = check_generic_accumulator("l", 4608, 8, ActFormat::signed(8), u32::MAX).unwrap_err();
    assert!(matches!(e, AccumulatorError::Overflow { k: 4608, channel: 0, .. }));
    // 16-bit activations with 8-bit weights overflow from K = 512 on: 512·128·32768 = 2^31.
    assert!(check_generic_accumulator("l", 511, 8, ActFormat::signed(16), 0).is_ok());
    assert!(check_generic_accumulator("l", 512, 8, ActFormat::signed(16), 0).is_err());
}

#[test]
fn residual_add_golden_and_saturation() {
    let half = Dyadic::from_ratio(0.5).unwrap();
    let one = Dyadic::ONE;
    // 3 + round(5 · 0.5) = 3 + 3 (tie away from zero); half-even gives 3 + 2.
    assert_eq!(residual_add(3, one, 5, half, Rounding::HalfAwayFromZero), 6);
    assert_eq!(residual_add(3, one, 5, half, Rounding::HalfEven), 5);
    assert_eq!(residual_add(-3, one, -5, half, Rounding::HalfAwayFromZero), -6);
    // Saturates at int32, never at 16 bits.
    assert_eq!(residual_add(40_000, one, 0, half, Rounding::HalfAwayFromZero), 40_000);
    assert_eq!(residual_add(i32::MAX, one, i32::MAX, one, Rounding::HalfAwayFromZero), i32::MAX);
    assert_eq!(residual_add(i32::MIN, one, -1, one, Rounding::HalfAwayFromZero), i32::MIN);
    let big = Dyadic::from_ratio(2f64.powi(40)).unwrap(); // left shift, saturating
    assert_eq!(residual_add(1, big, 0, one, Rounding::HalfAwayFromZero), i32::MAX);
}

#[test]
fn residual_range_golden_and_sampled() {
    let half = Dyadic::from_ratio(0.5).unwrap();
    let policy = Rounding::HalfAwayFromZero;
    // id ∈ [−100, 100] at ratio 1; main ∈ [−7, 9] at 0.5 → [−4, 5] (ties away from zero).
    let r = residual_range((-100, 100), Dyadic::ONE, (-7, 9), half, policy);
    assert_eq!(r, AccRange { lo: -104, hi: 105 });
    assert!(r.fits_i32());
    let full = (i32::MIN as i64, i32::MAX as i64);
    assert!(!residual_range(full, Dyadic::ONE, full, Dyadic::ONE, policy).fits_i32());
    // Every sampled sum lies inside the range.
    let mut rng = Rng::new(0xADD);
    for _ in 0..2_000 {
        let d1 = Dyadic::from_ratio(rng.log_uniform(-4.0, 1.0)).unwrap();
        let d2 = Dyadic::from_ratio(rng.log_uniform(-6.0, -1.0)).unwrap();
        let (a, b) =
            (rng.range_i128(-70_000, 70_000) as i64, rng.range_i128(-70_000, 70_000) as i64);
        let (c, d) =
            (rng.range_i128(-1 << 28, 1 << 28) as i64, rng.range_i128(-1 << 28, 1 << 28) as i64);
        let r = residual_range((a, b), d1, (c, d), d2, policy);
        for _ in 0..10 {
            let x = rng.range_i128(a.min(b) as i128, a.max(b) as i128) as i32;
            let y = rng.range_i128(c.min(d) as i128, c.max(d) as i128) as i32;
            let s = residual_add(x, d1, y, d2, policy) as i128;
            assert!(r.lo <= s && s <= r.hi);
        }
    }
}
