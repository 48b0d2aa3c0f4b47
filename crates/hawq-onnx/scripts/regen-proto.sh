#!/usr/bin/env bash
# Regenerates crates/hawq-onnx/src/pb/onnx.rs from crates/hawq-onnx/proto/onnx.proto.
# Needs no system protoc (protox compiles the .proto in pure Rust).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo run --quiet --manifest-path "$here/codegen/Cargo.toml"
