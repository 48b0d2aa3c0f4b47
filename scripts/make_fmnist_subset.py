#!/usr/bin/env python3
"""Build the balanced Fashion-MNIST subset committed under data/fashion-mnist-subset/.

Takes the first 500 images of each class from the official training split (5,000 images)
and the first 100 of each class from the official test split (1,000 images), keeping
their original order, and writes them as gzipped IDX files. The gzip header carries
mtime=0 and no file name, so re-running it gives byte-identical files.

Standard library only. Source: Debian package `dataset-fashion-mnist`
(`apt-get install -y dataset-fashion-mnist`).

usage: python3 scripts/make_fmnist_subset.py [SOURCE_DIR] [OUTPUT_DIR]
  SOURCE_DIR defaults to /usr/share/datasets/fashion-mnist
  OUTPUT_DIR defaults to data/fashion-mnist-subset next to this script's parent
"""

import gzip
import io
import os
import struct
import sys

IMAGE_MAGIC = 0x803
LABEL_MAGIC = 0x801
NUM_CLASSES = 10
ROWS = COLS = 28

# (output prefix, source split, images kept per class)
SPLITS = [("train5k", "train", 500), ("test1k", "t10k", 100)]


def read_idx(path, magic, rank):
    """Return (dims, payload) of a gzipped IDX file after checking its header."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header_len = 4 + 4 * rank
    if len(raw) < header_len:
        sys.exit(f"{path}: file shorter than its {header_len}-byte header")
    found, *dims = struct.unpack(">" + "I" * (1 + rank), raw[:header_len])
    if found != magic:
        sys.exit(f"{path}: magic {found:#x}, expected {magic:#x}")
    payload = raw[header_len:]
    expected = 1
    for d in dims:
        expected *= d
    if len(payload) != expected:
        sys.exit(f"{path}: header declares {expected} bytes of data, found {len(payload)}")
    return dims, payload


def write_gz(path, data):
    """Write `data` gzipped, without timestamp or file name, so output is reproducible."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as f:
        f.write(data)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp, path)


def balanced_subset(images, labels, per_class):
    """First `per_class` items of every class, in their original order."""
    counts = [0] * NUM_CLASSES
    keep = []
    for i, c in enumerate(labels):
        if c >= NUM_CLASSES:
            sys.exit(f"label {c} at index {i} is out of range")
        if counts[c] < per_class:
            counts[c] += 1
            keep.append(i)
    if counts != [per_class] * NUM_CLASSES:
        sys.exit(f"not enough images per class: {counts}")
    size = ROWS * COLS
    x = b"".join(images[i * size:(i + 1) * size] for i in keep)
    y = bytes(labels[i] for i in keep)
    return x, y, len(keep), keep[-1] + 1


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(repo, "data", "fashion-mnist-subset")
    os.makedirs(out, exist_ok=True)
    for name, split, per_class in SPLITS:
        idims, images = read_idx(f"{src}/{split}-images-idx3-ubyte.gz", IMAGE_MAGIC, 3)
        ldims, labels = read_idx(f"{src}/{split}-labels-idx1-ubyte.gz", LABEL_MAGIC, 1)
        if idims[1:] != [ROWS, COLS] or idims[0] != ldims[0]:
            sys.exit(f"{split}: unexpected dims {idims} / {ldims}")
        x, y, n, spanned = balanced_subset(images, labels, per_class)
        write_gz(f"{out}/{name}-images-idx3-ubyte.gz",
                 struct.pack(">IIII", IMAGE_MAGIC, n, ROWS, COLS) + x)
        write_gz(f"{out}/{name}-labels-idx1-ubyte.gz", struct.pack(">II", LABEL_MAGIC, n) + y)
        print(f"{name}: {n} images ({per_class} per class) from the first {spanned} of {split}")


if __name__ == "__main__":
    main()
