//! `hawq export`: a .hawq model as QDQ ONNX, a float model as float ONNX.

use crate::util::{fails, ok, scratch};

#[test]
fn export_writes_qdq_for_integer_and_float_onnx_for_float_models() {
    let dir = scratch("export");
    let (q, qdq, float) = (dir.join("r20.hawq"), dir.join("r20.qdq.onnx"), dir.join("r20.onnx"));
    let (q, qdq, float) = (q.to_str().unwrap(), qdq.to_str().unwrap(), float.to_str().unwrap());
    let zoo = ["resnet20", "--input-shape", "1x28x28", "--classes", "10"];
    let mut args = vec!["quantize"];
    args.extend(zoo);
    args.extend(["--bits", "4", "--calib", "8", "--limit", "8", "--batch", "8", "-o", q]);
    ok(&args);

    let v: serde_json::Value =
        serde_json::from_str(&ok(&["export", q, "--onnx", qdq, "--json"])).unwrap();
    assert_eq!((v["kind"].as_str(), v["opset"].as_i64()), (Some("qdq"), Some(21)));
    // The QDQ file is a real ONNX model with INT4 weights.
    let bytes = std::fs::read(qdq).unwrap();
    let model = <hawq_onnx::pb::ModelProto as prost::Message>::decode(bytes.as_slice()).unwrap();
    let int4 = hawq_onnx::pb::tensor_proto::DataType::Int4 as i32;
    assert!(model.graph.unwrap().initializer.iter().any(|t| t.data_type == Some(int4)));

    let mut args = vec!["export"];
    args.extend(zoo);
    args.extend(["--onnx", float, "--opset", "13", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    assert_eq!((v["kind"].as_str(), v["opset"].as_i64()), (Some("float"), Some(13)));
    let iv: serde_json::Value = serde_json::from_str(&ok(&["inspect", float, "--json"])).unwrap();
    assert_eq!(iv["layers"].as_array().unwrap().len(), 22);

    let err = fails(&["export", "resnet20", "--onnx", float, "--opset", "9"], 1);
    assert!(err.contains("opset 9"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
