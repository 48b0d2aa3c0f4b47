//! The pipeline commands on a tiny trained model (ResNet20 on 8×8 single-channel images, 3
//! classes, 24 images): `train`, `eval`, `run`, `sensitivity` → `allocate`, `bench`, `demo`,
//! `report`, and their main error paths.

use crate::util::{fails, ok, scratch};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const IMAGES: usize = 24;
const ZOO: [&str; 5] = ["resnet20", "--input-shape", "1x8x8", "--classes", "3"];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A folder shared by this module's fixtures.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| scratch("pipeline"))
}

/// `IMAGES.npy:LABELS.npy` of a small labelled set whose classes differ in brightness.
fn data() -> &'static str {
    static SPEC: OnceLock<String> = OnceLock::new();
    SPEC.get_or_init(|| {
        let (x, y) = (dir().join("x.npy"), dir().join("y.npy"));
        let labels: Vec<i64> = (0..IMAGES as i64).map(|i| i % 3).collect();
        let pixels: Vec<f32> = labels
            .iter()
            .flat_map(|&c| (0..64).map(move |p| c as f32 - 1.0 + (p % 7) as f32 / 10.0))
            .collect();
        hawq_data::write_npy_f32(&x, &[IMAGES, 1, 8, 8], &pixels).unwrap();
        let data = hawq_data::NpyData::I64(labels);
        hawq_data::write_npy(&y, &hawq_data::NpyArray { shape: vec![IMAGES], data }).unwrap();
        format!("{}:{}", s(&x), s(&y))
    })
}

/// The tiny model trained for one epoch (`hawq train`).
fn checkpoint() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = dir().join("tiny.safetensors");
        let mut args = vec!["train"];
        args.extend(ZOO);
        args.extend(["--data", data(), "--epochs", "1", "--batch", "8", "--lr", "0.05"]);
        args.extend(["-o", s(&out), "--json", "-q"]);
        let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
        let top1 = v["test_top1"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&top1), "{v}");
        out
    })
}

#[test]
fn train_writes_a_checkpoint_that_eval_and_run_accept() {
    let ckpt = s(checkpoint());
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["eval", ckpt, "--data", data(), "--json"])).unwrap();
    assert_eq!(v["images"], IMAGES);
    let x = data().split(':').next().unwrap();
    let y = dir().join("logits.npy");
    ok(&["run", ckpt, "--input", x, "--output", s(&y), "-q"]);
    assert_eq!(hawq_data::read_npy_f32(&y).unwrap().0, vec![IMAGES, 3]);
    let err = fails(&["run", ckpt, "--input", x, "--output", s(&y), "--precision", "int"], 1);
    assert!(err.contains("runs only at fp32"), "{err}");
    // The architecture must be a zoo name, and the data must fit the model.
    let err = fails(&["train", "resnet9000", "--data", data(), "-o", s(&dir().join("no"))], 1);
    assert!(err.contains("unknown model 'resnet9000'"), "{err}");
    let err = fails(&["eval", ckpt, "--limit", "4"], 1);
    assert!(err.contains("does not fit"), "{err}");
}

#[test]
fn sensitivity_table_feeds_allocate() {
    let t = dir().join("table.json");
    let args = ["sensitivity", s(checkpoint()), "--data", data(), "--samples", "8", "--no-cache"];
    let out = ok(&[&args[..], &["-o", s(&t), "--json", "-q"]].concat());
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 22);
    assert_eq!((layers[0]["pin"].as_u64(), layers[21]["pin"].as_u64()), (Some(8), Some(8)));
    assert!(layers.iter().all(|l| l["trace"].as_f64().unwrap() >= 0.0));
    let a: serde_json::Value =
        serde_json::from_str(&ok(&["allocate", "--table", s(&t), "--size", "0.5", "--json"]))
            .unwrap();
    assert_eq!(a["bits"].as_object().unwrap().len(), 22);
    let err = fails(&["sensitivity", s(checkpoint()), "--data", data(), "--samples", "0"], 1);
    assert!(err.contains("--samples must be at least 1"), "{err}");
    fails(&["sensitivity", s(checkpoint()), "--inputs", "x.npy"], 2);
}

