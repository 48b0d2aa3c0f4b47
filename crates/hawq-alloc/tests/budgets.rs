//! Budget parsing, fraction resolution and infeasibility messages.

use hawq_alloc::{
    AllocError, Budget, BudgetKind, LayerTable, Limit, Model, allocate, parse_budget,
};

fn absolute(kind: BudgetKind, text: &str) -> f64 {
    match parse_budget(kind, text).unwrap().limit {
        Limit::Absolute(v) => v,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn units_scale_to_base_units() {
    use BudgetKind::*;
    assert_eq!(absolute(Size, "12MB"), 12e6);
    assert_eq!(absolute(Size, "500kB"), 500e3);
    assert_eq!(absolute(Size, "1.5GB"), 1.5e9);
    assert_eq!(absolute(Size, "2MiB"), 2.0 * 1048576.0);
    assert_eq!(absolute(Size, " 3 mb "), 3e6);
    assert_eq!(absolute(Size, "4096B"), 4096.0);
    assert_eq!(absolute(Bops, "150GBOPs"), 150e9);
    assert_eq!(absolute(Bops, "2.5TBOPs"), 2.5e12);
    assert_eq!(absolute(Bops, "900MBOPs"), 900e6);
    assert_eq!(absolute(Latency, "3.5ms"), 3.5);
    assert_eq!(absolute(Latency, "800us"), 0.8);
    assert_eq!(absolute(Latency, "2s"), 2000.0);
    assert_eq!(absolute(Latency, "1e3 us"), 1.0);
}

#[test]
fn bare_numbers_up_to_one_are_fractions() {
    assert_eq!(
        parse_budget(BudgetKind::Size, "0.5").unwrap(),
        Budget::fraction(BudgetKind::Size, 0.5)
    );
    assert_eq!(parse_budget(BudgetKind::Bops, "1").unwrap().limit, Limit::Fraction(1.0));
    assert_eq!(parse_budget(BudgetKind::Latency, "0").unwrap().limit, Limit::Fraction(0.0));
}

#[test]
fn bad_budgets_explain_themselves() {
    let msg = parse_budget(BudgetKind::Size, "12").unwrap_err().to_string();
    assert!(msg.contains("MB") && msg.contains("MiB") && msg.contains("fraction"), "{msg}");
    let msg = parse_budget(BudgetKind::Latency, "12").unwrap_err().to_string();
    assert!(msg.contains("ms") && msg.contains("us"), "{msg}");
    let msg = parse_budget(BudgetKind::Latency, "12MB").unwrap_err().to_string();
    assert!(msg.contains("unknown unit `MB`") && msg.contains("ms"), "{msg}");
    let msg = parse_budget(BudgetKind::Bops, "12GB").unwrap_err().to_string();
    assert!(msg.contains("GBOPs"), "{msg}");
    assert!(parse_budget(BudgetKind::Size, "-1MB").is_err());
    assert!(parse_budget(BudgetKind::Size, "MB").is_err());
    assert!(parse_budget(BudgetKind::Size, "").is_err());
    assert!(parse_budget(BudgetKind::Size, "1.2.3MB").is_err());
    assert!(parse_budget(BudgetKind::Size, "NaN").is_err());
}

/// Two layers of 1M and 3M parameters: 2 MB at 4 bits, 4 MB at 8 bits.
fn two_layers() -> LayerTable {
    LayerTable::from_json(
        r#"{"layers":[
        {"name":"a","params":1000000,"macs":1000,"trace":1.0,"delta":{"4":1.0,"8":0.0},"latency_ms":{"4":1.0,"8":2.0}},
        {"name":"b","params":3000000,"macs":3000,"trace":1.0,"delta":{"4":2.0,"8":0.0},"latency_ms":{"4":1.5,"8":1.0}}]}"#,
    )
    .unwrap()
}

#[test]
fn fractions_interpolate_between_all_low_and_all_high_totals() {
    let model = Model::new(&two_layers()).unwrap();
    let size = |a| model.resolve(&Budget::fraction(BudgetKind::Size, a)).unwrap();
    assert_eq!((size(0.0), size(0.5), size(1.0)), (2e6, 3e6, 4e6));
    // Latency: all-4 is 2.5 ms, all-8 is 3.0 ms, whatever the order.
    let lat = model.resolve(&Budget::fraction(BudgetKind::Latency, 0.25)).unwrap();
    assert!((lat - 2.625).abs() < 1e-12);
    assert!(model.resolve(&Budget::fraction(BudgetKind::Size, 1.5)).is_err());
}

#[test]
fn pinned_layers_count_at_their_width() {
    let mut t = two_layers();
    t.layers[1].pin = Some(8);
    let model = Model::new(&t).unwrap();
    let size = |a| model.resolve(&Budget::fraction(BudgetKind::Size, a)).unwrap();
    assert_eq!((size(0.0), size(1.0)), (3.5e6, 4e6));
    let a = allocate(&t, &[Budget::fraction(BudgetKind::Size, 0.0)]).unwrap();
    assert_eq!((a.bits["a"], a.bits["b"]), (4, 8));
}

#[test]
fn infeasible_size_states_the_smallest_size() {
    let err =
        allocate(&two_layers(), &[parse_budget(BudgetKind::Size, "1.9MB").unwrap()]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "size budget 1.9 MB is infeasible; the smallest achievable size is 2.0 MB"
    );
    // Under a latency budget of 2 ms only a@4, b@8 fits: size ≥ 1 MB·½ + 3 MB = 3.5 MB.
    let budgets = [
        parse_budget(BudgetKind::Size, "3.4MB").unwrap(),
        parse_budget(BudgetKind::Latency, "2ms").unwrap(),
    ];
    let err = allocate(&two_layers(), &budgets).unwrap_err();
    assert_eq!(
        err.to_string(),
        "size budget 3.4 MB is infeasible; the smallest achievable size is 3.5 MB under the other budgets"
    );
    match err {
        AllocError::Infeasible { min_value, limit_value, .. } => {
            assert_eq!((min_value, limit_value), (3.5e6, 3.4e6))
        }
        e => panic!("{e}"),
    }
}

#[test]
fn combined_budgets_pick_the_best_feasible_allocation() {
    // Size 3.5 MB allows a@4,b@8 (Ω=1) or all-4 (Ω=3); a latency of 2.0 ms allows only a@4,b@8.
    let budgets =
        [Budget::absolute(BudgetKind::Size, 3.5e6), Budget::absolute(BudgetKind::Latency, 2.0)];
    let a = allocate(&two_layers(), &budgets).unwrap();
    assert_eq!((a.bits["a"], a.bits["b"], a.objective), (4, 8, 1.0));
    assert_eq!((a.size_bytes, a.latency_ms), (3.5e6, Some(2.0)));
    assert_eq!(a.bops, 1000.0 * 16.0 + 3000.0 * 64.0);
    assert!(a.optimal);
}

#[test]
fn duplicate_budget_and_missing_latency_are_errors() {
    let b = Budget::fraction(BudgetKind::Size, 0.5);
    assert!(matches!(allocate(&two_layers(), &[b, b]), Err(AllocError::DuplicateBudget { .. })));
    let mut t = two_layers();
    t.layers[1].latency_ms = None;
    let err = allocate(&t, &[Budget::fraction(BudgetKind::Latency, 0.5)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a latency budget needs `latency_ms` on every layer; it is missing on: b"
    );
    let a = allocate(&t, &[b]).unwrap();
    assert_eq!(a.latency_ms, None);
}
