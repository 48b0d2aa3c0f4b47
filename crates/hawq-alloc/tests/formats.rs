//! JSON forms of the table, the allocation and the sweep.

use hawq_alloc::{Allocation, BudgetKind, IlpSolver, LayerTable, pareto_with, render_json};

const TABLE: &str = r#"{"layers":[{"name":"conv1","params":36864,"macs":115605504,"trace":0.25,"delta":{"4":0.003,"8":0.00001},"latency_ms":{"4":0.21,"8":0.3},"pin":8},{"name":"conv2","params":36864,"macs":115605504,"trace":0.5,"delta":{"4":0.004,"8":0.000012}},{"name":"ds","params":8192,"macs":25690112,"trace":1.5,"delta":{"4":0.001,"8":3e-6}}],"tie":[["conv2","ds"]]}"#;

#[test]
fn table_round_trips_byte_for_byte() {
    let table = LayerTable::from_json(TABLE).unwrap();
    assert_eq!(table.layers[0].pin, Some(8));
    assert_eq!(table.layers[1].latency_ms, None);
    assert_eq!(table.tie, vec![vec!["conv2".to_string(), "ds".to_string()]]);
    assert_eq!(table.to_json().unwrap(), TABLE);
    assert_eq!(LayerTable::from_json(&table.to_json().unwrap()).unwrap(), table);
    // `tie` may be left out.
    let plain = LayerTable::from_json(r#"{"layers":[]}"#).unwrap();
    assert!(plain.tie.is_empty());
}

#[test]
fn table_keeps_trace_provenance_and_the_allocator_ignores_it() {
    let with = TABLE.replace(
        r#""delta":{"4":0.004,"8":0.000012}}"#,
        r#""delta":{"4":0.004,"8":0.000012},"trace_stderr":0.01,"method":"hutchinson"}"#,
    );
    let table = LayerTable::from_json(&with).unwrap();
    assert_eq!(table.layers[1].trace_stderr, Some(0.01));
    assert_eq!(table.layers[1].method.as_deref(), Some("hutchinson"));
    assert_eq!(table.layers[0].method, None);
    assert_eq!(table.to_json().unwrap(), with);
    // The same allocation with and without the informational fields.
    let plain = LayerTable::from_json(TABLE).unwrap();
    let budget = [hawq_alloc::Budget::fraction(BudgetKind::Bops, 0.5)];
    assert_eq!(
        hawq_alloc::allocate(&table, &budget).unwrap().bits,
        hawq_alloc::allocate(&plain, &budget).unwrap().bits
    );
}

#[test]
fn table_rejects_unknown_fields_and_negative_integers() {
    assert!(LayerTable::from_json(r#"{"layers":[],"ties":[]}"#).is_err());
    let neg = TABLE
        .replace("36864,\"macs\":115605504,\"trace\":0.25", "-1,\"macs\":115605504,\"trace\":0.25");
    let msg = LayerTable::from_json(&neg).unwrap_err().to_string();
    assert!(msg.starts_with("layer table JSON:"), "{msg}");
}

#[test]
fn allocation_json_has_the_agreed_shape() {
    let mut table = LayerTable::from_json(TABLE).unwrap();
    table.layers[1].latency_ms = Some([(4, 0.2), (8, 0.3)].into());
    table.layers[2].latency_ms = Some([(4, 0.05), (8, 0.06)].into());
    let a = hawq_alloc::allocate(&table, &[hawq_alloc::Budget::fraction(BudgetKind::Size, 0.5)])
        .unwrap();
    let json = a.to_json().unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["bits", "bops", "latency_ms", "objective", "optimal", "size_bytes"]);
    assert_eq!(v["bits"]["conv1"], 8);
    assert!(v["latency_ms"].is_f64() && v["optimal"].is_boolean());
    assert_eq!(Allocation::from_json(&json).unwrap(), a);
    let text = r#"{"bits":{"a":4,"b":8},"objective":1.5,"size_bytes":100.0,"bops":6400.0,"latency_ms":null,"optimal":true}"#;
    let back = Allocation::from_json(text).unwrap();
    assert_eq!(back.latency_ms, None);
    assert_eq!(
        back.to_json().unwrap(),
        r#"{"bits":{"a":4,"b":8},"objective":1.5,"size_bytes":100.0,"bops":6400.0,"latency_ms":null,"optimal":true}"#
    );
}

#[test]
fn sweep_json_lists_every_point() {
    let table = LayerTable::from_json(TABLE).unwrap();
    let points =
        pareto_with(&table, BudgetKind::Bops, &[0.0, 0.5, 1.0], &[], &IlpSolver::default())
            .unwrap();
    let v: serde_json::Value = serde_json::from_str(&render_json(&points).unwrap()).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 3);
    assert_eq!(arr[2]["kind"], "bops");
    assert_eq!(arr[2]["alpha"], 1.0);
    assert_eq!(arr[2]["bits"]["ds"], 8);
    assert_eq!(arr[0]["bits"]["ds"], 4);
    assert!(arr[1]["budget"].as_f64().unwrap() > arr[0]["budget"].as_f64().unwrap());
}
