//! Hand-computed golden values for the weight, bias and activation quantizers, plus properties.
//! Inputs are chosen so every scale is exact (a power of two) unless the test says otherwise.

use hawq_quant::quantizer::{signed_levels, weight_scale_for_range};
use hawq_quant::{
    ActFormat, QuantError, quantize_bias, quantize_weights, quantize_weights_percentile,
    weight_percentile_ranks,
};
use proptest::prelude::*;

#[test]
fn levels_per_width() {
    assert_eq!([2, 4, 8, 16, 32].map(signed_levels), [1, 7, 127, 32767, i32::MAX]);
    // Out-of-domain widths are clamped instead of overflowing.
    assert_eq!(signed_levels(0), 0);
    assert_eq!(signed_levels(40), i32::MAX);
}

#[test]
fn ties_go_to_even_4_bit() {
    // max |w| = 7 → s = 7 / 7 = 1 exactly, so w / s is w itself.
    let w = [7.0, 2.5, 3.5, -2.5, -3.5, 0.5, 1.5, -0.5, -7.0, 6.5];
    let q = quantize_weights(&w, 1, 4).unwrap();
    assert_eq!(q.scales, [1.0]);
    assert_eq!(q.values, [7, 2, 4, -2, -4, 0, 2, 0, -7, 6]);
    assert_eq!(q.bits, 4);
}

#[test]
fn ties_go_to_even_8_bit() {
    let w = [127.0, 126.5, 125.5, -0.5, -1.5, 0.0, -127.0, -126.5];
    let q = quantize_weights(&w, 1, 8).unwrap();
    assert_eq!(q.scales, [1.0]);
    assert_eq!(q.values, [127, 126, 126, 0, -2, 0, -127, -126]);
}

#[test]
fn per_channel_scales_and_all_zero_channel() {
    // Channel 0: max |w| = 14 → s = 2. Channel 1: all zero → s = 1e-8 / 7 (the floor).
    let w = [14.0, 1.0, -3.0, 0.0, -0.0, 0.0];
    let q = quantize_weights(&w, 2, 4).unwrap();
    assert_eq!(q.scales, [2.0, 1e-8f32 / 7.0]);
    assert_eq!(q.values, [7, 0, -2, 0, 0, 0]); // 0.5 → 0 and −1.5 → −2 are ties
}

#[test]
fn negative_only_channel() {
    // max |w| = 3.5 → s = 0.5; −3.5/0.5 = −7, −1.75/0.5 = −3.5 → −4, −0.875/0.5 = −1.75 → −2.
    let q = quantize_weights(&[-3.5, -1.75, -0.875, -0.25], 1, 4).unwrap();
    assert_eq!(q.scales, [0.5]);
    assert_eq!(q.values, [-7, -4, -2, 0]); // −0.25/0.5 = −0.5 → 0 (even)
}

#[test]
fn constant_channel_maps_to_the_top_level() {
    // s = 0.3/127 in f32 is not exact; w / s still lands within rounding of 127.
    let q = quantize_weights(&[0.3; 5], 1, 8).unwrap();
    assert_eq!(q.scales, [0.3f32 / 127.0]);
    assert_eq!(q.values, [127; 5]);
    let q = quantize_weights(&[-0.3; 3], 1, 4).unwrap();
    assert_eq!(q.values, [-7; 3]);
}

#[test]
fn weight_errors_are_typed() {
    assert!(matches!(quantize_weights(&[1.0; 4], 1, 1), Err(QuantError::Bits { bits: 1, .. })));
    assert!(matches!(quantize_weights(&[1.0; 4], 1, 9), Err(QuantError::Bits { bits: 9, .. })));
    let e = quantize_weights(&[1.0; 10], 3, 8).unwrap_err();
    assert_eq!(e, QuantError::Channels { len: 10, channels: 3 });
    assert!(quantize_weights(&[1.0; 4], 0, 8).is_err());
    assert!(quantize_weights(&[], 1, 8).is_err());
    let e = quantize_weights(&[1.0, 2.0, f32::NAN, f32::INFINITY], 1, 8).unwrap_err();
    assert_eq!(e, QuantError::NonFinite { what: "weights", index: 2 });
    assert!(e.to_string().contains("weights") && e.to_string().contains("index 2"));
}

