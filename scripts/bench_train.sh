#!/usr/bin/env bash
# Training throughput, hawq vs PyTorch: one forward + backward + SGD-momentum step of CIFAR
# ResNet-20 (3x32x32, batch 128, 10 classes) at 1 and 2 threads, interleaved per round.
#
#   scripts/bench_train.sh [ROUNDS] [STEPS]      (defaults: 2 rounds, 5 timed steps each)
#
# hawq: crates/hawq-train/examples/train_throughput.rs (f32, median step of STEPS after one
# warm-up). PyTorch: the same network (torchvision-style CIFAR ResNet-20 with 1x1 projection
# shortcuts, BN in training mode), SGD momentum 0.9, weight decay 1e-4, same timing rule.
# Prints `uptime`, every measurement and the ratio hawq / PyTorch in images per second.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-2}"
STEPS="${2:-5}"
cargo build --release -q -p hawq-train --example train_throughput
BIN="${CARGO_TARGET_DIR:-target}/release/examples/train_throughput"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
echo "uptime before: $(uptime)"
for _ in $(seq "$ROUNDS"); do
    for t in 1 2; do
        "$BIN" 128 "$STEPS" "$t" | sed 's/^/hawq /' | tee -a "$LOG"
        python3 - "$t" "$STEPS" <<'EOF' | sed 's/^/torch /' | tee -a "$LOG"
import sys, time, torch, torch.nn as nn, torch.nn.functional as F
threads, steps = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
class Block(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False); s.bn1 = nn.BatchNorm2d(cout)
        s.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(cout)
        s.down = None
        if stride != 1 or cin != cout:
            s.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    def forward(s, x):
        y = F.relu(s.bn1(s.conv1(x)))
        y = s.bn2(s.conv2(y))
        return F.relu(y + (x if s.down is None else s.down(x)))
class ResNet20(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False); s.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in [(16, 1), (32, 2), (64, 2)]:
            for b in range(3):
                layers.append(Block(cin, cout, stride if b == 0 else 1)); cin = cout
        s.layers = nn.Sequential(*layers); s.fc = nn.Linear(64, 10)
    def forward(s, x):
        x = s.layers(F.relu(s.bn1(s.conv1(x))))
        return s.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
net = ResNet20().train()
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
x, y = torch.randn(128, 3, 32, 32), torch.arange(128) % 10
times = []
for step in range(steps + 1):
    t0 = time.perf_counter()
    opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
    if step > 0:
        times.append(time.perf_counter() - t0)
times.sort(); m = times[len(times) // 2]
print(f"threads={threads} batch=128 median_ms={m*1e3:.1f} images_per_s={128/m:.1f}")
EOF
    done
done
echo "uptime after: $(uptime)"
python3 - "$LOG" <<'EOF'
import re, statistics, sys
rates = {}
for line in open(sys.argv[1]):
    eng, rest = line.split(" ", 1)
    t = int(re.search(r"threads=(\d+)", rest).group(1))
    rates.setdefault((eng, t), []).append(float(re.search(r"images_per_s=([\d.]+)", rest).group(1)))
print("| threads | hawq images/s | PyTorch images/s | hawq / PyTorch |")
print("|---|---|---|---|")
for t in sorted({k[1] for k in rates}):
    h, p = statistics.median(rates[("hawq", t)]), statistics.median(rates[("torch", t)])
    print(f"| {t} | {h:.1f} | {p:.1f} | {h/p:.2f} |")
EOF
