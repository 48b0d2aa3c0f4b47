//! Running the binary and scratch directories.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Runs `hawq` with `args`.
pub fn hawq(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hawq")).args(args).output().expect("the hawq binary runs")
}

/// Runs `hawq`, asserts success, returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = hawq(args);
    assert!(
        out.status.success(),
        "hawq {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs `hawq`, asserts exit code `code`, returns stderr.
pub fn fails(args: &[&str], code: i32) -> String {
    let out = hawq(args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "hawq {args:?}: stderr {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).expect("utf-8 output")
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hawq-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}
