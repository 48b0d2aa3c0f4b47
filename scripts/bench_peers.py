#!/usr/bin/env python3
"""Side-by-side inference benchmark: hawq against ONNX Runtime and OpenVINO (docs/BENCHMARKS.md).

Builds ResNet18, ResNet50 (v1.5) and MobileNetV2 as float ONNX graphs with random weights
(BatchNorm already folded, so the graphs are Conv/Relu/Clip/Add/GlobalAveragePool/Gemm), then
quantizes each for ONNX Runtime with static QDQ, per-channel, u8 activations and s8 weights
(random calibration data). Engines, each where it is installed:

  ort-fp32   ONNX Runtime on the float graph
  ort-int8   ONNX Runtime on the QDQ u8s8 graph
  ov-int8    OpenVINO on the same QDQ graph (its low-precision pass runs the convs in int8)
  hawq-int8  `hawq bench MODEL --batch B --threads T --precision int8 --json`, which prints
             {"median_ms":…, "p10_ms":…, "p90_ms":…, "isa":…}; MODEL is the zoo name (same
             architecture, its own random weights: speed does not depend on weight values)

Engines run interleaved, round-robin, so machine load hits all of them alike. Reported per
(model, batch, threads): median ms per batch, ratio to the best peer int8 median (> 1 = slower
than the best peer), and % of the int8 VNNI peak = 2·MACs·batch / time / threads / 473 GOP/s
(the measured per-core `vpdpbusd` peak of the Zen 4 machine the anchors were taken on; pass
--peak-gops for another CPU).

Usage: scripts/bench_peers.sh [--quick] [--models resnet18,...] [--hawq PATH] [--json OUT]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # the script cannot build models without it
    sys.exit("bench_peers: the `onnx` package is required (pip install onnx)")


class Builder:
    """Appends nodes to an ONNX graph and counts multiply-accumulates per image."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.macs, self.n = [], [], 0, 0

    def name(self, prefix):
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, arr, prefix):
        nm = self.name(prefix)
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32), nm))
        return nm

    def conv(self, x, shape, cin, cout, k, stride=1, groups=1, act="relu"):
        """Conv (+ folded BN as bias) + activation; `shape` is (h, w) of x, returns (y, (h, w))."""
        pad = k // 2
        fan_in = cin // groups * k * k
        w = self.rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cin // groups, k, k))
        b = self.rng.normal(0, 0.05, cout)
        y = self.name("conv")
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(w, "w"), self.const(b, "b")], [y], kernel_shape=[k, k],
            strides=[stride, stride], pads=[pad] * 4, group=groups))
        h, wd = (shape[0] + 2 * pad - k) // stride + 1, (shape[1] + 2 * pad - k) // stride + 1
        self.macs += h * wd * cout * fan_in
        return self.act(y, act), (h, wd)

    def act(self, x, kind):
        if kind is None:
            return x
        y = self.name(kind)
        if kind == "relu":
            self.nodes.append(helper.make_node("Relu", [x], [y]))
        else:  # relu6
            lo, hi = self.const(np.array(0.0), "lo"), self.const(np.array(6.0), "hi")
            self.nodes.append(helper.make_node("Clip", [x, lo, hi], [y]))
        return y

    def add(self, a, b, relu):
        y = self.name("add")
        self.nodes.append(helper.make_node("Add", [a, b], [y]))
        return self.act(y, "relu" if relu else None)

    def head(self, x, c, classes=1000):
        p, f, y = self.name("gap"), self.name("flat"), "logits"
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [p]))
        self.nodes.append(helper.make_node("Flatten", [p], [f], axis=1))
        w = self.rng.normal(0, np.sqrt(1.0 / c), (classes, c))
        self.nodes.append(helper.make_node(
            "Gemm", [f, self.const(w, "fc"), self.const(np.zeros(classes), "fcb")], [y], transB=1))
        self.macs += c * classes

    def model(self, name, side=224):
        inp = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, side, side])
        out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000])
        g = helper.make_graph(self.nodes, name, [inp], [out], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 8
        return m


def resnet(depth, seed=0):
    bottleneck = depth == 50
    blocks = {18: [2, 2, 2, 2], 50: [3, 4, 6, 3]}[depth]
    b = Builder(seed)
    x, hw = b.conv("input", (224, 224), 3, 64, 7, 2)
    mp = b.name("pool")
    b.nodes.append(helper.make_node("MaxPool", [x], [mp], kernel_shape=[3, 3], strides=[2, 2],
                                    pads=[1, 1, 1, 1]))
    x, hw, cin = mp, (56, 56), 64
    for stage, n in enumerate(blocks):
        width = 64 << stage
        cout = width * 4 if bottleneck else width
        for i in range(n):
            s = 2 if (i == 0 and stage > 0) else 1
            if bottleneck:  # v1.5: the stride sits on the 3×3
                y, h1 = b.conv(x, hw, cin, width, 1)
                y, h2 = b.conv(y, h1, width, width, 3, s)
                y, h3 = b.conv(y, h2, width, cout, 1, act=None)
            else:
                y, h2 = b.conv(x, hw, cin, width, 3, s)
                y, h3 = b.conv(y, h2, width, cout, 3, act=None)
            sc = x
            if s != 1 or cin != cout:
                sc, _ = b.conv(x, hw, cin, cout, 1, s, act=None)
            x, hw, cin = b.add(y, sc, True), h3, cout
    b.head(x, cin)
    return b.model(f"resnet{depth}"), b.macs


def mobilenet_v2(seed=0):
    b = Builder(seed)
    x, hw = b.conv("input", (224, 224), 3, 32, 3, 2, act="relu6")
    cin = 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hid = cin * t
            y, h = (x, hw) if t == 1 else b.conv(x, hw, cin, hid, 1, act="relu6")
            y, h = b.conv(y, h, hid, hid, 3, stride, groups=hid, act="relu6")
            y, h = b.conv(y, h, hid, c, 1, act=None)
            x = b.add(y, x, False) if (stride == 1 and cin == c) else y
            hw, cin = h, c
    x, hw = b.conv(x, hw, cin, 1280, 1, act="relu6")
    b.head(x, 1280)
    return b.model("mobilenet_v2"), b.macs


MODELS = {"resnet18": lambda: resnet(18), "resnet50": lambda: resnet(50),
          "mobilenet_v2": mobilenet_v2}


def quantize_qdq(fp32_path, qdq_path, batch=1, samples=8):
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)

    class Random(CalibrationDataReader):
        def __init__(self):
            rng = np.random.default_rng(1)
            self.it = iter([{"input": rng.normal(0, 1, (batch, 3, 224, 224)).astype(np.float32)}
                            for _ in range(samples)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(fp32_path, qdq_path, Random(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True)


def ort_runner(path, threads):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(None, {"input": x})


def ov_runner(path, threads):
    import openvino as ov
    core = ov.Core()
    model = core.compile_model(path, "CPU", {"INFERENCE_NUM_THREADS": threads,
                                             "PERFORMANCE_HINT": "LATENCY"})
    req = model.create_infer_request()
    return lambda x: req.infer({0: x})


def hawq_runner(hawq, model, batch, threads):
    """One `hawq bench` call per round; the median it reports is the round's sample."""
    cmd = [hawq, "bench", model, "--batch", str(batch), "--threads", str(threads),
           "--precision", "int8", "--json"]

    def run(_x):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        rec = json.loads(out.strip().splitlines()[-1])
        return rec["median_ms"] / 1e3, rec.get("isa", "?")
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="resnet18 + mobilenet_v2, 3 rounds")
    ap.add_argument("--models", default=None, help="comma list of " + ",".join(MODELS))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--reps", type=int, default=None, help="timed runs per engine per round")
    ap.add_argument("--hawq", default=shutil.which("hawq") or "target/release/hawq")
    ap.add_argument("--peak-gops", type=float, default=473.0, help="int8 GOP/s per core")
    ap.add_argument("--workdir", default=None, help="where models are written (default: temp)")
    ap.add_argument("--json", default=None, help="also write every sample here")
    a = ap.parse_args()
    models = (a.models.split(",") if a.models else
              ["resnet18", "mobilenet_v2"] if a.quick else list(MODELS))
    rounds = a.rounds or (3 if a.quick else 7)
    reps = a.reps or (2 if a.quick else 5)
    batches = [int(v) for v in a.batches.split(",")]
    threads = [int(v) for v in a.threads.split(",")]
    work = a.workdir or tempfile.mkdtemp(prefix="hawq-peers-")
    os.makedirs(work, exist_ok=True)

    have = {}
    for mod in ["onnxruntime", "openvino"]:
        try:
            __import__(mod)
            have[mod] = True
        except ImportError:
            have[mod] = False
            print(f"note: {mod} is not installed: its engines are skipped", file=sys.stderr)
    hawq_ok = os.path.exists(a.hawq) or shutil.which(a.hawq)
    if hawq_ok:
        probe = subprocess.run([a.hawq, "bench", "--help"], capture_output=True, text=True)
        hawq_ok = probe.returncode == 0
    if not hawq_ok:
        print(f"note: `{a.hawq} bench` is not available: hawq is skipped", file=sys.stderr)

    results = []
    for name in models:
        t0 = time.time()
        model, macs = MODELS[name]()
        fp32 = os.path.join(work, f"{name}.onnx")
        onnx.save(model, fp32)
        qdq = os.path.join(work, f"{name}.qdq.onnx")
        if have["onnxruntime"]:
            quantize_qdq(fp32, qdq)
        print(f"# {name}: {macs / 1e9:.3f} GMAC per image, built in {time.time() - t0:.1f} s",
              file=sys.stderr)
        for batch in batches:
            x = np.random.default_rng(2).normal(0, 1, (batch, 3, 224, 224)).astype(np.float32)
            for th in threads:
                engines = {}
                if have["onnxruntime"]:
                    engines["ort-fp32"] = ort_runner(fp32, th)
                    engines["ort-int8"] = ort_runner(qdq, th)
                if have["openvino"] and have["onnxruntime"]:
                    engines["ov-int8"] = ov_runner(qdq, th)
                if hawq_ok:
                    engines["hawq-int8"] = hawq_runner(a.hawq, name, batch, th)
                samples = {e: [] for e in engines}
                isa = {}
                for e, run in engines.items():  # warm-up
                    if not e.startswith("hawq"):
                        run(x)
                for _ in range(rounds):
                    for e, run in engines.items():
                        if e.startswith("hawq"):
                            sec, isa[e] = run(x)
                            samples[e].append(sec)
                            continue
                        for _ in range(reps):
                            s = time.perf_counter()
                            run(x)
                            samples[e].append(time.perf_counter() - s)
                med = {e: statistics.median(v) * 1e3 for e, v in samples.items() if v}
                peers = [med[e] for e in ("ort-int8", "ov-int8") if e in med]
                best = min(peers) if peers else None
                for e, ms in med.items():
                    pct = 100 * 2 * macs * batch / (ms / 1e3) / th / (a.peak_gops * 1e9)
                    ratio = ms / best if best else float("nan")
                    results.append({"model": name, "batch": batch, "threads": th, "engine": e,
                                    "median_ms": ms, "vs_best_peer_int8": ratio,
                                    "pct_vnni_peak": pct, "isa": isa.get(e),
                                    "samples_ms": [v * 1e3 for v in samples[e]]})
                    print(f"{name:13} b{batch:<2} t{th}  {e:10} {ms:9.2f} ms  "
                          f"x{ratio:5.2f} best peer int8  {pct:5.1f}% of VNNI peak", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