#[test]
fn bench_times_each_precision_and_refuses_bad_ones() {
    for precision in ["int8", "int4", "fp32"] {
        let mut args = vec!["bench"];
        args.extend(ZOO);
        args.extend(["--precision", precision, "--reps", "3", "--warmup", "1", "--json", "-q"]);
        let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
        assert!(v["median_ms"].as_f64().unwrap() > 0.0, "{v}");
        assert_eq!(v["precision"], precision);
    }
    let mut args = vec!["bench"];
    args.extend(ZOO);
    let err = fails(&[&args[..], &["--precision", "mixed"]].concat(), 1);
    assert!(err.contains("needs --config"), "{err}");
    let err = fails(&[&args[..], &["--precision", "int3"]].concat(), 1);
    assert!(err.contains("int3"), "{err}");
    let err = fails(&[&args[..], &["--batch", "0"]].concat(), 1);
    assert!(err.contains("at least 1"), "{err}");
}

/// Checks a page written by the binary is self-contained and has its three plots.
fn check_html(html: &str) {
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<svg").count(), 3, "sensitivity, latency and Pareto plots");
    assert_eq!(html.matches("</svg>").count(), 3);
    for external in ["src=", "href=", "url(", "<script", "<link", "https:"] {
        assert!(!html.contains(external), "page refers outside itself: {external}");
    }
}

#[test]
fn demo_runs_the_whole_pipeline_and_report_renders_it_again() {
    let out = dir().join("demo");
    let args = [
        "demo",
        "--model",
        s(checkpoint()),
        "--data",
        data(),
        "--samples",
        "8",
        "--calib",
        "16",
        "--check",
        "4",
        "--reps",
        "3",
        "--threads",
        "1",
        "--out",
        s(&out),
        "--json",
        "-q",
    ];
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    let names: Vec<&str> =
        v["results"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["FP32", "INT8", "mixed", "INT4"]);
    for r in &v["results"].as_array().unwrap()[1..] {
        assert_eq!(r["bit_exact"]["mismatches"], 0, "{r}");
        assert_eq!(r["bit_exact"]["images"], 4);
        assert!(r["latency_ms"].as_f64().unwrap() > 0.0);
    }
    let sizes: Vec<f64> =
        v["results"].as_array().unwrap().iter().map(|r| r["size_mb"].as_f64().unwrap()).collect();
    assert!(sizes[0] > sizes[1] && sizes[1] >= sizes[2] && sizes[2] >= sizes[3], "{sizes:?}");
    assert_eq!(v["layers"].as_array().unwrap().len(), 22);
    assert_eq!(v["latency"].as_array().unwrap().len(), 3);
    assert!(v["pareto"].as_array().unwrap().iter().any(|p| p["chosen"] == true));
    check_html(&std::fs::read_to_string(out.join("report.html")).unwrap());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| INT4 |") && md.contains("](sensitivity.svg)"), "{md}");

    // The saved JSON renders the same report again.
    let again = dir().join("again");
    let table = ok(&["report", s(&out.join("report.json")), "--out", s(&again)]);
    assert!(table.contains("mixed") && table.contains("bit-exact"), "{table}");
    assert_eq!(std::fs::read_to_string(again.join("report.md")).unwrap(), md);
}

#[test]
fn demo_and_report_refuse_bad_input() {
    let err = fails(&["demo", "--model", s(checkpoint()), "--data", data(), "--size", "2"], 1);
    assert!(err.contains("--size 2"), "{err}");
    let missing = dir().join("missing.safetensors");
    let err = fails(&["demo", "--model", s(&missing)], 1);
    assert!(err.contains("missing.safetensors"), "{err}");
    let bad = dir().join("bad-report.json");
    std::fs::write(&bad, "{\"title\": 1}").unwrap();
    let err = fails(&["report", s(&bad)], 1);
    assert!(err.contains("bad-report.json") && err.contains("not a hawq report"), "{err}");
    let err = fails(&["report", s(&dir().join("absent.json"))], 1);
    assert!(err.contains("absent.json"), "{err}");
}
