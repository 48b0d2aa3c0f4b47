//! Markdown, JSON and writing.

use crate::sample::report;
use hawq_report::{Report, ReportError};

#[test]
fn markdown_has_every_section_and_row() {
    let md = report(6).to_markdown();
    for part in [
        "# hawq demo: test",
        "| FP32 | 90.00 | 1.080 | 44.000 | 1.250 | — |",
        "| INT8 | 89.50 | 0.270 | 2.700 | 1.250 | yes (16 images) |",
        "| INT4 | 80.00 | 0.140 | 0.700 | 1.250 | NO: 3 of 160 integers differ |",
        "## Per-layer sensitivity and chosen bits",
        "| layer0.conv | 1000 | 100.000 k | 5.000e-1 | 1.000e-2 | 4.000e-5 | 8 (pinned) | 0.050 | 0.045 | 0.040 |",
        "| layer1.conv | 2000 |",
        "![per-layer sensitivity](sensitivity.svg)",
        "## Per-layer latency",
        "## Pareto front (size budget)",
        "← mixed model",
        "Whole pipeline: 42.0 s.",
    ] {
        assert!(md.contains(part), "missing {part:?} in:\n{md}");
    }
}

#[test]
fn json_round_trips() {
    let r = report(5);
    let back = Report::from_json(&r.to_json().unwrap(), "t.json").unwrap();
    // serde_json may change the last bit of a float; what is shown must not change.
    assert_eq!(back.results, r.results);
    assert_eq!(back.to_markdown(), r.to_markdown());
}

#[test]
fn invalid_reports_are_refused_with_the_field() {
    let err = Report::from_json("{\"title\": 3}", "x.json").unwrap_err();
    assert!(matches!(err, ReportError::Json { .. }) && err.to_string().contains("x.json"), "{err}");
    let mut r = report(3);
    r.results[1].top1 = 1.5;
    let err = r.validate("r.json").unwrap_err().to_string();
    assert!(err.contains("r.json") && err.contains("results[INT8].top1"), "{err}");
    let mut r = report(3);
    r.layers[2].omega4 = -1.0;
    let err = r.validate("r.json").unwrap_err().to_string();
    assert!(err.contains("layers[layer2.conv.weight].omega4"), "{err}");
    let mut r = report(3);
    r.results.clear();
    assert!(r.validate("r.json").unwrap_err().to_string().contains("no model rows"));
}

#[test]
fn write_puts_every_file_in_place_atomically() {
    let dir = std::env::temp_dir().join(format!("hawq-report-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let w = report(4).write(&dir.join("nested")).unwrap();
    for p in [&w.markdown, &w.html, &w.json] {
        assert!(std::fs::metadata(p).unwrap().len() > 100, "{}", p.display());
    }
    let names: Vec<String> =
        w.svgs.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["sensitivity.svg", "latency.svg", "pareto.svg"]);
    // Rewriting replaces the files and leaves no temporary behind.
    report(2).write(&dir.join("nested")).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("nested"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(std::fs::read_to_string(&w.markdown).unwrap().contains("layer1.conv"));
    assert!(!std::fs::read_to_string(&w.markdown).unwrap().contains("layer2.conv"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn write_into_an_unwritable_place_names_the_path() {
    let file = std::env::temp_dir().join(format!("hawq-report-file-{}", std::process::id()));
    std::fs::write(&file, b"x").unwrap();
    let err = report(2).write(&file.join("sub")).unwrap_err().to_string();
    assert!(err.contains(&file.display().to_string()), "{err}");
    std::fs::remove_file(&file).unwrap();
}
