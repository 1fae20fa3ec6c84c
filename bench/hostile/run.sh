#!/usr/bin/env bash
# bench/hostile/run.sh — issue 14's HTTP/2 rows before and after (README.md). Arguments go to run.mjs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="${IG_BUILD_DIR:-build}"
if [ "${IG_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j2 --target infergate ig-sim vllm leastload >/dev/null
fi
command -v h2load >/dev/null || echo "h2load missing (apt-get install nghttp2-client): no throughput comparison" >&2
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
IG_BUILD_DIR="$BUILD" exec node bench/hostile/run.mjs "$@"
