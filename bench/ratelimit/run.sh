#!/usr/bin/env bash
# bench/ratelimit/run.sh — rate limits in Redis against rate limits in memory, in the same run:
#
#   bash bench/ratelimit/run.sh
#
# Starts on 127.0.0.1: one ig-sim, one redis-server, and two gateways that differ only in
# plugins.options.ratelimit.backend (memory | redis); each has one model whose limit is far above
# what the run sends, so every request goes through an admission and none is refused. Then, in
# interleaved rounds (memory, redis, memory, redis, ...), h2load over h2c against each. Reports
# requests per second both ways (medians), their ratio, the gateways' CPU time per request, and
# redis-server's CPU time per admission (utime + stime from /proc/<pid>/stat over a Redis round,
# divided by the requests admitted in it; the script calls Redis ran, from INFO commandstats, show
# how many admissions shared one). Nothing passes or fails on a timing.
#
# Environment (all optional):
#   IG_BENCH_ROUNDS=3         interleaved rounds; medians are reported
#   IG_BENCH_REQUESTS=60000   requests per h2load run
#   IG_BENCH_CLIENTS=8        h2load -c (connections)      IG_BENCH_STREAMS=8  h2load -m (streams each)
#   IG_BENCH_WORKERS=2        gateway server.workers
#   IG_BENCH_LIMITS=rpm       the model's limits: rpm (one script per request: the admission) or
#                             full (requestsPerMinute + tokensPerMinute + maxConcurrent: a
#                             completion script too)
#   IG_BENCH_SKIP_BUILD=1     use the build as it is;  IG_BUILD_DIR=build
#   IG_BENCH_KEEP=1           keep the work directory (configs, logs, h2load output)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="${IG_BUILD_DIR:-build}"
ROUNDS="${IG_BENCH_ROUNDS:-3}"
REQUESTS="${IG_BENCH_REQUESTS:-60000}"
CLIENTS="${IG_BENCH_CLIENTS:-8}"
STREAMS="${IG_BENCH_STREAMS:-8}"
WORKERS="${IG_BENCH_WORKERS:-2}"
LIMITS="${IG_BENCH_LIMITS:-rpm}"

log() { printf '[bench-ratelimit %s] %s\n' "$(date +%T)" "$*" >&2; }

for tool in h2load redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { log "$tool is missing (scripts/setup.sh installs it)"; exit 1; }
done

WORK="$(mktemp -d /tmp/ig-bench-rl.XXXXXX)"
PIDS=()
cleanup() {
  local rc=$? pid
  for pid in "${PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${IG_BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${IG_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building (Release) in $BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j2 >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; exit 1; }
fi
GW="$BUILD/core/infergate"
SIM="$BUILD/tests/simulator/ig-sim"
PLUGDIR="$(cd "$BUILD/plugins" && pwd)"
for f in "$GW" "$SIM" "$PLUGDIR/ratelimit.so"; do [ -e "$f" ] || { log "missing $f"; exit 1; }; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # url
  for _ in $(seq 1 200); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

# ---- engine, Redis, two gateways -------------------------------------------------------------

SIM_PORT="$(free_port)"
"$SIM" --listen "127.0.0.1:$SIM_PORT" --workers 1 --quiet >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$SIM_PORT/health" || { cat "$WORK/sim.log" >&2; log "ig-sim did not start"; exit 1; }

REDIS_PORT="$(free_port)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  --loglevel warning >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=($REDIS_PID)
for _ in $(seq 1 200); do redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1 && break; sleep 0.05; done
redis-cli -p "$REDIS_PORT" PING >/dev/null || { cat "$WORK/redis.log" >&2; log "redis-server did not start"; exit 1; }

case "$LIMITS" in
  rpm) MODEL_LIMITS="{requestsPerMinute: 1000000000}" ;;
  full) MODEL_LIMITS="{requestsPerMinute: 1000000000, tokensPerMinute: 1000000000000, maxConcurrent: 100000}" ;;
  *) log "IG_BENCH_LIMITS: rpm or full"; exit 1 ;;
esac

start_gateway() { # name backend-options -> sets GW_PORT_<name>, GW_PID_<name>
  local name=$1 opts=$2 port
  port="$(free_port)"
  cat >"$WORK/gw-$name.yaml" <<EOF
server:
  listen: ["127.0.0.1:$port"]
  workers: $WORKERS
  logLevel: warn
plugins:
  dir: $PLUGDIR
  load: [vllm, leastload, ratelimit]
  options:
    ratelimit: $opts
models:
  - name: bench-model
    engine: VLLM
    features: [TextGeneration]
    endpoints: ["http://127.0.0.1:$SIM_PORT"]
    limits: $MODEL_LIMITS
EOF
  "$GW" -c "$WORK/gw-$name.yaml" >"$WORK/gw-$name.log" 2>&1 &
  local pid=$!
  PIDS+=($pid)
  wait_http "http://127.0.0.1:$port/healthz" || { cat "$WORK/gw-$name.log" >&2; log "gateway $name did not start"; exit 1; }
  printf -v "GW_PORT_$name" '%s' "$port"
  printf -v "GW_PID_$name" '%s' "$pid"
}
start_gateway memory "{backend: memory}"
start_gateway redis "{backend: redis, redisUrl: \"redis://127.0.0.1:$REDIS_PORT\", keyPrefix: \"bench:\"}"

