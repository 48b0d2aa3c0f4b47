#!/usr/bin/env bash
# hawq's test suite: the whole workspace once with the best ISA this CPU has, then the
# integer kernels again under every ISA the CPU supports (HAWQ_ISA forces one), so each SIMD
# path is checked bit for bit against the scalar reference. (The engine's whole-model tests
# already loop over every supported ISA and thread count explicitly.)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --locked

isas="scalar"
grep -q ' avx2' /proc/cpuinfo && isas="$isas avx2"
grep -q ' avx512_vnni' /proc/cpuinfo && isas="$isas avx512vnni"
for isa in $isas; do
  echo "== HAWQ_ISA=$isa: kernels =="
  HAWQ_ISA=$isa cargo test --locked -p hawq-kernels
done
