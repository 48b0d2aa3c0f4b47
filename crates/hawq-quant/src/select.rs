//! Order statistics without a full sort (`select_nth_unstable`), shared by the percentile
//! weight quantizer and the percentile range observer.

/// The `ka`-th and `kb`-th smallest values of `xs` (1-based ranks, each in `1..=xs.len()`),
/// found with at most two linear-time selections. Reorders `xs`.
///
/// Values are compared with `f32::total_cmp`; callers reject NaN beforehand.
pub(crate) fn two_order_stats(xs: &mut [f32], ka: usize, kb: usize) -> (f32, f32) {
    debug_assert!((1..=xs.len()).contains(&ka) && (1..=xs.len()).contains(&kb));
    let (ia, ib) = (ka - 1, kb - 1);
    let (first, second) = if ia >= ib { (ia, ib) } else { (ib, ia) };
    // After this selection everything left of `first` is ≤ xs[first], so the smaller rank can be
    // selected inside that prefix alone.
    xs.select_nth_unstable_by(first, f32::total_cmp);
    let at_first = xs[first];
    let at_second = if second == first {
        at_first
    } else {
        *xs[..first].select_nth_unstable_by(second, f32::total_cmp).1
    };
    if ia >= ib { (at_first, at_second) } else { (at_second, at_first) }
}

/// A 1-based rank from a fractional position, clamped into `1..=n` (`n ≥ 1`).
pub(crate) fn clamp_rank(position: f64, n: usize) -> usize {
    // `as usize` saturates (NaN → 0), and the clamp below repairs both ends.
    (position as usize).clamp(1, n)
}

/// The f64 a user meant by an f32 parameter such as 99.9: the shortest decimal that rounds to
/// the f32, parsed as f64. The rank formulas then match the reference, which evaluates them in
/// f64 on the decimal it was given (with `99.9f32 as f64 = 99.900001525…`, `1000·p/100` would
/// be 999.000015 and its ceiling 1000 instead of 999).
pub(crate) fn decimal_f64(p: f32) -> f64 {
    // Display of a finite f32 is its shortest round-trip decimal, which always parses.
    p.to_string().parse().unwrap_or(p as f64)
}
