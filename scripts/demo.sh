#!/usr/bin/env bash
# The main job. For now: install, build, and show the programs' versions.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" >/dev/null
build/cmd/lazysnap/lazysnap --version
build/cmd/lazysnapd/lazysnapd --version
