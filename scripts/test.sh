#!/usr/bin/env bash
# The test command: installs dependencies, builds with ASan+UBSan and -Werror, runs every ctest
# test (checks, unit, fuzz replay, integration, e2e), then a short real fuzzing run with clang.
# Usage: scripts/test.sh [--fuzz-seconds N] [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=15
if [ "${1-}" = --fuzz-seconds ]; then
    [ $# -ge 2 ] || { echo "usage: scripts/test.sh [--fuzz-seconds N] [ctest args...]" >&2; exit 2; }
    fuzz_seconds=$2
    shift 2
fi

scripts/deps.sh test
jobs=$(nproc)

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLZS_WERROR=ON \
    -DLZS_SANITIZERS="address;undefined" >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j "$jobs" "$@"

if [ "$fuzz_seconds" -gt 0 ]; then
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DLZS_FUZZ=ON -DLZS_SANITIZERS="address;undefined" >/dev/null
    cmake --build build-fuzz -j "$jobs"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    for fuzzer in build-fuzz/tests/fuzz/fuzz_*; do
        [[ "$fuzzer" == *_replay ]] && continue
        name=$(basename "$fuzzer")
        corpus=tests/fuzz/corpora/${name#fuzz_}
        rm -rf "${work:?}"/* && mkdir -p "$work/new"
        "$fuzzer" -max_total_time="$fuzz_seconds" -print_final_stats=1 "$work/new" "$corpus" 2>"$work/log" ||
            { tail -50 "$work/log"; exit 1; }
        echo "fuzz: $name for ${fuzz_seconds}s: $(grep -oE 'stat::number_of_executed_units: [0-9]+' "$work/log" | grep -oE '[0-9]+$') runs, no crash"
    done
fi
echo "test: all passed"
