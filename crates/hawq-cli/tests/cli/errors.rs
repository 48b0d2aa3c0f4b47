//! Error paths: messages name what and where; exit codes are meaningful.

use crate::util::{fails, scratch};

#[test]
fn unknown_model_lists_the_zoo() {
    let err = fails(&["inspect", "resnet9000"], 1);
    assert!(err.contains("unknown model 'resnet9000'") && err.contains("resnet18"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    fails(&["quantize"], 2);
    fails(&["no-such-subcommand"], 2);
}

#[test]
fn corrupt_model_files_name_the_file() {
    let dir = scratch("errors");
    let bad = dir.join("bad.hawq");
    std::fs::write(&bad, b"not a model at all").unwrap();
    let err = fails(&["inspect", bad.to_str().unwrap()], 1);
    assert!(err.contains("bad.hawq"), "{err}");
    let err = fails(&["run", bad.to_str().unwrap(), "--input", "x.npy", "--output", "y.npy"], 1);
    assert!(err.contains("bad.hawq"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn data_that_does_not_fit_the_model_is_refused() {
    let err = fails(&["eval", "resnet20", "--limit", "4"], 1);
    assert!(err.contains("does not fit"), "{err}");
}
