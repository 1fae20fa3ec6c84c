#!/usr/bin/env bash
# bench/run.sh — infergate's load benchmark, one command:
#
#   bash bench/run.sh
#
# Installs what it needs from Debian (nginx, h2load, python3; perf, valgrind and strace when
# available), builds infergate (Release, into ./build, as the README does), starts everything on
# 127.0.0.1, measures, stops everything, prints the tables and writes them into bench/README.md
# (between the "results" markers). About 8 minutes on a 2-core machine. It is not a test: nothing
# here passes or fails on a timing.
#
# What is compared, in the same run, interleaved (round 1: a b c d, round 2: a b c d, ...):
#   (a) client -> ig-sim directly
#   (b) client -> nginx (plain reverse proxy, upstream keep-alive) -> ig-sim
#   (c) client -> infergate with every plugin found in build/plugins (auth, rate limit, billing,
#       PrefixHash when they exist) -> ig-sim; while none of those exist, (c) is (d) and is not run
#   (d) client -> infergate with the engine plugin (vllm) and LeastLoad only -> ig-sim
#
# Environment (all optional):
#   IG_BENCH_ROUNDS=3        interleaved rounds; medians are reported
#   IG_BENCH_DURATION=5      seconds per closed-loop and open-loop run
#   IG_BENCH_STREAMS=5000    concurrent long streams (lowered to what RLIMIT_NOFILE allows)
#   IG_BENCH_QUICK=1         1 round, 2 s runs, 500 streams, no profile: checks the script itself
#   IG_BENCH_PROFILE=0       skip the profile (perf, callgrind, strace)
#   IG_BENCH_README=0        do not touch bench/README.md
#   IG_BENCH_SKIP_SETUP=1    do not install packages;  IG_BENCH_SKIP_BUILD=1  do not build
#   IG_BUILD_DIR=build       build directory
#   IG_BENCH_API_KEY=sk-bench  sent as "Authorization: Bearer ..." by every client (ignored by (a), (b))
#   IG_BENCH_KEEP=1          keep the work directory (configs, logs, raw results) after the run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${IG_BUILD_DIR:-build}"
ROUNDS="${IG_BENCH_ROUNDS:-3}"
DUR="${IG_BENCH_DURATION:-5}"
STREAMS="${IG_BENCH_STREAMS:-5000}"
PROFILE="${IG_BENCH_PROFILE:-1}"
API_KEY="${IG_BENCH_API_KEY:-sk-bench}"
API_KEY_HASH="$(printf %s "$API_KEY" | sha256sum | cut -d' ' -f1)"   # what (c)'s apikey plugin stores
if [ "${IG_BENCH_QUICK:-0}" = 1 ]; then
  ROUNDS=1; DUR=2; STREAMS=500; PROFILE="${IG_BENCH_PROFILE:-0}"
fi
WORKERS=2                 # gateway workers = nginx worker processes = ig-sim workers
STREAM_TOKENS=60          # per stream, at 5 tokens/s: about 12 s
TOKEN_RATE=5

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }

# ---- processes: everything started here is stopped on exit ----------------------------------

PIDS=()
POLICY_RC_CREATED=0
WORK="$(mktemp -d /tmp/ig-bench.XXXXXX)"

stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && stop_pid "$pid"; done
  if [ "$POLICY_RC_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ "${IG_BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
    log "work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && [ "$p" != "$1" ] && keep+=("$p"); done
  PIDS=("${keep[@]:-}")
}

# ---- setup and build -----------------------------------------------------------------------------

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

pkg_missing() { ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

if [ "${IG_BENCH_SKIP_SETUP:-0}" != 1 ]; then
  need=(build-essential cmake pkg-config libh2o-dev libuv1-dev libyaml-dev libssl-dev libsqlite3-dev
        libhiredis-dev libxxhash-dev nginx nghttp2-client python3 curl procps iproute2)
  optional=(linux-perf valgrind strace)
  missing=(); for p in "${need[@]}"; do pkg_missing "$p" && missing+=("$p"); done
  opt_missing=(); for p in "${optional[@]}"; do pkg_missing "$p" && opt_missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ] || [ ${#opt_missing[@]} -gt 0 ]; then
    # installing nginx must not start the system's nginx service on :80
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
      $SUDO chmod +x /usr/sbin/policy-rc.d
      POLICY_RC_CREATED=1
    fi
    $SUDO apt-get update -q >/dev/null
    if [ ${#missing[@]} -gt 0 ]; then
      log "installing: ${missing[*]}"
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
    for p in "${opt_missing[@]:-}"; do
      [ -n "$p" ] || continue
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "$p" >/dev/null 2>&1 \
        || log "optional package $p is not available: going on without it"
    done
    if [ "$POLICY_RC_CREATED" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; POLICY_RC_CREATED=0; fi
  fi
fi

if [ "${IG_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  log "building (Release) in $BUILD"
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; exit 1; }
fi
GW="$BUILD/core/infergate"
SIM="$BUILD/tests/simulator/ig-sim"
OPENLOOP="$BUILD/bench/openloop"
PLUGDIR="$(cd "$BUILD/plugins" && pwd)"
for f in "$GW" "$SIM" "$OPENLOOP"; do [ -x "$f" ] || { log "missing $f"; exit 1; }; done

# descriptors: every stream holds a client and an engine connection in the proxy
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE="$(ulimit -n)"
if [ "$NOFILE" != unlimited ] && [ $((STREAMS * 2 + 256)) -gt "$NOFILE" ]; then
  STREAMS=$(( (NOFILE - 256) / 2 ))
  log "RLIMIT_NOFILE is $NOFILE: streams lowered to $STREAMS"
fi

RESULTS="$WORK/results.jsonl"
COMMANDS="$WORK/commands.txt"
: >"$RESULTS"; : >"$COMMANDS"
emit() { printf '%s\n' "$1" >>"$RESULTS"; }
shq() { # words quoted for a shell where needed
  local out="" w
  for w in "$@"; do
    if [[ "$w" =~ ^[A-Za-z0-9_./:=@,+-]+$ ]]; then out+="$w "; else out+="'${w//\'/\'\\\'\'}' "; fi
  done
  printf '%s' "${out% }"
}
note_cmd() { # keep each distinct command line once, for the README
  local c="$*"
  grep -qxF -- "$c" "$COMMANDS" 2>/dev/null || printf '%s\n' "$c" >>"$COMMANDS"
}

# ---- request bodies -------------------------------------------------------------------------------

MODEL=bench-model
python3 - "$WORK" "$MODEL" "$STREAM_TOKENS" <<'PY'
import json, sys
work, model, stream_tokens = sys.argv[1], sys.argv[2], int(sys.argv[3])
words = ("the quick brown fox jumps over the lazy dog while a careful engineer measures "
         "every microsecond that a gateway adds to each request on its way to the engine ").split()
LONG = " ".join(words * (200 * 1024 // len(" ".join(words)) + 2))
def text(n):                             # n characters of words, cut at a word boundary
    return LONG[:n].rsplit(" ", 1)[0] if n < len(LONG) else LONG
def body(user, **extra):
    d = {"model": model, "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                      {"role": "user", "content": user}]}
    d.update(extra)
    return json.dumps(d, separators=(",", ":"))
def fit(size, **extra):
    lo, hi = 0, size
    while lo < hi:                       # longest user text whose body is <= size bytes
        mid = (lo + hi + 1) // 2
        if len(body(text(mid), **extra)) <= size: lo = mid
        else: hi = mid - 1
    return body(text(lo), **extra)
# max_tokens 3: ig-sim answers about 400 bytes of JSON for this model name
open(f"{work}/chat-1k5.json", "w").write(fit(1500, max_tokens=3, temperature=0.7))
open(f"{work}/chat-100k.json", "w").write(fit(100 * 1024, max_tokens=3, temperature=0.7))
open(f"{work}/stream.json", "w").write(body("Tell me a long story.", max_tokens=stream_tokens, stream=True))
open(f"{work}/stream-warm.json", "w").write(body("Hi.", max_tokens=1, stream=True))
PY

# ---- ports and starting things ----------------------------------------------------------------------

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # url [tries]: until it answers at all
  local i
  for i in $(seq 1 "${2:-100}"); do
    curl -s -o /dev/null --max-time 1 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

SIM_PID=""; SIM_PORT=""
start_sim() { # extra args...
  SIM_PORT="$(free_port)"
  local logf="$WORK/sim-$SIM_PORT.log"
  note_cmd "$SIM --listen 127.0.0.1:PORT --workers $WORKERS --quiet $*"
  "$SIM" --listen "127.0.0.1:$SIM_PORT" --workers "$WORKERS" --quiet "$@" >"$logf" 2>&1 &
  SIM_PID=$!; PIDS+=("$SIM_PID")
  local i
  for i in $(seq 1 100); do grep -q 'listening on' "$logf" && return 0; sleep 0.1; done
  cat "$logf" >&2; log "ig-sim did not start"; exit 1
}

# Extra plugins for (c): whatever exists among these gets loaded (with its bench options, if any).
OPTIONAL_PLUGINS=(apikey ratelimit billing prefixhash)
C_PLUGINS=()
for p in "${OPTIONAL_PLUGINS[@]}"; do [ -f "$PLUGDIR/$p.so" ] && C_PLUGINS+=("$p"); done

gateway_config() { # variant port sim_port -> path
  local v=$1 port=$2 sp=$3 f="$WORK/gateway-$1-$2.yaml"
  local load="vllm, leastload" strategy="LeastLoad" p
  if [ "$v" = c ]; then
    for p in "${C_PLUGINS[@]:-}"; do [ -n "$p" ] && load="$load, $p"; done
    [ -f "$PLUGDIR/prefixhash.so" ] && strategy="PrefixHash"
  fi
  {
    echo "server:"
    echo "  listen: [\"127.0.0.1:$port\"]"
    echo "  workers: $WORKERS"
    echo "  accessLog: \"off\"     # off here and in nginx"
    echo "  logLevel: warn"
    echo "  stateDir: $WORK/state-$v-$port"
    echo "plugins:"
    echo "  dir: $PLUGDIR"
    echo "  load: [$load]"
    if [ "$v" = c ]; then
      local have_opts=0
      for p in "${C_PLUGINS[@]:-}"; do [ -n "$p" ] && [ -f "$ROOT/bench/variant-c/$p.yaml" ] && have_opts=1; done
      if [ $have_opts = 1 ]; then
        echo "  options:"
        for p in "${C_PLUGINS[@]:-}"; do
          [ -n "$p" ] && [ -f "$ROOT/bench/variant-c/$p.yaml" ] || continue
          echo "    $p:"
          sed -e 's/^/      /' -e "s#@WORK@#$WORK#g" -e "s#@API_KEY@#$API_KEY#g" -e "s#@API_KEY_HASH@#$API_KEY_HASH#g" \
            "$ROOT/bench/variant-c/$p.yaml"
        done
      fi
    fi
    echo "models:"
    echo "  - name: $MODEL"
    echo "    engine: VLLM"
    echo "    url: hf://bench/model"
    echo "    features: [TextGeneration]"
    echo "    # one simulator under two endpoint URLs, so the strategy picks on every request"
    echo "    endpoints: [\"http://127.0.0.1:$sp\", \"http://localhost:$sp\"]"
    echo "    loadBalancing: {strategy: $strategy}"
    if [ "$v" = c ] && [ -f "$ROOT/bench/variant-c/models.yaml" ]; then
      sed -e 's/^/    /' -e "s#@WORK@#$WORK#g" -e "s#@API_KEY@#$API_KEY#g" "$ROOT/bench/variant-c/models.yaml"
    fi
  } >"$f"
  mkdir -p "$WORK/state-$v-$port"
  echo "$f"
}

nginx_config() { # h1_port h2_port sim_port streams -> prefix dir
  local d="$WORK/nginx-$1" wc=$(( $4 * 2 + 1024 ))
  mkdir -p "$d/logs" "$d/tmp"
  cat >"$d/nginx.conf" <<EOF
# (b) nginx as a plain reverse proxy: $WORKERS worker processes (the gateway has $WORKERS worker
# threads), access log off (as in the gateway), upstream keep-alive, response buffering off so
# streams flow chunk by chunk, request bodies kept in memory up to 1 MiB.
daemon off;
master_process on;
worker_processes $WORKERS;
worker_rlimit_nofile $NOFILE;
error_log logs/error.log warn;
pid logs/nginx.pid;
events { worker_connections $wc; }
http {
  access_log off;
  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy; fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;
  client_max_body_size 16m;
  client_body_buffer_size 1m;
  keepalive_requests 1000000;
  upstream engine {
    # the same simulator twice, as the gateway lists it under two URLs
    server 127.0.0.1:$3;
    server 127.0.0.1:$3;
    keepalive 256;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$1;
    listen 127.0.0.1:$2 http2;
    location / {
      proxy_pass http://engine;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
  echo "$d"
}

# Starts variant v in front of simulator port sp; sets PROXY_PID, PORT_H1, PORT_H2.
PROXY_PID=""; PORT_H1=""; PORT_H2=""
start_variant() { # v sp streams
  local v=$1 sp=$2
  PROXY_PID=""
  case $v in
    a) PORT_H1=$sp; PORT_H2=$sp ;;
    b)
      PORT_H1="$(free_port)"; PORT_H2="$(free_port)"
      local d; d="$(nginx_config "$PORT_H1" "$PORT_H2" "$sp" "$3")"
      note_cmd "nginx -p TMPDIR -c TMPDIR/nginx.conf   # config below"
      nginx -p "$d" -c "$d/nginx.conf" >"$d/stdout.log" 2>&1 &
      PROXY_PID=$!; PIDS+=("$PROXY_PID")
      ;;
    c|d)
      PORT_H1="$(free_port)"; PORT_H2=$PORT_H1
      local f; f="$(gateway_config "$v" "$PORT_H1" "$sp")"
      if ! "$GW" -t -c "$f" >"$WORK/check-$v.log" 2>&1; then
        cat "$WORK/check-$v.log" >&2; log "gateway config for ($v) is invalid: $f"; exit 1
      fi
      note_cmd "$GW -c GATEWAY.yaml   # config below"
      "$GW" -c "$f" >"$WORK/gw-$v-$PORT_H1.log" 2>&1 &
      PROXY_PID=$!; PIDS+=("$PROXY_PID")
      ;;
  esac
  if ! wait_http "http://127.0.0.1:$PORT_H1/"; then log "($v) did not start"; exit 1; fi
}

stop_variant() {
  if [ -n "$PROXY_PID" ]; then stop_pid "$PROXY_PID"; forget_pid "$PROXY_PID"; fi
  PROXY_PID=""
}

# The proxy's processes: the gateway, or nginx's master and workers.
proxy_pids() {
  [ -n "$PROXY_PID" ] || return 0
  echo "$PROXY_PID"
  pgrep -P "$PROXY_PID" 2>/dev/null || true
}

TCK="$(getconf CLK_TCK)"
cpu_seconds() { # utime+stime of the proxy's processes, seconds
  local t=0 p s
  for p in $(proxy_pids); do
    s="$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)"
    t=$((t + s))
  done
  python3 -c "print($t / $TCK)"
}
mem_kb() { # VmRSS|VmHWM summed over the proxy's processes
  local t=0 p s
  for p in $(proxy_pids); do
    s="$(awk -v k="$1:" '$1 == k {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)"
    t=$((t + ${s:-0}))
  done
  echo "$t"
}

H_CT="content-type: application/json"
H_AUTH="authorization: Bearer $API_KEY"

h2load_run() { # v round proto url -> emits a result line
  local v=$1 r=$2 proto=$3 url=$4 out="$WORK/h2load-$1-$2-$3.txt"
  local args=(-D "$DUR" -t 2 -d "$WORK/chat-1k5.json" -H "$H_CT" -H "$H_AUTH")
  if [ "$proto" = h1 ]; then args+=(--h1 -c 64); else args+=(-c 8 -m 8); fi
  note_cmd "h2load $(shq "${args[@]}") http://127.0.0.1:PORT/v1/chat/completions"
  local c0 c1; c0="$(cpu_seconds)"
  h2load "${args[@]}" "$url" >"$out" 2>&1 || true
  c1="$(cpu_seconds)"
  python3 - "$v" "$r" "$proto" "$c0" "$c1" "$out" >>"$RESULTS" <<'PY'
import json, re, sys
v, r, proto, c0, c1, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
t = open(path).read()
m = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", t)
q = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", t)
s2 = re.search(r"status codes: (\d+) 2xx", t)
ok = int(s2.group(1)) if s2 else 0
rec = {"kind": "h2load", "variant": v, "round": r, "proto": proto,
       "rps": float(m.group(2)) if m else 0.0, "done": int(q.group(3)) if q else 0,
       "ok": ok, "failed": (int(q.group(5)) + int(q.group(6))) if q else -1, "cpu_s": c1 - c0}
rec["non2xx"] = rec["done"] - ok
rec["cpu_per_1k"] = (c1 - c0) / (ok / 1000) if ok and v != "a" else None
print(json.dumps(rec))
PY
}

openloop_run() { # v round load url args...
  local v=$1 r=$2 load=$3 url=$4; shift 4
  local out="$WORK/ol-$v-$r-$load.json"
  note_cmd "$OPENLOOP --url http://127.0.0.1:PORT/v1/chat/completions --header '$H_AUTH' $(shq "$@")"
  local c0 c1; c0="$(cpu_seconds)"
  "$OPENLOOP" --url "$url" --header "$H_AUTH" --label "$v-$r-$load" "$@" >"$out" 2>>"$WORK/openloop.log" || true
  c1="$(cpu_seconds)"
  python3 - "$v" "$r" "$load" "$c0" "$c1" "$out" >>"$RESULTS" <<'PY'
import json, sys
v, r, load, c0, c1, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
try:
    res = json.loads(open(path).read().strip().splitlines()[-1])
except Exception:
    res = {}
rec = {"kind": "open", "variant": v, "round": r, "load": load, "result": res, "cpu_s": c1 - c0}
sent = res.get("sent", 0)
rec["cpu_per_1k"] = (c1 - c0) / (sent / 1000) if sent and v != "a" else None
print(json.dumps(rec))
PY
}

# ---- the run ------------------------------------------------------------------------------------

VARIANTS=(a b d)
if [ ${#C_PLUGINS[@]} -gt 0 ]; then VARIANTS=(a b c d); fi
log "variants: ${VARIANTS[*]}  (extra plugins for (c): ${C_PLUGINS[*]:-none, so (c) = (d)})"
log "rounds: $ROUNDS, $DUR s per run, $STREAMS streams; work directory $WORK"

GIT_DESC="commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), built from the work tree"
DIRTY="$(git status --porcelain -- core plugins 2>/dev/null | wc -l)"
[ "$DIRTY" -gt 0 ] && GIT_DESC="$GIT_DESC with $DIRTY uncommitted changes under core/ and plugins/"
emit "$(python3 - "$ROUNDS" "$DUR" "$STREAMS" "$WORKERS" "${C_PLUGINS[*]:-}" "$NOFILE" "$STREAM_TOKENS" "$TOKEN_RATE" "$GIT_DESC" <<'PY'
import json, sys
print(json.dumps({"kind": "meta", "rounds": int(sys.argv[1]), "duration": float(sys.argv[2]),
                  "streams": int(sys.argv[3]), "workers": int(sys.argv[4]),
                  "c_plugins": sys.argv[5].split(), "nofile": sys.argv[6],
                  "stream_tokens": int(sys.argv[7]), "token_rate": float(sys.argv[8]),
                  "loadavg_start": open("/proc/loadavg").read().split()[:3], "git": sys.argv[9]}))
PY
)"

# a long context, so the 100 KB prompt (about 19,000 words) is accepted
start_sim --max-model-len 1000000
FAST_SIM=$SIM_PORT
START=$(date +%s)

for r in $(seq 1 "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    log "round $r/$ROUNDS: ($v)"
    start_variant "$v" "$FAST_SIM" 256
    U1="http://127.0.0.1:$PORT_H1/v1/chat/completions"
    U2="http://127.0.0.1:$PORT_H2/v1/chat/completions"
    # one request, then idle memory; then a warm-up the measurements do not see
    curl -s -o /dev/null -H "$H_CT" -H "$H_AUTH" --data-binary @"$WORK/chat-1k5.json" "$U1" || true
    sleep 0.3
    if [ "$v" != a ]; then emit "{\"kind\":\"idle\",\"variant\":\"$v\",\"round\":$r,\"rss_kb\":$(mem_kb VmRSS)}"; fi
    h2load -n 3000 -c 16 -t 1 --h1 -d "$WORK/chat-1k5.json" -H "$H_CT" -H "$H_AUTH" "$U1" >/dev/null 2>&1 || true
    h2load_run "$v" "$r" h1 "$U1"
    h2load_run "$v" "$r" h2c "$U2"
    openloop_run "$v" "$r" rate2000 "$U1" --body "$WORK/chat-1k5.json" --rate 2000 --duration "$((DUR > 2 ? DUR - 1 : DUR))" --warmup 1 --connections 64
    openloop_run "$v" "$r" rate5000 "$U1" --body "$WORK/chat-1k5.json" --rate 5000 --duration "$DUR" --warmup 1 --connections 64
    openloop_run "$v" "$r" body100k "$U1" --body "$WORK/chat-100k.json" --rate 100 --duration "$((DUR > 3 ? 3 : DUR))" --warmup 1 --connections 8
    if [ "$v" != a ]; then emit "{\"kind\":\"peak\",\"variant\":\"$v\",\"round\":$r,\"hwm_kb\":$(mem_kb VmHWM)}"; fi
    stop_variant
  done
done
stop_pid "$SIM_PID"; forget_pid "$SIM_PID"

# ---- many long streams: memory per stream, CPU per token, time to first token -----------------------

start_sim --token-rate "$TOKEN_RATE"
STREAM_SIM=$SIM_PORT
RAMP=$(python3 -c "print(max(1.0, $STREAMS / 1000))")
sim_tokens() { curl -s "http://127.0.0.1:$STREAM_SIM/sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["completion_tokens"])'; }
for v in "${VARIANTS[@]}"; do
  log "streams: ($v) $STREAMS streams of $STREAM_TOKENS tokens at $TOKEN_RATE tokens/s"
  start_variant "$v" "$STREAM_SIM" "$STREAMS"
  curl -s -o /dev/null -H "$H_CT" -H "$H_AUTH" --data-binary @"$WORK/stream-warm.json" "http://127.0.0.1:$PORT_H1/v1/chat/completions" || true
  sleep 0.3
  idle=0; [ "$v" != a ] && idle="$(mem_kb VmRSS)"
  tok0="$(sim_tokens)"; c0="$(cpu_seconds)"
  out="$WORK/streams-$v.json"
  note_cmd "$OPENLOOP --url http://127.0.0.1:PORT/v1/chat/completions --header '$H_AUTH' --body stream.json --streams $STREAMS --ramp $RAMP --timeout 60"
  "$OPENLOOP" --url "http://127.0.0.1:$PORT_H1/v1/chat/completions" --header "$H_AUTH" --body "$WORK/stream.json" \
    --streams "$STREAMS" --ramp "$RAMP" --timeout 60 --label "streams-$v" >"$out" 2>>"$WORK/openloop.log" &
  OL=$!; PIDS+=("$OL")
  peak=0
  while kill -0 "$OL" 2>/dev/null; do
    if [ "$v" != a ]; then m="$(mem_kb VmRSS)"; [ "$m" -gt "$peak" ] && peak=$m; fi
    sleep 0.2
  done
  wait "$OL" || true; forget_pid "$OL"
  c1="$(cpu_seconds)"; tok1="$(sim_tokens)"
  python3 - "$v" "$idle" "$peak" "$tok0" "$tok1" "$c0" "$c1" "$out" >>"$RESULTS" <<'PY'
import json, sys
v = sys.argv[1]; idle, peak, t0, t1 = (int(x) for x in sys.argv[2:6]); c0, c1 = float(sys.argv[6]), float(sys.argv[7])
try:
    res = json.loads(open(sys.argv[8]).read().strip().splitlines()[-1])
except Exception:
    res = {}
print(json.dumps({"kind": "streams", "variant": v, "idle_kb": idle, "peak_kb": peak, "tokens": t1 - t0,
                  "cpu_s": c1 - c0, "result": res}))
PY
  stop_variant
done
stop_pid "$SIM_PID"; forget_pid "$SIM_PID"

# ---- profile of the gateway's hot path ---------------------------------------------------------------

PROF="$WORK/profile"
mkdir -p "$PROF"
if [ "$PROFILE" = 1 ]; then
  PV=d; [[ " ${VARIANTS[*]} " == *" c "* ]] && PV=c
  start_sim
  PSIM=$SIM_PORT
  # perf: where the CPU goes (kernel included) under a closed-loop HTTP/1.1 run
  if command -v perf >/dev/null && perf record -e cpu-clock -o "$PROF/probe.data" -- true >/dev/null 2>&1; then
    log "profile: perf record on ($PV)"
    start_variant "$PV" "$PSIM" 256
    U1="http://127.0.0.1:$PORT_H1/v1/chat/completions"
    note_cmd "perf record -e cpu-clock -F 2000 -p GATEWAY_PID -- sleep 6   # under h2load --h1 -c 64 -t 2 -D 8"
    h2load -D 8 -t 2 -c 64 --h1 -d "$WORK/chat-1k5.json" -H "$H_CT" -H "$H_AUTH" "$U1" >"$PROF/h2load-perf.txt" 2>&1 &
    HL=$!; PIDS+=("$HL")
    sleep 1
    perf record -e cpu-clock -F 2000 -p "$PROXY_PID" -o "$PROF/perf.data" -- sleep 6 >/dev/null 2>&1 || true
    wait "$HL" || true; forget_pid "$HL"
    perf report -i "$PROF/perf.data" --no-children --sort dso -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12 >"$PROF/perf-dso.txt" || true
    perf report -i "$PROF/perf.data" --no-children --sort dso,symbol -g none --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 >"$PROF/perf-symbols.txt" || true
    stop_variant
  else
    log "profile: perf cannot record here; skipping it"
  fi
  # strace: system calls per request, gateway against nginx
  if command -v strace >/dev/null; then
    for v in b "$PV"; do
      log "profile: system calls per request, ($v)"
      start_variant "$v" "$PSIM" 256
      U1="http://127.0.0.1:$PORT_H1/v1/chat/completions"
      h2load -n 2000 -c 32 -t 1 --h1 -d "$WORK/chat-1k5.json" -H "$H_CT" -H "$H_AUTH" "$U1" >/dev/null 2>&1 || true
      sargs=(); for p in $(proxy_pids); do sargs+=(-p "$p"); done
      note_cmd "strace -f -c -p PROXY_PIDS...   # during h2load -n 20000 -c 32 -t 2 --h1"
      strace -f -c -o "$PROF/strace-$v.txt" "${sargs[@]}" 2>/dev/null &
      ST=$!; PIDS+=("$ST")
      sleep 1
      h2load -n 20000 -c 32 -t 2 --h1 -d "$WORK/chat-1k5.json" -H "$H_CT" -H "$H_AUTH" "$U1" >"$PROF/h2load-strace-$v.txt" 2>&1 || true
      kill -INT "$ST" 2>/dev/null || true; wait "$ST" 2>/dev/null || true; forget_pid "$ST"
      stop_variant
    done
  fi
  # callgrind: exact instructions, calls and allocations per request in user space
  if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
    log "profile: callgrind on ($PV), 5000 requests"
    port="$(free_port)"
    f="$(gateway_config "$PV" "$port" "$PSIM")"
    note_cmd "valgrind --tool=callgrind $GW -c GATEWAY.yaml   # 5000 requests: h2load -n 5000 -c 4 -t 1 --h1, after 500 unmeasured"
    valgrind --tool=callgrind --callgrind-out-file="$PROF/callgrind.out" "$GW" -c "$f" >"$PROF/callgrind.log" 2>&1 &
    CG=$!; PIDS+=("$CG")
    U1="http://127.0.0.1:$port/v1/chat/completions"
    if wait_http "http://127.0.0.1:$port/healthz" 300; then
      h2load -n 500 -c 4 -t 1 --h1 -d "$WORK/chat-1k5.json" -H "$H_CT" -H "$H_AUTH" "$U1" >/dev/null 2>&1 || true
      callgrind_control -z "$CG" >/dev/null 2>&1 || true
      h2load -n 5000 -c 4 -t 1 --h1 -d "$WORK/chat-1k5.json" -H "$H_CT" -H "$H_AUTH" "$U1" >"$PROF/h2load-callgrind.txt" 2>&1 || true
      callgrind_control -d "$CG" >/dev/null 2>&1 || true
      sleep 1
    fi
    stop_pid "$CG"; forget_pid "$CG"
    dump="$(ls "$PROF"/callgrind.out.* 2>/dev/null | sort | head -1 || true)"
    if [ -n "$dump" ]; then
      callgrind_annotate --threshold=100 "$dump" >"$PROF/callgrind-self.txt" 2>/dev/null || true
      callgrind_annotate --tree=caller --threshold=100 "$dump" >"$PROF/callgrind-callers.txt" 2>/dev/null || true
    fi
  fi
  stop_pid "$SIM_PID"; forget_pid "$SIM_PID"
fi

END=$(date +%s)
log "measured in $((END - START)) s"
emit "{\"kind\":\"end\",\"seconds\":$((END - START)),\"loadavg_end\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"

# ---- report -------------------------------------------------------------------------------------------

cp "$(ls "$WORK"/gateway-d-*.yaml | head -1)" "$WORK/gateway-d.yaml"
if ls "$WORK"/gateway-c-*.yaml >/dev/null 2>&1; then cp "$(ls "$WORK"/gateway-c-*.yaml | head -1)" "$WORK/gateway-c.yaml"; fi
cp "$(ls -d "$WORK"/nginx-*/ | head -1)nginx.conf" "$WORK/nginx.conf"
README_ARG=""
[ "${IG_BENCH_README:-1}" = 1 ] && [ "${IG_BENCH_QUICK:-0}" != 1 ] && README_ARG="$ROOT/bench/README.md"
python3 "$ROOT/bench/report.py" "$WORK" "$README_ARG"
