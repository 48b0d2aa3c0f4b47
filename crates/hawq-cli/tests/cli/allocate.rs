//! `hawq allocate` over a plain table.

use crate::util::{fails, ok, scratch};

const TABLE: &str = r#"{"layers":[
 {"name":"a","params":1000,"macs":1000000,"trace":2.0,"delta":{"4":1.0,"8":0.01}},
 {"name":"b","params":3000,"macs":1000000,"trace":0.1,"delta":{"4":1.0,"8":0.01}},
 {"name":"c","params":2000,"macs":4000000,"trace":0.5,"delta":{"4":1.0,"8":0.01},"pin":8}]}"#;

#[test]
fn allocates_under_a_size_budget() {
    let dir = scratch("allocate");
    let t = dir.join("t.json");
    std::fs::write(&t, TABLE).unwrap();
    let out = ok(&["allocate", "--table", t.to_str().unwrap(), "--size", "4.6kB", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["bits"]["a"], 8);
    assert_eq!(v["bits"]["b"], 4);
    assert_eq!(v["bits"]["c"], 8);
    assert_eq!(v["optimal"], true);
    let err = fails(&["allocate", "--table", t.to_str().unwrap(), "--size", "1kB"], 1);
    assert!(err.contains("smallest achievable size"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
