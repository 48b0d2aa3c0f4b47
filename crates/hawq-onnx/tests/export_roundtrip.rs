//! IR → ONNX → ONNX Runtime, compared with the float interpreter on the IR, and the exported
//! file imported back.

use crate::support::{
    assert_matches_ort, batch_inputs, graphs, interp, ort_skipped, rel_err, scratch,
};
use hawq_ir::Graph;
use hawq_onnx::{export_float, import_file};

/// Exports at `opset`, re-imports, and checks both graphs against ORT (and each other).
fn round_trip(name: &str, g: &Graph, opset: i64) {
    let dir = scratch(name);
    let path = dir.join(format!("{name}.onnx"));
    export_float(g, &path, opset).unwrap();
    let imported = import_file(&path).unwrap();
    assert_eq!(imported.opset, opset);
    assert!(imported.producer.starts_with("hawq"), "{}", imported.producer);
    for (k, t) in &g.params {
        assert_eq!(imported.graph.params.get(k), Some(t), "parameter {k} changed");
    }
    for x in batch_inputs(g, 3) {
        let err = rel_err(&interp(&imported.graph, &x), &interp(g, &x));
        assert!(err < 1e-6, "{name}: re-imported graph differs by {err}");
    }
    if ort_skipped() {
        return;
    }
    assert_matches_ort(g, &path, 5);
    assert_matches_ort(&imported.graph, &path, 6);
}

#[test]
fn small_cnn_round_trips_through_ort_at_opset_17() {
    round_trip("small_cnn", &graphs::small_cnn(1), 17);
}

#[test]
fn reshape_net_round_trips_at_opsets_11_and_21() {
    let g = graphs::reshape_net(2);
    round_trip("reshape_net11", &g, 11);
    round_trip("reshape_net21", &g, 21);
}

#[test]
fn export_is_atomic_and_overwrites() {
    let dir = scratch("atomic");
    let path = dir.join("m.onnx");
    let g = graphs::reshape_net(3);
    export_float(&g, &path, 13).unwrap();
    export_float(&graphs::small_cnn(4), &path, 13).unwrap();
    let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.onnx")], "temporary file left behind");
    assert_eq!(import_file(&path).unwrap().graph.inputs[0].name, "image");
    let err = export_float(&g, &dir.join("missing-dir").join("m.onnx"), 13).unwrap_err();
    assert!(err.to_string().contains("missing-dir"), "{err}");
    assert!(export_float(&g, &path, 10).is_err());
}

#[test]
fn decoded_weights_borrow_the_file_buffer() {
    // `import_bytes` decodes from one `Bytes` buffer; prost then slices every `raw_data` out of
    // it instead of copying, so a model file is held once (plus the decoded f32 parameters).
    let dir = scratch("borrow");
    let path = dir.join("m.onnx");
    export_float(&graphs::small_cnn(7), &path, 17).unwrap();
    let buf = bytes::Bytes::from(std::fs::read(&path).unwrap());
    let range = buf.as_ptr_range();
    let model = <hawq_onnx::pb::ModelProto as prost::Message>::decode(buf.clone()).unwrap();
    let inits = model.graph.unwrap().initializer;
    assert!(!inits.is_empty());
    for t in inits {
        let raw = t.raw_data.as_ref().unwrap();
        assert!(range.contains(&raw.as_ptr()), "'{}' was copied out of the buffer", t.name());
    }
}
