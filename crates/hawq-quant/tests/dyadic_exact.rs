//! `Dyadic::from_ratio` / `from_scales` against an exact rational reference.
//!
//! Every finite f64 is `sig · 2^exp2` with an integer `sig < 2^53`; for `d = (m, e)` the value
//! `v = r · 2^e` must satisfy `2m − 1 ≤ 2v < 2m + 1` (round half up) with `m ∈ [2^30, 2^31)`.
//! Both sides are compared as i128 integers, so the check has no float error. The condition
//! also pins `e`: only one shift puts a half-up rounding of `v` inside `[2^30, 2^31)`.

mod common;

use common::Rng;
use hawq_quant::Dyadic;
use hawq_quant::dyadic::frexp;

/// `r = sig · 2^exp2` exactly, from the IEEE-754 fields.
fn decode(r: f64) -> (u64, i32) {
    let bits = r.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    if biased == 0 { (frac, -1074) } else { (frac | 1 << 52, biased - 1075) }
}

/// Panics unless `d` is the half-up-rounded, normalised 31-bit dyadic of `r > 0`.
fn assert_correctly_rounded(r: f64, d: Dyadic) {
    let m = d.mult as i128;
    assert!((1 << 30..1 << 31).contains(&m), "r = {r:e}: mantissa {m} outside [2^30, 2^31)");
    let (sig, exp2) = decode(r);
    // 2v = sig · 2^t with t = exp2 + e + 1.
    let t = exp2 + d.shift + 1;
    assert!(t.abs() < 80, "r = {r:e}: shift {} is wildly off (t = {t})", d.shift);
    let (two_v, lo, hi) = if t >= 0 {
        ((sig as i128) << t, 2 * m - 1, 2 * m + 1)
    } else {
        (sig as i128, (2 * m - 1) << -t, (2 * m + 1) << -t)
    };
    assert!(lo <= two_v && two_v < hi, "r = {r:e} ({sig}·2^{exp2}) gave {d:?}");
}

/// The spec's literal recipe through `frexp` and float arithmetic, for normal ratios.
fn spec_recipe(r: f64) -> (i64, i32) {
    let (mant, ex) = frexp(r);
    let mut m = (mant * 2f64.powi(31) + 0.5).floor() as i64;
    let mut e = 31 - ex;
    if m == 1 << 31 {
        m = 1 << 30;
        e -= 1;
    }
    (m, e)
}

/// `2^k` for every k the f64 format holds, subnormals included (`powi` loses them).
fn pow2(k: i32) -> f64 {
    assert!((-1074..=1023).contains(&k));
    if k >= -1022 {
        f64::from_bits(((k + 1023) as u64) << 52)
    } else {
        f64::from_bits(1 << (k + 1074))
    }
}

fn check(r: f64) -> Dyadic {
    let d = Dyadic::from_ratio(r).unwrap();
    assert_correctly_rounded(r, d);
    d
}

#[test]
fn log_uniform_ratios_1e_minus_12_to_1e9() {
    const SAMPLES: usize = 2_000_000;
    let mut rng = Rng::new(0x5EED_0001);
    for i in 0..SAMPLES {
        let r = rng.log_uniform(-12.0, 9.0);
        let d = check(r);
        if i % 16 == 0 {
            assert_eq!(spec_recipe(r), (d.mult as i64, d.shift), "r = {r:e}");
        }
    }
}

#[test]
fn random_bit_patterns_cover_every_exponent() {
    const SAMPLES: usize = 1_000_000;
    let mut rng = Rng::new(0x5EED_0002);
    let mut n = 0;
    while n < SAMPLES {
        let r = f64::from_bits(rng.next_u64() & (u64::MAX >> 1)); // sign bit cleared
        if !r.is_finite() || r == 0.0 {
            continue;
        }
        let d = check(r);
        if r.is_normal() {
            assert_eq!(spec_recipe(r), (d.mult as i64, d.shift), "r = {r:e}");
        }
        n += 1;
    }
}

