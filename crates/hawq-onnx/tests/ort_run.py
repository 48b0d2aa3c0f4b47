#!/usr/bin/env python3
"""Runs ONNX Runtime (CPU, one thread, no graph optimizations) on a model.

Usage: ort_run.py MODEL.onnx IN1.npy OUT1.npy [IN2.npy OUT2.npy ...]
The model is first checked with onnx.checker (full check). Each input .npy feeds the model's single input; the first output is written to the paired
output .npy. Used by hawq-onnx's integration tests as the float reference.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> int:
    if len(sys.argv) < 4 or len(sys.argv) % 2 != 0:
        print(__doc__, file=sys.stderr)
        return 2
    # The models under test must be valid ONNX, not merely loadable by ORT.
    onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(sys.argv[1], opts, providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    pairs = sys.argv[2:]
    for src, dst in zip(pairs[0::2], pairs[1::2]):
        x = np.load(src).astype(np.float32)
        (y, *_) = sess.run(None, {inp.name: x})
        np.save(dst, np.ascontiguousarray(y, dtype=np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
