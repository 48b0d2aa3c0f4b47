//! hawq-onnx integration tests (one binary). ONNX Runtime, run through `tests/ort_run.py`, is
//! the float reference: `pip install onnxruntime onnx numpy`; `HAWQ_SKIP_ORT=1` skips only the
//! comparisons against it.

mod support;

mod errors;
mod export_roundtrip;
mod import_patterns;
mod mutation;
mod qdq;
mod torch_fixtures;
mod zoo;
