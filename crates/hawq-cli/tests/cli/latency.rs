//! `hawq latency-table` on a tiny model: measurement, cache hits and misses, merging into an
//! allocation table, allocation under a latency budget and the Pareto plot.

use crate::util::scratch;
use std::path::Path;
use std::process::{Command, Output};

/// Runs `hawq` with its cache in `cache`.
fn hawq_cached(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hawq"))
        .env("HAWQ_CACHE", cache)
        .args(args)
        .output()
        .expect("the hawq binary runs")
}

fn ok(out: Output) -> (String, String) {
    let (stdout, stderr) =
        (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap());
    assert!(out.status.success(), "failed ({}):\n{stdout}\n{stderr}", out.status);
    (stdout, stderr)
}

const TINY: [&str; 9] = [
    "latency-table",
    "resnet20",
    "--input-shape",
    "1x8x8",
    "--classes",
    "3",
    "--reps",
    "2",
    "--warmup=0",
];

fn cached_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[test]
fn measures_caches_merges_and_allocates() {
    let dir = scratch("latency");
    let cache = dir.join("cache");
    let (text, stderr) = ok(hawq_cached(&cache, &TINY));
    assert!(stderr.contains("profiling 22 layers"), "{stderr}");
    assert!(text.contains("int4 ms") && text.contains("whole model (measured)"), "{text}");
    assert_eq!(cached_files(&cache), 1);

    // Same signature: a cache hit with the same numbers.
    let (json, stderr) = ok(hawq_cached(&cache, &[&TINY[..], &["--json"]].concat()));
    assert!(stderr.contains("cached"), "{stderr}");
    let t: serde_json::Value = serde_json::from_str(&json).unwrap();
    let layers = t["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 22, "19 convs, 2 downsample convs, fc");
    for l in layers {
        for b in ["4", "8"] {
            assert!(l["latency_ms"][b].as_f64().unwrap() > 0.0, "{l}");
        }
    }
    assert_eq!(t["signature"]["batch"], 1);

    // Another batch size is another signature: measured again, cached next to the first.
    let (json2, stderr) =
        ok(hawq_cached(&cache, &[&TINY[..], &["--batch", "2", "--json"]].concat()));
    assert!(stderr.contains("profiling"), "{stderr}");
    let t2: serde_json::Value = serde_json::from_str(&json2).unwrap();
    assert_eq!(t2["signature"]["batch"], 2);
    assert_eq!(cached_files(&cache), 2);

    // Merge into an allocation table listing every layer, first and last pinned.
    let n = layers.len();
    let rows: Vec<String> = layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let pin = if i == 0 || i == n - 1 { r#","pin":8"# } else { "" };
            format!(
                r#"{{"name":{},"params":{},"macs":1000,"trace":{},"delta":{{"4":1.0,"8":0.01}}{pin}}}"#,
                l["name"],
                100 * (i + 1),
                1.0 / (i + 1) as f64
            )
        })
        .collect();
    let table = dir.join("table.json");
    std::fs::write(&table, format!(r#"{{"layers":[{}]}}"#, rows.join(","))).unwrap();
    let t_arg = table.to_str().unwrap();
    ok(hawq_cached(&cache, &[&TINY[..], &["--into", t_arg]].concat()));
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&table).unwrap()).unwrap();
    // The fixed overhead is folded into the first layer.
    let first = &merged["layers"][0]["latency_ms"]["4"];
    let expect =
        layers[0]["latency_ms"]["4"].as_f64().unwrap() + t["overhead_ms"]["4"].as_f64().unwrap();
    assert!((first.as_f64().unwrap() - expect).abs() < 1e-12, "{first} vs {expect}");
    assert!(merged["layers"][5]["latency_ms"]["8"].as_f64().unwrap() > 0.0);

    // The allocator now takes a latency budget and sweeps it.
    let (alloc, _) =
        ok(hawq_cached(&cache, &["allocate", "--table", t_arg, "--latency", "0.5", "--json"]));
    let a: serde_json::Value = serde_json::from_str(&alloc).unwrap();
    assert!(a["latency_ms"].as_f64().unwrap() > 0.0, "{a}");
    assert_eq!(a["bits"][layers[0]["name"].as_str().unwrap()], 8);
    let svg = dir.join("front.svg");
    let (front, _) = ok(hawq_cached(
        &cache,
        &["allocate", "--table", t_arg, "--pareto", "5", "--plot", svg.to_str().unwrap()],
    ));
    assert!(front.contains("Pareto front, latency budget"), "{front}");
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("latency (ms)"),
        "{}",
        &svg[..200.min(svg.len())]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn merging_rejects_a_table_of_another_model() {
    let dir = scratch("latency-bad");
    let table = dir.join("t.json");
    std::fs::write(
        &table,
        r#"{"layers":[{"name":"nope.weight","params":1,"macs":1,"trace":1,"delta":{"4":1,"8":0}}]}"#,
    )
    .unwrap();
    let out = hawq_cached(
        &dir.join("cache"),
        &[&TINY[..], &["--into", table.to_str().unwrap()]].concat(),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("'nope.weight'"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
