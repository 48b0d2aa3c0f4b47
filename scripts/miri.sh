#!/usr/bin/env bash
# Runs the scalar reference paths and the safe wrappers of the SIMD kernels under miri, which
# checks every memory access, alignment, initialisation and aliasing rule at run time (Stacked
# Borrows; Tree Borrows for the hawq-kernels integration tests, see below).
#
#   scripts/miri.sh            hawq-quant (unit + golden tests) + hawq-kernels (small shapes)
#
# Needs the nightly miri component: `rustup +nightly component add miri` (it installs rust-src
# on first use through `cargo +nightly miri setup`). Miri runs code ~1000x slower than native, so
# the integration tests are restricted by name to the golden and small-shape ones; the big
# sweeps and proptest cases stay in the normal test suite. Miri reports no AVX2/AVX-512 support unless
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
# proptest and rayon's thread pool need the host's clock and threads. Miri deliberately adds
# error to float functions whose precision Rust leaves unspecified (powi, exp, ...); hawq's
# tests compare `2f64.powi(e)` results exactly, which every real target computes exactly, so
# that noise is turned off (set MIRI_FLOAT_NOISE=1 to keep it and see which tests rely on it).
export MIRIFLAGS="$flags -Zmiri-disable-isolation"
if [ "${MIRI_FLOAT_NOISE:-0}" != 1 ]; then
    MIRIFLAGS="$MIRIFLAGS -Zmiri-deterministic-floats"
fi

cargo +nightly miri setup
echo "== hawq-quant (unit tests, then the golden and small integration tests)"
cargo +nightly miri test -p hawq-quant --lib
# The sampled, brute-force and proptest sweeps run millions of cases: native test suite only.
quant_tests=(
    worked_example_from_the_spec
    powers_of_two_and_their_neighbours
    mantissa_ties_round_up
    large_ratios_give_non_positive_shifts
    zero_and_invalid_ratios
    subnormal_ratios
    exact_ties_follow_each_policy
    requantize_saturates_to_the_format
    generic_bounds_match_the_spec
    channel_range_golden
    layer_check_names_layer_channel_and_k
    layer_check_rejects_bad_layouts
    residual_add_golden_and_saturation
    levels_per_width
    ties_go_to_even_4_bit
    ties_go_to_even_8_bit
    per_channel_scales_and_all_zero_channel
    negative_only_channel
    constant_channel_maps_to_the_top_level
    weight_errors_are_typed
    bias_golden_values
    bias_errors_are_typed
    activation_formats
    first_batch_initialises
    minmax_keeps_running_extremes
    constant_batch_does_not_reinitialise
    bad_input_is_an_error_and_changes_nothing
)
cargo +nightly miri test -p hawq-quant --tests -- "${quant_tests[@]}"

echo "== hawq-kernels (small shapes)"
kernel_tests=(
    i4_nibble_order
    refusals_are_typed
    requantize_matches_dyadic_apply
    zero_weights_and_extremes
    conv_geometry_errors
    small_parallel_splits
    small_conv_paths
)
cargo +nightly miri test -p hawq-kernels --lib
# The kernels run on rayon's pool, whose work-stealing deques free memory through
# crossbeam-epoch. crossbeam-epoch turns a reference to the first field of its `Local` into a
# reference to the whole `Local` (internal.rs, `element_of`), which Stacked Borrows rejects and
# Tree Borrows accepts; crossbeam checks itself under Tree Borrows (crossbeam-rs/crossbeam#545,
# #878, #996). So the kernel tests run under Tree Borrows, which still checks hawq-kernels' own
# pointers for aliasing. rayon's global pool is never shut down, so its idle workers outlive
# `main`: -Zmiri-ignore-leaks. Two pool threads so that the 2-thread splits run like on a host.
MIRIFLAGS="$MIRIFLAGS -Zmiri-tree-borrows -Zmiri-ignore-leaks" RAYON_NUM_THREADS=2 \
    cargo +nightly miri test -p hawq-kernels --test kernels -- "${kernel_tests[@]}"
