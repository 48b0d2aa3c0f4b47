#!/usr/bin/env bash
# Runs the scalar reference paths and the safe wrappers of the SIMD kernels under miri, which
# checks every memory access, alignment, initialisation and aliasing rule (Stacked Borrows) at
# run time.
#
#   scripts/miri.sh            hawq-quant (all tests) + hawq-kernels (small-shape tests)
#
# Needs the nightly miri component: `rustup +nightly component add miri` (it installs rust-src
# on first use through `cargo +nightly miri setup`). Miri runs code ~1000x slower than native, so
# the kernel tests are restricted to the small-shape ones by name filter; the big sweeps and
# proptest cases stay in the normal test suite. Miri reports no AVX2/AVX-512 support unless
# asked for it, so the runtime dispatch picks the portable kernels: what is checked is the safe
# API (packing, bounds checks, tiling drivers, epilogues) around the scalar inner loops.
# Set MIRI_AVX2=1 to also enable AVX2 (miri emulates the AVX2 intrinsics), which sends the
# dispatch to the AVX2 kernels instead.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/miri"
flags="${MIRIFLAGS:-}"
if [ "${MIRI_AVX2:-0}" = 1 ]; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+avx2,+fma"
fi
# proptest and rayon's thread pool need the host's clock and threads.
export MIRIFLAGS="$flags -Zmiri-disable-isolation"

cargo +nightly miri setup
echo "== hawq-quant (every test)"
cargo +nightly miri test -p hawq-quant

echo "== hawq-kernels (small shapes)"
kernel_tests=(
    i4_nibble_order
    refusals_are_typed
    requantize_matches_dyadic_apply
    zero_weights_and_extremes
    conv_geometry_errors
)
cargo +nightly miri test -p hawq-kernels --lib
for t in "${kernel_tests[@]}"; do
    cargo +nightly miri test -p hawq-kernels --test tests -- --exact "gemm::$t" "conv::$t"
done
