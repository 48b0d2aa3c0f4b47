#!/usr/bin/env python3
"""PyTorch cross-check and timing of hawq's per-layer Hessian traces.

Reads a model and samples written by
    cargo run --release -p hawq-train --example hessian_export -- ARCH CxHxW N DIR
(the BN-folded graph as JSON, its weights and the inputs as safetensors; labels are n % classes),
rebuilds the network in PyTorch (eval mode: the folded graph has no BN left) and computes, by
double backward on the mean cross-entropy loss (the true Hessian, not Gauss-Newton):

  --exact-layers a,b   the exact trace of H_ii for those layers, column by column (H_ii e_j);
  --probes K           K-probe Hutchinson for every conv/linear weight (PyHessian style: one
                       Rademacher v over all weights per probe, split v_i.(Hv)_i per layer),
                       with the standard error of each layer's mean;
  --time               instead: time the K-probe Hutchinson in float32 and print one JSON line.

Output (JSON, stdout or --out): {"samples", "exact": {layer: Tr(H_ii)},
"hutchinson": {layer: {"trace": mean v_i.(Hv)_i, "stderr": ..., "probes": K}}, ...}.
Needs only torch and numpy (the safetensors files are parsed here).
"""

import argparse
import json
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} has dtype {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        arr = np.frombuffer(data[base + start : base + end], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def activate(act, y):
    if act == "None":
        return y
    if act == "Relu":
        return F.relu(y)
    if isinstance(act, dict) and "Clip" in act:
        return torch.clamp(y, act["Clip"]["min"], act["Clip"]["max"])
    raise ValueError(f"unsupported activation {act}")


def pad_args(pads):
    top, left, bottom, right = pads
    if top == bottom and left == right:
        return (top, left), None
    return (0, 0), (left, right, top, bottom)


class Graph:
    """Evaluates the exported folded graph with the tensors in `params`."""

    def __init__(self, meta, params):
        self.meta = meta
        self.params = params

    def forward(self, x):
        vals = {self.meta["input"]: x}
        p = self.params
        for node in self.meta["nodes"]:
            op = node["op"]
            kind, cfg = (op, None) if isinstance(op, str) else next(iter(op.items()))
            ins = [vals[i] for i in node["inputs"]]
            a = ins[0]
            if kind == "Conv2d":
                padding, explicit = pad_args(cfg["pads"])
                if explicit:
                    a = F.pad(a, explicit)
                bias = p[cfg["bias"]] if cfg["bias"] else None
                y = F.conv2d(a, p[cfg["weight"]], bias, tuple(cfg["stride"]), padding,
                             tuple(cfg["dilation"]), cfg["groups"])
                y = activate(cfg["activation"], y)
            elif kind == "Linear":
                bias = p[cfg["bias"]] if cfg["bias"] else None
                y = activate(cfg["activation"], F.linear(a, p[cfg["weight"]], bias))
            elif kind == "Relu":
                y = F.relu(a)
            elif kind == "Clip":
                y = torch.clamp(a, cfg["min"], cfg["max"])
            elif kind == "Add":
                y = ins[0] + ins[1]
            elif kind == "Concat":
                y = torch.cat(ins, dim=cfg["axis"])
            elif kind == "MaxPool":
                padding, explicit = pad_args(cfg["pads"])
                if explicit:
                    a = F.pad(a, explicit, value=float("-inf"))
                y = F.max_pool2d(a, tuple(cfg["kernel"]), tuple(cfg["stride"]), padding,
                                 tuple(cfg["dilation"]), cfg["ceil_mode"])
            elif kind == "AvgPool":
                padding, explicit = pad_args(cfg["pads"])
                if explicit:
                    raise ValueError("asymmetric average-pool padding is not supported here")
                y = F.avg_pool2d(a, tuple(cfg["kernel"]), tuple(cfg["stride"]), padding,
                                 cfg["ceil_mode"], cfg["count_include_pad"])
            elif kind == "GlobalAvgPool":
                y = a.mean(dim=(2, 3), keepdim=True)
            elif kind == "Flatten":
                y = torch.flatten(a, cfg["axis"])
            elif kind in ("Identity", "Dropout"):
                y = a
            else:
                raise ValueError(f"node {node['name']}: unsupported op {kind}")
            vals[node["output"]] = y
        return vals[self.meta["outputs"][0]]


def weight_names(meta):
    names = []
    for node in meta["nodes"]:
        op = node["op"]
        if isinstance(op, dict) and ("Conv2d" in op or "Linear" in op):
            names.append(next(iter(op.values()))["weight"])
    return names


def setup(directory, dtype):
    meta = json.load(open(f"{directory}/graph.json"))
    params = {k: v.to(dtype) for k, v in read_safetensors(f"{directory}/params.safetensors").items()}
    x = read_safetensors(f"{directory}/input.safetensors")["input"].to(dtype)
    labels = torch.arange(x.shape[0]) % meta["classes"]
    names = weight_names(meta)
    for n in names:
        params[n].requires_grad_(True)
    return meta, Graph(meta, params), x, labels, names


def gradient_graph(net, x, labels, names):
    loss = F.cross_entropy(net.forward(x), labels)
    ws = [net.params[n] for n in names]
    return ws, torch.autograd.grad(loss, ws, create_graph=True)


def rademacher(shape, gen, dtype):
    return (torch.randint(0, 2, shape, generator=gen) * 2 - 1).to(dtype)


def hutchinson(ws, grads, probes, seed, dtype):
    gen = torch.Generator().manual_seed(seed)
    samples = [[] for _ in ws]
    for _ in range(probes):
        vs = [rademacher(w.shape, gen, dtype) for w in ws]
        hvs = torch.autograd.grad(grads, ws, grad_outputs=vs, retain_graph=True)
        for i, (v, hv) in enumerate(zip(vs, hvs)):
            samples[i].append(float((v * hv).sum()))
    return samples


def exact_trace(w, g):
    """Tr(H_ii) from the columns H_ii e_j, one double-backward call per column (batched
    columns through `is_grads_batched` were much slower on CPU)."""
    flat_g = g.reshape(-1)
    total = 0.0
    for j in range(w.numel()):
        e = torch.zeros_like(flat_g)
        e[j] = 1.0
        col = torch.autograd.grad(flat_g, w, grad_outputs=e, retain_graph=True)[0]
        total += float(col.reshape(-1)[j])
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--exact-layers", default="")
    ap.add_argument("--probes", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.time:
        meta, net, x, labels, names = setup(a.dir, torch.float32)
        start = time.perf_counter()
        ws, grads = gradient_graph(net, x, labels, names)
        hutchinson(ws, grads, a.probes, a.seed, torch.float32)
        secs = time.perf_counter() - start
        print(json.dumps({"what": "torch-hutchinson", "precision": "f32", "probes": a.probes,
                          "seconds": secs, "threads": a.threads, "samples": int(x.shape[0])}))
        return
    meta, net, x, labels, names = setup(a.dir, torch.float64)
    ws, grads = gradient_graph(net, x, labels, names)
    result = {"arch": meta["arch"], "shape": meta["shape"], "samples": int(x.shape[0]),
              "zoo_seed": meta["zoo_seed"], "torch": torch.__version__, "dtype": "float64",
              "loss": "mean cross-entropy, labels n % classes", "exact": {}, "hutchinson": {}}
    for name in filter(None, a.exact_layers.split(",")):
        i = names.index(name)
        result["exact"][name] = exact_trace(ws[i], grads[i])
    for name, s in zip(names, hutchinson(ws, grads, a.probes, a.seed, torch.float64)):
        arr = np.array(s)
        result["hutchinson"][name] = {"trace": float(arr.mean()),
                                      "stderr": float(arr.std(ddof=1) / np.sqrt(len(arr))),
                                      "probes": len(arr)}
    text = json.dumps(result, indent=1)
    if a.out:
        open(a.out, "w").write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
