#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for a bounded time (libFuzzer -max_total_time).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds each, every target
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). Each target reads its
# committed seeds from fuzz/corpus/<target>/ and writes what it discovers to fuzz/work/<target>/
# (ignored by git), so the committed corpus stays small. A crash leaves its input in
# fuzz/artifacts/<target>/ and makes this script exit non-zero; turn it into a regression test
# in the crate that owns the loader. Extra libFuzzer flags can be passed in FUZZ_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
target_dir="${CARGO_TARGET_DIR:-target}"

cargo +nightly fuzz build -O --target-dir "$target_dir"
status=0
for t in "${targets[@]}"; do
    mkdir -p "work/$t" "artifacts/$t"
    echo "== $t: ${seconds}s"
    # -rss_limit_mb bounds memory, so an allocation bomb is a finding, not a stall.
    set +e
    # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
    cargo +nightly fuzz run -O --target-dir "$target_dir" "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        ${FUZZ_FLAGS:-} >"work/$t.log" 2>&1
    rc=$?
    set -e
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+ +DONE|SUMMARY)" "work/$t.log" || true
    echo "corpus entries found: $(find "work/$t" -type f | wc -l)"
    if [ $rc -ne 0 ]; then
        echo "!! $t exited with $rc (crash?); see fuzz/artifacts/$t and fuzz/work/$t.log"
        status=1
    fi
done
exit $status
