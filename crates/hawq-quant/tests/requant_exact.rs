//! `Dyadic::apply` / `apply_with` against an exact rational reference.
//!
//! The reference rounds `n / 2^e` (with `n = x·m` in i128) by integer division on magnitudes,
//! a different formulation from the crate's shift-and-remainder one, so a shared mistake is
//! unlikely.

mod common;

use common::Rng;
use hawq_quant::{ActFormat, Dyadic, Rounding};

const POLICIES: [Rounding; 3] = [Rounding::HalfAwayFromZero, Rounding::HalfUp, Rounding::HalfEven];

fn saturate(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `round(x·m / 2^e)` under `policy`, saturated to i64, by exact integer division.
fn reference(x: i64, m: i32, e: i32, policy: Rounding) -> i64 {
    let n = x as i128 * m as i128;
    if e <= 0 {
        let k = e.unsigned_abs();
        let sat = if n < 0 { i128::MIN } else { i128::MAX };
        return saturate(if n == 0 {
            0
        } else if k >= 100 {
            sat
        } else {
            n.checked_mul(1i128 << k).unwrap_or(sat)
        });
    }
    if e >= 126 {
        // |n| < 2^95, so |n / 2^e| < 2^-31: rounds to 0 under every policy.
        assert!(n.unsigned_abs() < 1 << 95);
        return 0;
    }
    let d = 1i128 << e;
    let (sign, mag) = (n.signum(), n.abs());
    let v = match policy {
        // floor(n/d + 1/2) = floor((2n + d) / 2d); 2d ≤ 2^126 and |2n| < 2^96.
        Rounding::HalfUp => (2 * n + d).div_euclid(2 * d),
        Rounding::HalfAwayFromZero => sign * ((2 * mag + d) / (2 * d)),
        Rounding::HalfEven => {
            let (q, r) = (mag / d, mag % d);
            let up = 2 * r > d || (2 * r == d && q % 2 == 1);
            sign * (q + up as i128)
        }
    };
    saturate(v)
}

fn assert_all_policies(x: i64, d: Dyadic) {
    for policy in POLICIES {
        assert_eq!(
            d.apply_with(x, policy),
            reference(x, d.mult, d.shift, policy),
            "x = {x}, {d:?}, {policy:?}"
        );
    }
    assert_eq!(d.apply(x), d.apply_with(x, Rounding::HalfAwayFromZero));
}

const EXTREME_X: [i64; 14] = [
    0,
    1,
    -1,
    2,
    -2,
    i32::MAX as i64,
    i32::MIN as i64,
    i32::MAX as i64 - 1,
    i32::MIN as i64 + 1,
    1 << 40,
    -(1 << 40),
    i64::MAX,
    i64::MIN,
    i64::MIN + 1,
];

const EXTREME_M: [i32; 7] = [1 << 30, i32::MAX, 3 << 29, (1 << 30) + 1, 1955850769, 0, 1];

#[test]
fn extreme_accumulators_at_every_shift() {
    let mut shifts: Vec<i32> = (-70..=140).collect();
    shifts.extend([200, 1052, 1104, i32::MAX, -993, -1000, i32::MIN]);
    for &shift in &shifts {
        for &mult in &EXTREME_M {
            for &x in &EXTREME_X {
                assert_all_policies(x, Dyadic { mult, shift });
            }
        }
    }
}

#[test]
fn sampled_accumulators_ordinary_shifts() {
    const SAMPLES: usize = 1_000_000; // × 3 policies
    let mut rng = Rng::new(0xACC_0001);
    for i in 0..SAMPLES {
        // Half the accumulators uniform over i32, half log-spread so small values are common.
        let x = if i % 2 == 0 {
            rng.range_i128(i32::MIN as i128, i32::MAX as i128) as i64
        } else {
            let bits = rng.range_i128(0, 31) as u32;
            let mag = rng.range_i128(0, (1i128 << bits) - 1) as i64;
            if rng.next_u64() & 1 == 0 { mag } else { -mag }
        };
        let mult = rng.range_i128(1 << 30, (1 << 31) - 1) as i32;
        let shift = rng.range_i128(1, 62) as i32;
        assert_all_policies(x, Dyadic { mult, shift });
    }
}

#[test]
fn sampled_accumulators_unusual_shifts_and_i64_inputs() {
    const SAMPLES: usize = 200_000;
    let mut rng = Rng::new(0xACC_0002);
    for _ in 0..SAMPLES {
        let x = rng.next_u64() as i64 >> rng.range_i128(0, 63);
        let mult = rng.range_i128(1 << 30, (1 << 31) - 1) as i32;
        let shift = rng.range_i128(-70, 130) as i32;
        assert_all_policies(x, Dyadic { mult, shift });
    }
}

/// An exact tie: `x·m ≡ 2^(e−1) (mod 2^e)`. With `m` having exactly `e − 1` trailing zeros and
/// odd `x` (or, for large `e`, `m = 2^30` and `x = odd · 2^(e−31)`) every product is a tie.
fn tie_case(rng: &mut Rng, e: i32) -> (i64, i32) {
    let odd = (rng.range_i128(0, 1 << 20) * 2 + 1) as i64;
    let odd = if rng.next_u64() & 1 == 0 { odd } else { -odd };
    if e <= 30 {
        let m = (1i32 << 30) | (1i32 << (e - 1)); // trailing zeros: exactly e − 1
        (odd, m)
    } else {
        (odd << (e - 31), 1 << 30)
    }
}

#[test]
fn exact_ties_follow_each_policy() {
    let mut rng = Rng::new(0xACC_0003);
    for e in 1..=82 {
        for _ in 0..200 {
            let (x, mult) = tie_case(&mut rng, e);
            let d = Dyadic { mult, shift: e };
            let n = x as i128 * mult as i128;
            assert_eq!(n.rem_euclid(1 << e), 1 << (e - 1), "not a tie: x = {x}, {d:?}");
            let floor = n.div_euclid(1 << e) as i64; // the tie is floor + 1/2
            let up = d.apply_with(x, Rounding::HalfUp);
            let away = d.apply_with(x, Rounding::HalfAwayFromZero);
            let even = d.apply_with(x, Rounding::HalfEven);
            assert_eq!(up, floor + 1);
            assert_eq!(away, if x > 0 { floor + 1 } else { floor });
            assert_eq!(even, if floor % 2 == 0 { floor } else { floor + 1 });
            assert_all_policies(x, d);
        }
    }
    // Hand-checked: 0.5 = 2^30 / 2^31.
    let half = Dyadic { mult: 1 << 30, shift: 31 };
    assert_eq!([3, -3, 5, -5].map(|x| half.apply(x)), [2, -2, 3, -3]);
    assert_eq!([3, -3, 5, -5].map(|x| half.apply_with(x, Rounding::HalfUp)), [2, -1, 3, -2]);
    assert_eq!([3, -3, 5, -5].map(|x| half.apply_with(x, Rounding::HalfEven)), [2, -2, 2, -2]);
}

/// The i64 form the spec recommends for kernels, `(x·m + 2^(e−1) − [x<0]) >> e`, agrees with
/// `apply` for every i32 accumulator and shift 1..=62 (it cannot overflow there).
#[test]
fn tvm_i64_formula_agrees_on_i32_accumulators() {
    let tvm = |x: i32, m: i32, e: i32| -> i64 {
        (x as i64 * m as i64 + (1i64 << (e - 1)) - (x < 0) as i64) >> e
    };
    let mut rng = Rng::new(0xACC_0004);
    for e in 1..=62 {
        for &x in &[0, 1, -1, i32::MAX, i32::MIN, i32::MIN + 1] {
            for &m in &EXTREME_M[..5] {
                assert_eq!(tvm(x, m, e), Dyadic { mult: m, shift: e }.apply(x as i64));
            }
        }
        for _ in 0..2_000 {
            let (x, m) = if e <= 31 { tie_case(&mut rng, e) } else { (rng.next_u64() as i64, 0) };
            let x = x as i32; // ties for small e stay ties after narrowing (x is small and odd)
            let m = if m == 0 { rng.range_i128(1 << 30, (1 << 31) - 1) as i32 } else { m };
            assert_eq!(tvm(x, m, e), Dyadic { mult: m, shift: e }.apply(x as i64), "{x} {m} {e}");
        }
    }
}

#[test]
fn requantize_saturates_to_the_format() {
    let one = Dyadic::ONE;
    assert_eq!(one.requantize(300, ActFormat::signed(8)), 127);
    assert_eq!(one.requantize(-300, ActFormat::signed(8)), -128);
    assert_eq!(one.requantize(-3, ActFormat::unsigned(4)), 0);
    assert_eq!(one.requantize(16, ActFormat::unsigned(4)), 15);
    assert_eq!(one.requantize(40_000, ActFormat::signed(16)), 32767);
    assert_eq!(one.requantize(i64::MAX, ActFormat::signed(32)), i32::MAX as i64);
    let half = Dyadic { mult: 1 << 30, shift: 31 };
    assert_eq!(half.requantize(255, ActFormat::unsigned(8)), 128); // 127.5 → 128
    assert_eq!(half.requantize(-255, ActFormat::signed(8)), -128); // −127.5 → −128
}
