//! `hawq quantize` → `inspect` / `run` / `eval` / `compare` on the result.

use crate::util::{ok, scratch};

const MODEL: [&str; 5] = ["resnet20", "--input-shape", "1x28x28", "--classes", "10"];

#[test]
fn quantize_then_use_the_model() {
    let dir = scratch("quantize");
    let q = dir.join("r20.hawq");
    let q = q.to_str().unwrap();
    let mut args = vec!["quantize"];
    args.extend(MODEL);
    args.extend([
        "--bits", "4", "--calib", "16", "--limit", "32", "--batch", "16", "-o", q, "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!(v["images"], 32);
    assert_eq!(v["layers"], 22);
    assert_eq!(v["layers_4bit"], 20); // first conv and fc stay 8-bit
    // inspect shows 4-bit layers and packed size
    let out = ok(&["inspect", q, "--json"]);
    let iv: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(iv["layers"][0]["bits"], 8);
    assert_eq!(iv["layers"][1]["bits"], 4);
    // eval on the integer model
    let ev: serde_json::Value =
        serde_json::from_str(&ok(&["eval", q, "--limit", "32", "--json"])).unwrap();
    assert!(ev["engine"].as_str().unwrap().starts_with("fast integer engine"), "{ev}");
    assert_eq!(ev["top1"], v["int_top1"]);
    // and on the scalar reference engine: the same accuracy
    let rv: serde_json::Value =
        serde_json::from_str(&ok(&["eval", q, "--limit", "32", "--engine", "reference", "--json"]))
            .unwrap();
    assert_eq!(rv["engine"], "integer reference engine");
    assert_eq!(rv["top1"], v["int_top1"]);
    // the written file reproduces the evaluated integers
    assert_eq!(v["bit_exact"]["file_mismatches"], 0);
    assert_eq!(v["bit_exact"]["reference_mismatches"], 0);
    assert_eq!(v["bit_exact"]["outputs"], 320);
    // run with npy in/out
    let x = dir.join("x.npy");
    let y = dir.join("y.npy");
    let data: Vec<f32> = (0..2 * 28 * 28).map(|i| (i % 17) as f32 / 17.0).collect();
    hawq_data::write_npy_f32(&x, &[2, 1, 28, 28], &data).unwrap();
    ok(&["run", q, "--input", x.to_str().unwrap(), "--output", y.to_str().unwrap()]);
    let (shape, logits) = hawq_data::read_npy_f32(&y).unwrap();
    assert_eq!(shape, vec![2, 10]);
    assert!(logits.iter().all(|v| v.is_finite()));
    // compare names values and reports agreement
    let mut cargs = vec!["compare"];
    cargs.extend(MODEL);
    cargs.extend(["--quantized", q, "--limit", "8", "--json"]);
    let cv: serde_json::Value = serde_json::from_str(&ok(&cargs)).unwrap();
    assert!(cv["values"].as_array().unwrap().len() > 20);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn quantize_under_budgets_chooses_mixed_bits() {
    let dir = scratch("quantize_budgets");
    let q = dir.join("r20-mixed.hawq");
    let q = q.to_str().unwrap();
    let mut args = vec!["quantize"];
    args.extend(MODEL);
    args.extend(["--size", "0.5", "--latency", "1000ms", "--calib", "16", "--limit", "16"]);
    args.extend(["--batch", "16", "-o", q, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    let n4 = v["layers_4bit"].as_u64().unwrap();
    assert!(n4 > 0 && n4 < 20, "the ILP should mix 4 and 8 bits at α = 0.5: {v}");
    assert_eq!(v["bit_exact"]["file_mismatches"], 0);
    let iv: serde_json::Value = serde_json::from_str(&ok(&["inspect", q, "--json"])).unwrap();
    assert_eq!(iv["layers"][0]["bits"], 8, "the first layer stays pinned at 8 bits");
    // Budgets and an explicit per-layer config are exclusive.
    let cfg = dir.join("bits.json");
    std::fs::write(&cfg, r#"{"bits": {}}"#).unwrap();
    let mut bad = vec!["quantize"];
    bad.extend(MODEL);
    bad.extend(["--size", "0.5", "--bits-config", cfg.to_str().unwrap(), "-o", q]);
    let err = crate::util::fails(&bad, 1);
    assert!(err.contains("not both"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