#[test]
fn subnormal_ratios() {
    const SAMPLES: usize = 100_000;
    let mut rng = Rng::new(0x5EED_0003);
    for _ in 0..SAMPLES {
        let frac = rng.next_u64() & ((1 << 52) - 1);
        let r = f64::from_bits(frac.max(1));
        assert!(r.is_subnormal());
        check(r);
    }
    // The smallest subnormal 2^-1074 = 2^30 / 2^1104.
    assert_eq!(Dyadic::from_ratio(5e-324).unwrap(), Dyadic { mult: 1 << 30, shift: 1104 });
    // The largest subnormal (2^52 − 1)·2^-1074 rounds up to 2^-1022 = 2^30 / 2^1052.
    let biggest = f64::from_bits((1 << 52) - 1);
    assert_eq!(Dyadic::from_ratio(biggest).unwrap(), Dyadic { mult: 1 << 30, shift: 1052 });
}

#[test]
fn f32_scale_triples_through_from_scales() {
    const SAMPLES: usize = 1_000_000;
    let mut rng = Rng::new(0x5EED_0004);
    let f32_scale = |rng: &mut Rng| loop {
        // Mostly realistic scales, one in eight an arbitrary positive f32 (subnormals too).
        let v = if rng.next_u64().is_multiple_of(8) {
            f32::from_bits(rng.next_u64() as u32 & 0x7fff_ffff)
        } else {
            rng.log_uniform(-10.0, 3.0) as f32
        };
        if v.is_finite() && v > 0.0 {
            break v;
        }
    };
    let mut zero_products = 0;
    for _ in 0..SAMPLES {
        let (a, b, c) = (f32_scale(&mut rng), f32_scale(&mut rng), f32_scale(&mut rng));
        // Exact product in f64 (24 + 24 bits), then one rounding to f32: the stored constant.
        let product = (a as f64 * b as f64) as f32;
        assert_eq!(product.to_bits(), (a * b).to_bits());
        if product.is_infinite() {
            assert!(Dyadic::from_scales(a, b, c).is_err());
            continue;
        }
        let r = product as f64 / c as f64;
        let d = Dyadic::from_scales(a, b, c).unwrap();
        assert_eq!(d, Dyadic::from_ratio(r).unwrap());
        if product == 0.0 {
            zero_products += 1;
            assert_eq!(d, Dyadic::ZERO);
        } else {
            assert_correctly_rounded(r, d);
        }
    }
    assert!(zero_products < SAMPLES / 10, "sampling degenerated: {zero_products} zero products");
}

#[test]
fn worked_example_from_the_spec() {
    let d = Dyadic::from_scales(0.0123, 0.0041, 0.0567).unwrap();
    assert_eq!(d, Dyadic { mult: 1955850769, shift: 41 });
    let r = (0.0123f32 * 0.0041f32) as f64 / 0.0567f32 as f64;
    assert!((r - 8.8942e-4).abs() < 1e-7);
    assert_correctly_rounded(r, d);
}

#[test]
fn powers_of_two_and_their_neighbours() {
    for k in -1074..=1023 {
        let p = pow2(k);
        // 2^k = 2^30 / 2^(30 − k) exactly.
        assert_eq!(Dyadic::from_ratio(p).unwrap(), Dyadic { mult: 1 << 30, shift: 30 - k });
        // Just below a power of two the 31-bit mantissa rounds up to 2^31 and is renormalised,
        // giving the same dyadic as the power itself (as long as the neighbour is normal).
        let below = p.next_down();
        if below.is_normal() {
            assert_eq!(check(below), Dyadic { mult: 1 << 30, shift: 30 - k });
        }
        // Just above: mantissa 2^30 (the excess is 2^-52 relative, far below half a unit).
        // Only for normal powers: above a subnormal power the next value is far away.
        if (-1022..1023).contains(&k) {
            assert_eq!(check(p.next_up()), Dyadic { mult: 1 << 30, shift: 30 - k });
        }
    }
}

