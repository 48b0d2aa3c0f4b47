//! Weight files: round trips through a graph, corrupt files and mismatches.

use crate::common::{Rng, bn, conv, graph_with_input};
use hawq_ir::weights::{load_params, save_params};
use hawq_ir::{Conv2d, IrError};
use safetensors::{Dtype, tensor::TensorView};
use std::path::PathBuf;

/// A unique path in the temp dir; removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(tag: &str) -> Self {
        Self(
            std::env::temp_dir()
                .join(format!("hawq-ir-it-{}-{tag}.safetensors", std::process::id())),
        )
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn net(seed: u64) -> hawq_ir::Graph {
    let mut rng = Rng::new(seed);
    let mut g = graph_with_input(&[3, 6, 6]);
    let c = conv(&mut g, &mut rng, "conv", "x", Conv2d::new("", 3, 4, 3, 1, 1), true);
    let b = bn(&mut g, &mut rng, "bn", &c, 4);
    g.outputs = vec![b];
    g
}

fn weights_detail(e: IrError) -> String {
    match e {
        IrError::Weights { path, detail } => {
            assert!(path.ends_with(".safetensors"), "error names the file: {path}");
            detail
        }
        e => panic!("expected a weights error, got {e}"),
    }
}

#[test]
fn graph_round_trip_is_exact() {
    let file = TempFile::new("graph");
    let src = net(1);
    save_params(&src.params, &file.0).unwrap();
    let mut dst = net(2);
    assert_ne!(dst.params, src.params);
    dst.load_weights(&file.0).unwrap();
    assert_eq!(dst.params, src.params);
    assert_eq!(load_params(&file.0).unwrap(), src.params);
}

#[test]
fn missing_extra_and_mis_shaped_tensors() {
    let file = TempFile::new("mismatch");
    let mut g = net(1);
    let mut params = g.params.clone();
    params.remove("bn.running_var");
    save_params(&params, &file.0).unwrap();
    let d = weights_detail(g.load_weights(&file.0).unwrap_err());
    assert!(d.contains("bn.running_var"), "{d}");

    let mut params = g.params.clone();
    params.insert("stray".into(), hawq_ir::Tensor::from_vec(vec![1.0]));
    save_params(&params, &file.0).unwrap();
    let d = weights_detail(g.load_weights(&file.0).unwrap_err());
    assert!(d.contains("stray"), "{d}");

    let mut params = g.params.clone();
    params.insert("conv.weight".into(), hawq_ir::Tensor::zeros(vec![4, 3, 1, 9]));
    save_params(&params, &file.0).unwrap();
    let before = g.clone();
    let d = weights_detail(g.load_weights(&file.0).unwrap_err());
    assert!(d.contains("conv.weight") && d.contains("[4, 3, 3, 3]"), "{d}");
    assert_eq!(g, before, "a failed load leaves the graph unchanged");
}

#[test]
fn truncated_garbage_and_missing_files() {
    let file = TempFile::new("corrupt");
    let g = net(3);
    save_params(&g.params, &file.0).unwrap();
    let good = std::fs::read(&file.0).unwrap();
    // Every truncation point, from an empty file to one byte short.
    for len in (0..good.len()).step_by(7).chain([good.len() - 1]) {
        std::fs::write(&file.0, &good[..len]).unwrap();
        weights_detail(load_params(&file.0).unwrap_err());
    }
    // A header length pointing far past the end of the file.
    let mut huge = u64::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    std::fs::write(&file.0, &huge).unwrap();
    weights_detail(load_params(&file.0).unwrap_err());
    // Random bytes.
    let mut rng = Rng::new(9);
    let junk: Vec<u8> = (0..300).map(|_| rng.next_u64() as u8).collect();
    std::fs::write(&file.0, &junk).unwrap();
    weights_detail(load_params(&file.0).unwrap_err());
    // No such file.
    let gone = TempFile::new("never-written");
    weights_detail(load_params(&gone.0).unwrap_err());
}

#[test]
fn non_f32_dtypes_are_rejected_by_name() {
    let file = TempFile::new("dtype");
    let raw = [0u8; 8];
    for dtype in [Dtype::F16, Dtype::I32, Dtype::F64, Dtype::U8] {
        let n = 8 / (dtype.bitsize() / 8);
        let view = TensorView::new(dtype, vec![n], &raw).unwrap();
        let bytes = safetensors::serialize([("half.weight", view)], None).unwrap();
        std::fs::write(&file.0, bytes).unwrap();
        let d = weights_detail(load_params(&file.0).unwrap_err());
        assert!(d.contains("half.weight") && d.contains("F32"), "{dtype:?}: {d}");
    }
}