#[test]
fn percentile_ranks_follow_the_reference_formula() {
    // k_lo = ceil(N(100−p)/100), k_hi = ceil(N·p/100).
    assert_eq!(weight_percentile_ranks(100, 99.0), (1, 99));
    assert_eq!(weight_percentile_ranks(20, 90.0), (2, 18));
    // 99.9 is read as the decimal 99.9: 1000·99.9/100 = 999 exactly, not 999.000015 → 1000.
    assert_eq!(weight_percentile_ranks(1000, 99.9), (1, 999));
    assert_eq!(weight_percentile_ranks(576, 99.9), (1, 576)); // ceil(575.424) = 576
    assert_eq!(weight_percentile_ranks(7, 100.0), (1, 7)); // k_lo = 0 clamps to 1
    assert_eq!(weight_percentile_ranks(1, 99.0), (1, 1));
}

#[test]
fn percentile_weights_clip_outliers() {
    // N = 20, p = 90 → 2nd smallest (−7) and 18th smallest (6.5): s = 7/7 = 1.
    let w = [
        -100.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 2.5,
        3.5, 6.5, 100.0, 200.0,
    ];
    let q = quantize_weights_percentile(&w, 1, 4, 90.0).unwrap();
    assert_eq!(q.scales, [1.0]);
    // −100 saturates to −n−1 = −8: the only way that level appears.
    assert_eq!(q.values, [-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 2, 4, 6, 7, 7]);
    // p = 100 is the plain quantizer.
    assert_eq!(quantize_weights_percentile(&w, 2, 8, 100.0), quantize_weights(&w, 2, 8));
    for bad in [50.0, 30.0, 100.5, f32::NAN, 0.0] {
        let e = quantize_weights_percentile(&w, 1, 4, bad).unwrap_err();
        assert!(matches!(e, QuantError::InvalidParameter { name: "weight percentile", .. }));
    }
}

#[test]
fn bias_golden_values() {
    // s_b = 0.5 · 0.25 = 0.125 and 0.5 · 2^-10 = 2^-11.
    let q = quantize_bias(&[1.0, -3.0], 0.5, &[0.25, 2f32.powi(-10)]).unwrap();
    assert_eq!(q, [8, -6144]);
    // Ties: 0.0625/0.125 = 0.5 → 0, 0.1875/0.125 = 1.5 → 2, and symmetric.
    let q = quantize_bias(&[0.0625, 0.1875, -0.0625, -0.1875, 0.3125], 0.5, &[0.25; 5]).unwrap();
    assert_eq!(q, [0, 2, 0, -2, 2]);
    // Saturation at both ends of int32, and the exact top value.
    let q = quantize_bias(&[1e10, -1e10, 2147483647.0], 1e-3, &[1.0, 1.0, 1000.0]).unwrap();
    assert_eq!(q[..2], [i32::MAX, i32::MIN]);
    assert_eq!(q[2], i32::MAX); // 2^31 as f32 saturates to 2^31 − 1
    let q = quantize_bias(&[-2147483648.0], 1.0, &[1.0]).unwrap();
    assert_eq!(q, [i32::MIN]);
}

#[test]
fn bias_errors_are_typed() {
    let e = quantize_bias(&[1.0, 2.0], 1.0, &[1.0]).unwrap_err();
    assert_eq!(e, QuantError::Channels { len: 2, channels: 1 });
    let e = quantize_bias(&[1.0, f32::NAN], 1.0, &[1.0, 1.0]).unwrap_err();
    assert_eq!(e, QuantError::NonFinite { what: "bias", index: 1 });
    for (s_in, s_w) in [(0.0, 1.0), (-1.0, 1.0), (f32::INFINITY, 1.0), (1.0, f32::NAN)] {
        let e = quantize_bias(&[1.0], s_in, &[s_w]).unwrap_err();
        assert!(matches!(e, QuantError::InvalidParameter { .. }), "{s_in} {s_w}: {e}");
    }
    // Each scale is fine but their f32 product underflows to 0.
    let e = quantize_bias(&[1.0], 1e-30, &[1e-30]).unwrap_err();
    assert!(matches!(e, QuantError::InvalidParameter { name: "bias scale s_in·s_w", .. }));
}