#[test]
fn mantissa_ties_round_up() {
    let mut rng = Rng::new(0x5EED_0005);
    for _ in 0..10_000 {
        // r = sig · 2^exp2 with sig = q·2^22 + 2^21 is exactly (q + 1/2) units of the mantissa.
        let q = rng.range_i128(1 << 30, (1 << 31) - 1) as u64;
        let exp2 = rng.range_i128(-1000, 900) as i32;
        let tie = q << 22 | 1 << 21;
        let r = tie as f64 * pow2(exp2);
        let d = check(r);
        let expect = if q + 1 == 1 << 31 { (1 << 30, -23 - exp2) } else { (q + 1, -22 - exp2) };
        assert_eq!((d.mult as u64, d.shift), expect, "tie at q = {q}");
        // One unit in the last place below the tie rounds down.
        let below = check(((tie - 1) as f64) * pow2(exp2));
        assert_eq!((below.mult as u64, below.shift), (q, -22 - exp2));
    }
    // The very top: (2^31 − 1/2) units rounds up to 2^31 and is renormalised to (2^30, e − 1).
    let top = (((1u64 << 31) - 1) << 22 | 1 << 21) as f64 * 2f64.powi(-53);
    assert_eq!(Dyadic::from_ratio(top).unwrap(), Dyadic { mult: 1 << 30, shift: 30 });
}

#[test]
fn large_ratios_give_non_positive_shifts() {
    // r ≥ 2^30 is the only way to get e ≤ 0.
    assert_eq!(Dyadic::from_ratio(2f64.powi(30)).unwrap(), Dyadic { mult: 1 << 30, shift: 0 });
    assert_eq!(Dyadic::from_ratio(2f64.powi(30).next_down()).unwrap().shift, 0);
    assert_eq!(check(2f64.powi(31) * 0.75), Dyadic { mult: 3 << 29, shift: 0 });
    assert_eq!(Dyadic::from_ratio(2f64.powi(40)).unwrap(), Dyadic { mult: 1 << 30, shift: -10 });
    // f64::MAX = (2^53 − 1)·2^971 rounds up to 2^1024 = 2^30 · 2^994.
    assert_eq!(check(f64::MAX), Dyadic { mult: 1 << 30, shift: -994 });
    for r in [1.0, 3.0, 1e9, 2f64.powi(30) - 1.0] {
        assert!(check(r).shift > 0, "r = {r}");
    }
}

#[test]
fn zero_and_invalid_ratios() {
    assert_eq!(Dyadic::from_ratio(0.0).unwrap(), Dyadic::ZERO);
    assert_eq!(Dyadic::from_ratio(-0.0).unwrap(), Dyadic::ZERO);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -1.0, -5e-324] {
        let err = Dyadic::from_ratio(bad).unwrap_err();
        assert!(err.ratio.is_nan() || err.ratio == bad);
    }
    assert!(Dyadic::from_scales(1.0, 1.0, 0.0).is_err()); // 1/0 = ∞
    assert!(Dyadic::from_scales(f32::NAN, 1.0, 1.0).is_err());
    assert_eq!(Dyadic::from_scales(0.0, 1.0, 1.0).unwrap(), Dyadic::ZERO);
}

#[test]
fn value_round_trips_for_ordinary_shifts() {
    let mut rng = Rng::new(0x5EED_0006);
    for _ in 0..100_000 {
        let r = rng.log_uniform(-12.0, 9.0);
        let d = Dyadic::from_ratio(r).unwrap();
        // m has 31 bits, so the relative error is at most 2^-31 (half a unit over 2^30).
        assert!(((d.value() - r) / r).abs() <= 2f64.powi(-31), "r = {r:e}: {d:?}");
    }
}