printf '%s' '{"model":"bench-model","messages":[{"role":"user","content":"Say hello."}],"max_tokens":3}' >"$WORK/chat.json"

# ---- measuring -------------------------------------------------------------------------------

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
script_calls() { # admissions and completions Redis ran (EVALSHA + EVAL)
  redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' |
    awk -F'[:=,]' '/^cmdstat_(evalsha|eval):/ {n += $3} END {print n + 0}'
}
h2load_run() { # port outfile
  h2load -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1 -d "$WORK/chat.json" \
    -H 'content-type: application/json' "http://127.0.0.1:$1/v1/chat/completions" >"$2" 2>&1 || true
}
rps_of() { sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' "$1"; }
ok_of() { sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p' "$1"; }

TCK="$(getconf CLK_TCK)"
log "warming up (2000 requests each)"
for name in memory redis; do
  port_var="GW_PORT_$name"
  h2load -n 2000 -c "$CLIENTS" -m "$STREAMS" -t 1 -d "$WORK/chat.json" -H 'content-type: application/json' \
    "http://127.0.0.1:${!port_var}/v1/chat/completions" >/dev/null 2>&1 || true
done

RESULTS="$WORK/results.txt"
: >"$RESULTS"
for r in $(seq 1 "$ROUNDS"); do
  g0="$(cpu_ticks "$GW_PID_memory")"
  h2load_run "$GW_PORT_memory" "$WORK/h2load-memory-$r.txt"
  g1="$(cpu_ticks "$GW_PID_memory")"
  printf 'memory %s %s %s %s\n' "$r" "$(rps_of "$WORK/h2load-memory-$r.txt")" "$(ok_of "$WORK/h2load-memory-$r.txt")" \
    "$((g1 - g0))" >>"$RESULTS"
  t0="$(cpu_ticks "$REDIS_PID")"; s0="$(script_calls)"; g0="$(cpu_ticks "$GW_PID_redis")"
  h2load_run "$GW_PORT_redis" "$WORK/h2load-redis-$r.txt"
  t1="$(cpu_ticks "$REDIS_PID")"; s1="$(script_calls)"; g1="$(cpu_ticks "$GW_PID_redis")"
  printf 'redis %s %s %s %s %s %s\n' "$r" "$(rps_of "$WORK/h2load-redis-$r.txt")" "$(ok_of "$WORK/h2load-redis-$r.txt")" \
    "$((g1 - g0))" "$((t1 - t0))" "$((s1 - s0))" >>"$RESULTS"
  log "round $r: $(tail -n 2 "$RESULTS" | awk '{printf "%s %s req/s  ", $1, $3}')"
done

python3 - "$RESULTS" "$TCK" "$REQUESTS" "$CLIENTS" "$STREAMS" "$WORKERS" "$LIMITS" <<'PY'
import statistics, sys
path, tck, n, c, m, workers, limits = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
mem, red = [], []
for line in open(path):
    f = line.split()
    if f[0] == "memory":
        mem.append((float(f[2] or 0), int(f[3] or 0), int(f[4])))
    else:
        red.append((float(f[2] or 0), int(f[3] or 0), int(f[4]), int(f[5]), int(f[6])))
us = lambda ticks, count: ticks / tck * 1e6 / count if count else float("nan")
print(f"h2load h2c -n {n} -c {c} -m {m} against one gateway ({workers} workers), model limits: {limits}")
print("| round | memory req/s | redis req/s | ratio | gateway CPU per request, memory / redis | redis-server CPU per admission |")
print("|---|---|---|---|---|---|")
per_adm, gm, gr = [], [], []
for i, (mm, rr) in enumerate(zip(mem, red), 1):
    per_adm.append(us(rr[3], rr[1]))
    gm.append(us(mm[2], mm[1]))
    gr.append(us(rr[2], rr[1]))
    print(f"| {i} | {mm[0]:,.0f} | {rr[0]:,.0f} | {rr[0] / mm[0] if mm[0] else 0:.2f} | {gm[-1]:.1f} / {gr[-1]:.1f} µs | "
          f"{per_adm[-1]:.1f} µs ({rr[3] / tck:.2f} s for {rr[1]} admissions in {rr[4]} script calls) |")
    if mm[1] != int(n) or rr[1] != int(n):
        print(f"|   | (2xx: memory {mm[1]}, redis {rr[1]} of {n}) | | | | |")
mmed, rmed = statistics.median(x[0] for x in mem), statistics.median(x[0] for x in red)
print(f"| median | {mmed:,.0f} | {rmed:,.0f} | {rmed / mmed if mmed else 0:.2f} | "
      f"{statistics.median(gm):.1f} / {statistics.median(gr):.1f} µs | {statistics.median(per_adm):.1f} µs |")
PY
