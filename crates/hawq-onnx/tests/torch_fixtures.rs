//! Models exported by PyTorch itself (`scripts/export_torch_fixtures.py`, committed under
//! `tests/data`): a ResNet-20-style CIFAR net with random weights and BN statistics, once with
//! BatchNormalization nodes kept and once folded by the exporter. Both must import, and both the
//! imported graph and ONNX Runtime must reproduce torch's own logits at batch 1 and 2.

use crate::support::{interp, ort_run, ort_skipped, read_npy, rel_err};
use hawq_ir::{Op, Tensor};
use hawq_onnx::import_file;
use std::path::{Path, PathBuf};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// The first `n` items of a batch.
fn head(t: &Tensor, n: usize) -> Tensor {
    let per: usize = t.shape()[1..].iter().product();
    let mut shape = t.shape().to_vec();
    shape[0] = n;
    Tensor::new(shape, t.data()[..n * per].to_vec()).unwrap()
}

fn check(file: &str, expect_bn: bool) {
    let path = data(file);
    let imported = import_file(&path).unwrap();
    assert!(imported.producer.starts_with("pytorch"), "{}", imported.producer);
    let bn = imported.graph.nodes.iter().filter(|n| matches!(n.op, Op::BatchNorm(_))).count();
    assert_eq!(bn > 0, expect_bn, "{file}: {bn} BatchNorm nodes");
    let x = read_npy(&data("torch_resnet20_input.npy"));
    let want = read_npy(&data("torch_resnet20_output.npy"));
    let inputs = [head(&x, 1), x.clone()];
    let wants = [head(&want, 1), want.clone()];
    for (x, w) in inputs.iter().zip(&wants) {
        let err = rel_err(&interp(&imported.graph, x), w);
        assert!(err < 1e-4, "{file}: hawq vs torch at batch {}: {err}", x.shape()[0]);
    }
    if ort_skipped() {
        return;
    }
    for (got, w) in ort_run(&path, &inputs).iter().zip(&wants) {
        let err = rel_err(got, w);
        assert!(err < 1e-4, "{file}: ORT vs torch at batch {}: {err}", w.shape()[0]);
    }
}

#[test]
fn torch_export_with_batchnorm_matches_torch() {
    check("torch_resnet20_bn.onnx", true);
}

#[test]
fn torch_export_with_folded_batchnorm_matches_torch() {
    check("torch_resnet20_folded.onnx", false);
}
