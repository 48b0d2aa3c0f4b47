//! Regenerates `src/pb/onnx.rs` from the vendored `proto/onnx.proto` with protox (a pure-Rust
//! protobuf compiler, so no system `protoc`) and prost-build.
//!
//! Run from anywhere: `cargo run --manifest-path crates/hawq-onnx/codegen/Cargo.toml`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let crate_dir = manifest_dir.parent().ok_or("codegen must live inside hawq-onnx")?;
    let proto_dir = crate_dir.join("proto");
    let out_dir = crate_dir.join("src").join("pb");
    let fds = protox::compile([proto_dir.join("onnx.proto")], [&proto_dir])?;
    let mut config = prost_build::Config::new();
    // Tensor payloads become `bytes::Bytes` slices of the buffer the model was decoded from,
    // so decoding a large model does not copy its weights a second time.
    config.bytes([".onnx.TensorProto.raw_data"]);
    config.out_dir(&out_dir);
    config.compile_fds(fds)?;
    println!("wrote {}", out_dir.join("onnx.rs").display());
    Ok(())
}
