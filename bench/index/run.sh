#!/usr/bin/env bash
# bench/index: builds lazysnap (Release) and runs bench.py. Args are passed to bench.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/deps.sh test
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j "$(nproc)" --target lazysnap readlat >/dev/null
exec python3 bench/index/bench.py build-release/cmd/lazysnap/lazysnap \
    build-release/bench/readlat "$@"
