#!/usr/bin/env bash
# scripts/run.sh — from a fresh Debian 12 machine to a running gateway:
#   1. installs the packages (scripts/setup.sh),
#   2. builds infergate (Release) into ./build,
#   3. starts the engine simulator (ig-sim) on 127.0.0.1:8000 serving conf/infergate.yaml's models,
#   4. runs the gateway on conf/infergate.yaml in the foreground (Ctrl-C stops both), and once it
#      answers prints a first request and the console's address with the way in (the admin key
#      the gateway makes at its first start, printed once; see docs/console-api.md).
#
# Environment: IG_BUILD_DIR (default ./build), IG_CONFIG (default conf/infergate.yaml),
# IG_SKIP_SETUP=1 to skip step 1, IG_NO_SIM=1 to use a real engine already on :8000.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BUILD="${IG_BUILD_DIR:-build}"
CONFIG="${IG_CONFIG:-conf/infergate.yaml}"
SIM_ADDR="127.0.0.1:8000"

log() { printf '[run] %s\n' "$*" >&2; }

if [ "${IG_SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh
fi

log "building (Release) in $BUILD"
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

GATEWAY=""
for c in "$BUILD/core/infergate" "$BUILD/infergate"; do
  if [ -x "$c" ]; then GATEWAY="$c"; break; fi
done
[ -n "$GATEWAY" ] || { log "gateway binary not found under $BUILD"; exit 1; }
SIM="$BUILD/tests/simulator/ig-sim"

"$GATEWAY" -t -c "$CONFIG"

SIM_PID=""
cleanup() { if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${IG_NO_SIM:-0}" != 1 ]; then
  [ -x "$SIM" ] || { log "simulator not found: $SIM"; exit 1; }
  # The simulator serves the names the gateway will send (the default config's models, and the
  # chat model's LoRA adapter "sql").
  SIM_LOG="$(mktemp -t ig-sim.XXXXXX.log)"
  "$SIM" --listen "$SIM_ADDR" \
    --served-model-name qwen25-05b-instruct,bge-small-en-v1.5 \
    --lora-modules sql \
    --token-rate 50 >"$SIM_LOG" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 1 100); do
    grep -q 'listening on' "$SIM_LOG" 2>/dev/null && break
    kill -0 "$SIM_PID" 2>/dev/null || { cat "$SIM_LOG" >&2; log "ig-sim failed to start"; exit 1; }
    sleep 0.1
  done
  grep -q 'listening on' "$SIM_LOG" || { cat "$SIM_LOG" >&2; log "ig-sim did not become ready"; exit 1; }
  log "engine simulator ready on $SIM_ADDR (pid $SIM_PID, log $SIM_LOG)"

  # The gateway replaces this shell (exec keeps the pid, $$): a watcher stops the simulator
  # once the gateway is gone, however it ends.
  GW_PID=$$
  ( trap '' INT
    while kill -0 "$GW_PID" 2>/dev/null; do sleep 0.5; done
    kill "$SIM_PID" 2>/dev/null || true ) </dev/null >/dev/null 2>&1 &
fi

# The gateway's stderr also goes to a private log, so the ready message below can repeat its console
# line (with the admin key the first start makes); the log is removed when the gateway ends.
GW_LOG="$(mktemp -t infergate.XXXXXX.log)"
chmod 600 "$GW_LOG"
( trap '' INT TERM
  while kill -0 $$ 2>/dev/null; do sleep 0.5; done
  rm -f "$GW_LOG" ) </dev/null >/dev/null 2>&1 &

# Print a first request once the gateway answers /healthz, then how to reach the console.
( trap '' INT
  url="http://127.0.0.1:8080"
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then
      console="$(grep -a -m1 '^infergate: console at ' "$GW_LOG" 2>/dev/null | sed 's/^infergate: //')"
      [ -n "$console" ] || console="console at $url/ui/"
      cat >&2 <<MSG

[run] infergate is ready on $url  (Ctrl-C stops it). Try:

  curl -s $url/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"qwen25-05b-instruct","messages":[{"role":"user","content":"Hello!"}],"max_tokens":16}'

  curl -sN --http2-prior-knowledge $url/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model":"qwen25-05b-instruct","messages":[{"role":"user","content":"Hi"}],"stream":true,"max_tokens":8}'

  curl -s $url/v1/embeddings -H 'Content-Type: application/json' \\
    -d '{"model":"bge-small-en-v1.5","input":["hello world"]}'

  curl -s $url/v1/models

[run] The operator console (models, keys, usage; sign in with the admin key):
[run]   $console
[run] Your own admin key instead: printf %s KEY | sha256sum, then server.adminKeys: ["sha256:<hex>"] in $CONFIG.

MSG
      exit 0
    fi
    sleep 0.2
  done ) </dev/null &

trap - EXIT INT TERM
log "starting $GATEWAY -c $CONFIG"
# tee keeps running through Ctrl-C and SIGTERM (ignored) until the gateway's last line
exec "$GATEWAY" -c "$CONFIG" 2> >(trap '' INT TERM; exec tee -a "$GW_LOG" >&2)
