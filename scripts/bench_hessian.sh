#!/usr/bin/env bash
# hawq's per-layer Hessian traces vs PyTorch's double-backward Hutchinson, one thread each,
# interleaved in one run: CIFAR ResNet-20 (3x32x32, batch 128) and ResNet-18 (3x224x224,
# batch 8, 10 classes: hawq's exact method costs one backward pass per class).
#
#   scripts/bench_hessian.sh [ROUNDS] [PROBES]      (defaults: 1 round, 50 probes)
#
# Per model: hawq exact traces (f32 and f64) and a PROBES-probe Hutchinson (per-layer probes, f32;
# examples/hessian_export.rs), then PyTorch's PROBES-probe Hutchinson in f32
# (scripts/hessian_torch.py --time). Prints `uptime` before and after, every timing as a JSON
# line, and the ratios PyTorch / hawq (> 1: hawq is faster). Needs python3 with torch + numpy.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-1}"
PROBES="${2:-50}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cargo build --release -q -p hawq-train --example hessian_export
BIN="${CARGO_TARGET_DIR:-target}/release/examples/hessian_export"
export RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "uptime before: $(uptime)"
LOG="$TMP/log.jsonl"
for spec in "resnet20 3x32x32 128 10" "resnet18 3x224x224 8 10"; do
    read -r arch shape n classes <<<"$spec"
    dir="$TMP/$arch"
    "$BIN" "$arch" "$shape" "$n" "$dir" --classes "$classes" >/dev/null
    for _ in $(seq "$ROUNDS"); do
        "$BIN" "$arch" "$shape" "$n" "$dir" --classes "$classes" --time "$PROBES" |
            sed "s/^{/{\"model\":\"$arch\",\"engine\":\"hawq\",/" | tee -a "$LOG"
        python3 scripts/hessian_torch.py "$dir" --time --probes "$PROBES" --threads 1 |
            sed "s/^{/{\"model\":\"$arch\",\"engine\":\"torch\",/" | tee -a "$LOG"
    done
done
echo "uptime after: $(uptime)"
python3 - "$LOG" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(model, engine, what, prec):
    t = [r["seconds"] for r in rows if (r["model"], r["engine"], r["what"], r["precision"]) == (model, engine, what, prec)]
    return statistics.median(t) if t else None
print("| model | hawq exact f32 | hawq exact f64 | hawq Hutchinson f32 | PyTorch Hutchinson f32 | PyTorch / hawq exact f32 | PyTorch / hawq Hutchinson f32 |")
print("|---|---|---|---|---|---|---|")
for model in dict.fromkeys(r["model"] for r in rows):
    ef, ed = med(model, "hawq", "exact", "f32"), med(model, "hawq", "exact", "f64")
    hf = med(model, "hawq", "hutchinson", "f32")
    pt = med(model, "torch", "torch-hutchinson", "f32")
    print(f"| {model} | {ef:.1f} s | {ed:.1f} s | {hf:.1f} s | {pt:.1f} s | {pt/ef:.2f} | {pt/hf:.2f} |")
EOF
