#!/usr/bin/env bash
# Side-by-side benchmark of hawq against ONNX Runtime and OpenVINO (see scripts/bench_peers.py).
# Creates a venv (default .venv-bench, or $BENCH_VENV) with the peers on first use, builds the
# hawq binary in release mode, then runs the benchmark. Packages that do not install are
# reported and their engines skipped. Pass --quick for a run of a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BENCH_VENV:-.venv-bench}"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q numpy onnx || { echo "numpy/onnx do not install" >&2; exit 1; }
    for pkg in onnxruntime openvino; do
        "$VENV/bin/pip" install -q "$pkg" || echo "note: $pkg does not install; skipped" >&2
    done
fi
cargo build --release -q -p hawq-cli
HAWQ="${CARGO_TARGET_DIR:-target}/release/hawq"
exec "$VENV/bin/python" scripts/bench_peers.py --hawq "$HAWQ" "$@"
