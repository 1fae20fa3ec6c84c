#!/usr/bin/env bash
# bench/prefix_routing/run.sh — builds what the benchmark needs (incrementally), then runs the
# multi-turn chat benchmark: 4 ig-sim endpoints with a prefix cache, one infergate with three models
# (Random, LeastLoad, PrefixHash), one phase per strategy. Prints a Markdown table; stops everything.
#
#   bash bench/prefix_routing/run.sh                      # defaults (about a minute)
#   bash bench/prefix_routing/run.sh --conversations=64   # any parameter of run.mjs: --name=value
#
# Environment: IG_BUILD_DIR (default ./build; Release is used when the directory is configured here).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="${IG_BUILD_DIR:-build}"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$BUILD" -j"$(nproc)" --target infergate ig-sim vllm leastload prefixhash random >/dev/null
IG_BUILD_DIR="$BUILD" exec node bench/prefix_routing/run.mjs "$@"
