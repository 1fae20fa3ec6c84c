#!/usr/bin/env bash
# bench/reload/run.sh — reload latency with a 1,000-model config (see bench/README.md).
#   bash bench/reload/run.sh                     # builds Release into $IG_BUILD_DIR (default ./build)
#   bash bench/reload/run.sh --models=5000 --runs=15
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD="${IG_BUILD_DIR:-build}"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
make -C "$BUILD" -j"$(nproc)" infergate ig-sim vllm leastload >/dev/null
IG_BUILD_DIR="$BUILD" node bench/reload/run.mjs "$@"
