//! The zoo models (random weights, non-trivial BN statistics, small inputs to keep the float
//! interpreter quick) exported to ONNX, run by ONNX Runtime, and imported back; each import is
//! checked against ORT with BatchNorm kept and folded, at batch 1 and 2.

use crate::support::{assert_matches_ort, batch_inputs, interp, ort_skipped, rel_err, scratch};
use hawq_onnx::{export_float, import_file};
use hawq_zoo::ZooOptions;

fn zoo_round_trip(name: &str, side: usize, opset: i64) {
    let opts = ZooOptions {
        height: side,
        width: side,
        num_classes: 10,
        randomize_bn: true,
        seed: 7,
        ..ZooOptions::for_model(name).unwrap()
    };
    let g = hawq_zoo::build(name, &opts).unwrap();
    let path = scratch(name).join(format!("{name}.onnx"));
    export_float(&g, &path, opset).unwrap();
    let back = import_file(&path).unwrap();
    assert_eq!(back.graph.params, g.params, "{name}: parameters differ after the round trip");
    for x in batch_inputs(&g, 1).iter().take(1) {
        let err = rel_err(&interp(&back.graph, x), &interp(&g, x));
        assert!(err < 1e-6, "{name}: re-imported graph differs by {err}");
    }
    if ort_skipped() {
        return;
    }
    assert_matches_ort(&g, &path, 2);
    assert_matches_ort(&back.graph, &path, 3);
    // The same ONNX file against the imported graph with BatchNorm folded into the convs.
    let mut folded = back.graph.clone();
    hawq_ir::passes::simplify(&mut folded).unwrap();
    assert!(!folded.nodes.iter().any(|n| matches!(n.op, hawq_ir::Op::BatchNorm(_))), "{name}");
    assert_matches_ort(&folded, &path, 4);
}

#[test]
fn resnet20_matches_ort() {
    zoo_round_trip("resnet20", 32, 13);
}

#[test]
fn resnet18_and_resnet50_match_ort() {
    zoo_round_trip("resnet18", 64, 17);
    zoo_round_trip("resnet50", 32, 21);
}

#[test]
fn mobilenet_v2_matches_ort() {
    zoo_round_trip("mobilenet_v2", 64, 11);
}

#[test]
fn inception_v3_matches_ort() {
    zoo_round_trip("inception_v3", 75, 17);
}
