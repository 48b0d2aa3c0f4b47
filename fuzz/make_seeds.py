# Seed corpus generator for hawq's fuzz targets: python3 fuzz/make_seeds.py fuzz/corpus (run from the
# repository root; needs numpy and onnx). The hawq_load seeds are written by `hawq quantize`
# (see docs/FUZZING.md).
import gzip, io, os, struct, sys, zlib, json
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper

root = sys.argv[1]
c = lambda t: os.makedirs(os.path.join(root, t), exist_ok=True) or os.path.join(root, t)
rng = np.random.default_rng(0)

# --- idx: header slices of the committed Fashion-MNIST subset, re-framed as small valid files
d = c("idx")
data = "data/fashion-mnist-subset"
imgs = gzip.open(f"{data}/test1k-images-idx3-ubyte.gz").read()
labs = gzip.open(f"{data}/test1k-labels-idx1-ubyte.gz").read()
n, r, cc = struct.unpack(">III", imgs[4:16])
def img_file(k, rows=28, cols=28):
    return struct.pack(">IIII", 0x803, k, rows, cols) + imgs[16:16 + k * rows * cols]
def lab_file(k):
    return struct.pack(">II", 0x801, k) + labs[8:8 + k]
# selector byte: even = images, odd = labels with (selector >> 1) classes
open(f"{d}/images-2", "wb").write(b"\x00" + img_file(2))
open(f"{d}/images-1-gz", "wb").write(b"\x00" + gzip.compress(img_file(1), mtime=0))
open(f"{d}/images-header-only", "wb").write(b"\x00" + imgs[:16])
open(f"{d}/labels-16", "wb").write(bytes([21]) + lab_file(16))
open(f"{d}/labels-16-gz", "wb").write(bytes([21]) + gzip.compress(lab_file(16), mtime=0))
open(f"{d}/labels-header-only", "wb").write(bytes([21]) + labs[:8])

# --- npy: numpy's own writer, several dtypes / versions
d = c("npy")
def npy(name, arr, version=None):
    b = io.BytesIO(); np.lib.format.write_array(b, arr, version=version); open(f"{d}/{name}", "wb").write(b.getvalue())
npy("f32-nchw", rng.standard_normal((1, 1, 4, 4)).astype("<f4"))
npy("u8-vec", np.arange(7, dtype="u1"))
npy("i4-mat", np.arange(6, dtype="<i4").reshape(2, 3))
npy("i8-labels", np.arange(5, dtype="<i8"))
npy("f32-scalar", np.array(1.5, dtype="<f4"))
npy("f32-v2", np.zeros((2, 2), dtype="<f4"), version=(2, 0))
npy("f32-fortran", np.asfortranarray(np.zeros((2, 3), dtype="<f4")))

# --- alloc_table: first line a budget, then the table JSON
d = c("alloc_table")
table = {"layers": [
    {"name": "conv1", "params": 432, "macs": 110592, "trace": 0.5, "delta": {"4": 1e-3, "8": 4e-6}, "pin": 8},
    {"name": "s1u1c1", "params": 2304, "macs": 589824, "trace": 0.12, "delta": {"4": 2e-3, "8": 7e-6},
     "latency_ms": {"4": 0.2, "8": 0.3}},
    {"name": "s1u1c2", "params": 2304, "macs": 589824, "trace": 0.08, "delta": {"4": 2e-3, "8": 7e-6}}],
    "tie": [["s1u1c1", "s1u1c2"]]}
for i, b in enumerate(["0.5", "12MB", "1.5 GiB", "150GBOPs", "800us", "3.5ms", "1e400", "-1"]):
    open(f"{d}/table-{i}", "w").write(b + "\n" + json.dumps(table))
lat = {"layers": [dict(l, latency_ms={"4": 0.1, "8": 0.2}) for l in table["layers"]]}
open(f"{d}/latency", "w").write("2ms\n" + json.dumps(lat))

# --- image: selector byte then a PNG (hand-made with zlib) and a grey PNG
d = c("image")
def png(w, h, channels, pixels):
    color = {1: 0, 3: 2}[channels]
    raw = b"".join(b"\x00" + pixels[y * w * channels:(y + 1) * w * channels] for y in range(h))
    chunk = lambda t, p: struct.pack(">I", len(p)) + t + p + struct.pack(">I", zlib.crc32(t + p) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
grey = imgs[16:16 + 28 * 28]
open(f"{d}/grey-28", "wb").write(b"\x00" + png(28, 28, 1, grey))
open(f"{d}/rgb-8-resize", "wb").write(bytes([0x11]) + png(8, 6, 3, bytes(rng.integers(0, 256, 8 * 6 * 3, dtype=np.uint8))))

# --- onnx: small CNNs built with onnx.helper
d = c("onnx_import")
def t(name, arr): return numpy_helper.from_array(arr.astype(np.float32), name)
def model(nodes, inits, in_shape, out, opset=13):
    g = helper.make_graph(nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + in_shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, None)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()
conv = [helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)]
inits = [t("w", rng.standard_normal((4, 1, 3, 3))), t("b", np.zeros(4)), t("s", np.ones(4)), t("bb", np.zeros(4)),
         t("m", np.zeros(4)), t("v", np.ones(4)), t("fw", rng.standard_normal((3, 4 * 4 * 4))), t("fb", np.zeros(3))]
open(f"{d}/conv-bn-relu-pool-gemm", "wb").write(model(conv, inits, [1, 8, 8], "y"))
res = [helper.make_node("Conv", ["x", "w"], ["c"], kernel_shape=[1, 1]),
       helper.make_node("Add", ["c", "c"], ["a"]),
       helper.make_node("Clip", ["a", "lo", "hi"], ["k"]),
       helper.make_node("GlobalAveragePool", ["k"], ["g"]),
       helper.make_node("Shape", ["g"], ["sh"]),
       helper.make_node("Gather", ["sh", "zero"], ["n0"], axis=0),
       helper.make_node("Unsqueeze", ["n0", "ax"], ["n1"]),
       helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
       helper.make_node("Reshape", ["g", "shape"], ["rs"]),
       helper.make_node("MatMul", ["rs", "mw"], ["mm"]),
       helper.make_node("Add", ["mm", "mb"], ["y"])]
inits2 = [t("w", rng.standard_normal((2, 3, 1, 1))), t("lo", np.array(0.0)), t("hi", np.array(6.0)),
          numpy_helper.from_array(np.array(0, dtype=np.int64), "zero"), numpy_helper.from_array(np.array([0], dtype=np.int64), "ax"),
          numpy_helper.from_array(np.array([-1], dtype=np.int64), "minus1"), t("mw", rng.standard_normal((2, 5))), t("mb", np.zeros(5))]
open(f"{d}/conv-add-clip-gap-reshape-matmul", "wb").write(model(res, inits2, [3, 4, 4], "y"))
cat = [helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[2, 2]), helper.make_node("Identity", ["x"], ["i"]),
       helper.make_node("MaxPool", ["i"], ["m"], kernel_shape=[2, 2]), helper.make_node("Concat", ["a", "m"], ["y"], axis=1)]
open(f"{d}/pool-concat", "wb").write(model(cat, [], [2, 5, 5], "y", opset=17))
print("ok")