#[test]
fn activation_formats() {
    let (s8, s16, u4, u8_) = (
        ActFormat::signed(8),
        ActFormat::signed(16),
        ActFormat::unsigned(4),
        ActFormat::unsigned(8),
    );
    assert_eq!(s8.range(), (-128, 127));
    assert_eq!(s16.range(), (-32768, 32767));
    assert_eq!(u4.range(), (0, 15));
    assert_eq!(u8_.range(), (0, 255));
    assert_eq!(ActFormat::signed(32).range(), (i32::MIN as i64, i32::MAX as i64));
    // Scales: signed max(|lo|, |hi|)/n, unsigned hi/(2^b − 1).
    assert_eq!(s8.scale_for_range(-127.0, 63.0), 1.0);
    assert_eq!(s8.scale_for_range(-1.0, 63.5), 0.5);
    assert_eq!(s16.scale_for_range(-100.0, 16383.5), 0.5);
    assert_eq!(u4.scale_for_range(0.0, 7.5), 0.5);
    assert_eq!(u8_.scale_for_range(0.0, 127.5), 0.5);
    assert_eq!(u8_.scale_for_range(1.0, 127.5), 0.5); // positive lower bound read as 0
    assert_eq!(u4.scale_for_range(-7.5, 0.0), 0.5); // a negative lower bound is kept
    assert_eq!(s8.scale_for_range(0.0, 0.0), 1e-8f32 / 127.0);
    assert_eq!(u4.scale_for_range(0.0, 0.0), 1e-8f32 / 15.0);
    // Quantize: half to even, then saturate.
    let q = |f: ActFormat, xs: &[f32]| xs.iter().map(|&x| f.quantize(x, 0.5)).collect::<Vec<_>>();
    assert_eq!(q(u4, &[-1.0, 7.75, 3.25, 3.75, 0.25, 7.0]), [0, 15, 6, 8, 0, 14]);
    assert_eq!(q(s8, &[-64.25, 63.75, -64.0, 63.5, 100.0, -0.75]), [-128, 127, -128, 127, 127, -2]);
    assert_eq!(q(u8_, &[127.25, 127.75, 200.0]), [254, 255, 255]);
    assert_eq!(q(s16, &[-0.25, 16383.75, -16384.25]), [0, 32767, -32768]);
    assert_eq!(s8.saturate(-1000), -128);
    assert_eq!(u4.saturate(7), 7);
}

#[test]
fn activation_format_widths_are_checked() {
    for f in [ActFormat::signed(8), ActFormat::signed(16), ActFormat::signed(32)] {
        assert_eq!(f.check(), Ok(f));
    }
    assert!(ActFormat::unsigned(4).check().is_ok() && ActFormat::unsigned(8).check().is_ok());
    for f in [ActFormat::signed(1), ActFormat::signed(33), ActFormat::unsigned(0)] {
        assert!(matches!(f.check(), Err(QuantError::Bits { .. })), "{f:?}");
    }
    assert!(ActFormat::unsigned(32).check().is_err()); // would not fit an i32
    // Unchecked formats never panic.
    let _ = (ActFormat::signed(0).range(), ActFormat::unsigned(99).scale_for_range(0.0, 1.0));
}

fn weights_strategy() -> impl Strategy<Value = (Vec<f32>, usize, u32)> {
    (1usize..5, 1usize..40, prop_oneof![Just(4u32), Just(8u32)]).prop_flat_map(|(c, k, bits)| {
        (prop::collection::vec(-50.0f32..50.0, c * k), Just(c), Just(bits))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Levels stay in [−n, n], the largest magnitude hits ±n, and quantizing −w gives −q.
    #[test]
    fn weight_properties((w, c, bits) in weights_strategy()) {
        let q = quantize_weights(&w, c, bits).unwrap();
        let n = signed_levels(bits) as i8;
        let per = w.len() / c;
        for (ch, (vals, ws)) in q.values.chunks(per).zip(w.chunks(per)).enumerate() {
            prop_assert!(vals.iter().all(|&v| (-n..=n).contains(&v)));
            let amax = ws.iter().fold(0.0f32, |a, &x| a.max(x.abs()));
            if amax >= 1e-6 {
                prop_assert_eq!(vals.iter().map(|v| v.abs()).max(), Some(n), "channel {}", ch);
            }
        }
        let neg: Vec<f32> = w.iter().map(|x| -x).collect();
        let qn = quantize_weights(&neg, c, bits).unwrap();
        prop_assert_eq!(&qn.scales, &q.scales);
        prop_assert_eq!(qn.values, q.values.iter().map(|v| -v).collect::<Vec<_>>());
    }

    /// The percentile quantizer's scale comes from the ranked values of a full sort.
    #[test]
    fn percentile_matches_sorted_reference((w, c, bits) in weights_strategy(), p in 50.5f32..=100.0) {
        let q = quantize_weights_percentile(&w, c, bits, p).unwrap();
        let per = w.len() / c;
        let (k_lo, k_hi) = weight_percentile_ranks(per, p);
        prop_assert!(k_lo <= k_hi);
        for (ch, ws) in w.chunks(per).enumerate() {
            let mut sorted = ws.to_vec();
            sorted.sort_by(f32::total_cmp);
            let s = weight_scale_for_range(sorted[k_lo - 1], sorted[k_hi - 1], bits);
            prop_assert_eq!(q.scales[ch], s);
        }
    }
}
