//! Table validation: every error names what is wrong and where.

use hawq_alloc::{
    AllocError, Budget, BudgetKind, ExhaustiveSolver, LayerTable, Model, allocate_with,
};

fn table(extra: &str, tie: &str) -> LayerTable {
    let text = format!(
        r#"{{"layers":[
        {{"name":"a","params":10,"macs":10,"trace":1.0,"delta":{{"4":1.0,"8":0.1}}}},
        {{"name":"b","params":10,"macs":10,"trace":1.0,"delta":{{"4":1.0,"8":0.1}}}}{extra}],
        "tie":{tie}}}"#
    );
    LayerTable::from_json(&text).unwrap()
}

fn error(t: &LayerTable) -> String {
    Model::new(t).unwrap_err().to_string()
}

#[test]
fn duplicate_names() {
    let t = table(r#",{"name":"a","params":1,"macs":1,"trace":1.0,"delta":{"4":1.0}}"#, "[]");
    assert_eq!(error(&t), "layer name `a` appears more than once in the table");
}

#[test]
fn ties_naming_unknown_layers() {
    let t = table("", r#"[["a","b"],["a","zz","yy"]]"#);
    assert_eq!(error(&t), "tie 1 names unknown layer(s): zz, yy");
    assert!(error(&table("", r#"[["a"]]"#)).contains("at least two"));
}

#[test]
fn pins_to_widths_not_offered() {
    let t = table(
        r#",{"name":"c","params":1,"macs":1,"trace":1.0,"delta":{"4":1.0,"8":0.1},"pin":16}"#,
        "[]",
    );
    assert_eq!(error(&t), "layer `c` is pinned to 16 bits, but it only offers [4, 8]");
}

#[test]
fn negative_and_non_finite_numbers() {
    let mut t = table("", "[]");
    t.layers[1].trace = f64::NAN;
    assert_eq!(error(&t), "layer `b`: trace is NaN; it must be a finite number >= 0");
    let mut t = table("", "[]");
    t.layers[0].delta.insert(8, -0.5);
    assert_eq!(error(&t), "layer `a`: delta[8] is -0.5; it must be a finite number >= 0");
    let mut t = table("", "[]");
    t.layers[0].latency_ms = Some([(4, 1.0), (8, f64::INFINITY)].into());
    assert!(error(&t).contains("latency_ms[8] is inf"));
    let mut t = table("", "[]");
    t.layers[0].latency_ms = Some([(4, 1.0)].into());
    assert!(
        error(&t).contains("`latency_ms` has widths [4] but `delta` has [4, 8]"),
        "{}",
        error(&t)
    );
    let mut t = table("", "[]");
    t.layers[0].delta.clear();
    assert_eq!(error(&t), "layer `a`: `delta` offers no bit width");
    let mut t = table("", "[]");
    t.layers[0].delta.insert(0, 1.0);
    assert!(error(&t).contains("bit width 0 is outside 1..=32"));
}

#[test]
fn contradictory_ties_and_pins() {
    let mut t = table(
        r#",{"name":"c","params":1,"macs":1,"trace":1.0,"delta":{"4":1.0,"8":0.1}}"#,
        r#"[["a","b"],["b","c"]]"#,
    );
    t.layers[0].pin = Some(4);
    t.layers[2].pin = Some(8);
    assert_eq!(
        error(&t),
        "layers `a` (pinned to 4 bits) and `c` (pinned to 8 bits) are tied and so cannot differ"
    );
    // A pin the tie partner does not offer.
    let mut t = table(
        r#",{"name":"c","params":1,"macs":1,"trace":1.0,"delta":{"2":1.0,"4":0.1}}"#,
        r#"[["a","c"]]"#,
    );
    t.layers[2].pin = Some(2);
    assert_eq!(error(&t), "tied layers a, c have no bit width in common with their pin of 2 bits");
    t.layers[2].pin = None;
    t.layers[2].delta = [(2, 1.0), (3, 0.5)].into();
    assert_eq!(error(&t), "tied layers a, c have no bit width in common");
}

#[test]
fn ties_and_pins_shape_the_model() {
    let mut t = table(
        r#",{"name":"c","params":1,"macs":1,"trace":1.0,"delta":{"4":1.0,"8":0.1}}"#,
        r#"[["a","c"]]"#,
    );
    t.layers[1].pin = Some(4);
    let m = Model::new(&t).unwrap();
    assert_eq!(m.free_groups().len(), 1);
    assert_eq!(m.free_groups()[0].layers, vec![0, 2]);
    let a =
        allocate_with(&t, &[Budget::fraction(BudgetKind::Size, 1.0)], &ExhaustiveSolver).unwrap();
    assert_eq!((a.bits["a"], a.bits["b"], a.bits["c"]), (8, 4, 8));
}

#[test]
fn empty_table_and_oversized_oracle() {
    assert!(matches!(Model::new(&LayerTable::default()), Err(AllocError::EmptyTable)));
    let text = (0..21)
        .map(|i| {
            format!(
                r#"{{"name":"l{i}","params":1,"macs":1,"trace":1.0,"delta":{{"4":1.0,"8":0.1}}}}"#
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let t = LayerTable::from_json(&format!(r#"{{"layers":[{text}]}}"#)).unwrap();
    let err = allocate_with(&t, &[Budget::fraction(BudgetKind::Size, 0.5)], &ExhaustiveSolver)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the exhaustive solver handles at most 20 free layer groups, this problem has 21"
    );
}
