#!/usr/bin/env python3
"""Runs ONNX Runtime on a QDQ model and writes every QuantizeLinear output.

Usage: ort_values.py MODEL.onnx IN.npy OUT_PREFIX
The model is checked with onnx.checker (full check). Each QuantizeLinear output k (in node
order) is exposed through a DequantizeLinear with scale 1, so its integers come back exactly
as float32, and is written to OUT_PREFIX{k}.npy. CPU, one thread, no graph optimizations.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    model = onnx.load(sys.argv[1])
    onnx.checker.check_model(model, full_check=True)
    graph = model.graph
    quantized = [n.output[0] for n in graph.node if n.op_type == "QuantizeLinear"]
    graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), "ort_values.one"))
    del graph.output[:]
    names = []
    for k, q in enumerate(quantized):
        name = f"ort_values.{k}"
        graph.node.append(helper.make_node("DequantizeLinear", [q, "ort_values.one"], [name]))
        graph.output.append(helper.make_empty_tensor_value_info(name))
        names.append(name)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    x = np.load(sys.argv[2]).astype(np.float32)
    for k, y in enumerate(sess.run(names, {sess.get_inputs()[0].name: x})):
        np.save(f"{sys.argv[3]}{k}.npy", np.ascontiguousarray(y, dtype=np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
