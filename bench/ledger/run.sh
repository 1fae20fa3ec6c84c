#!/usr/bin/env bash
# bench/ledger/run.sh — the usage ledger's sustained records per second at saturation: SQLite (the
# embedded default) against PostgreSQL (server.database), in the same run, through the billing
# plugin's own writer (build/bench/ledger_bench; see ledger_bench.c).
#
#   bash bench/ledger/run.sh
#
# Starts a throwaway PostgreSQL (Debian's initdb/postgres from /usr/lib/postgresql/<v>/bin, a temp
# directory, a free port on 127.0.0.1, default durability: fsync and synchronous_commit on; as root
# it runs as the postgres user), then in interleaved rounds: SQLite synchronous=NORMAL (the default),
# SQLite FULL, PostgreSQL. Reports each run's records/s. Nothing passes or fails on a number.
#
# Environment (all optional): IG_BENCH_ROUNDS=2, IG_BENCH_SECONDS=5 (measured window per run, after
# 1 s of warm-up), IG_BENCH_SKIP_BUILD=1, IG_BUILD_DIR=build, IG_BENCH_KEEP=1 (keep the work folder).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BUILD="${IG_BUILD_DIR:-build}"
ROUNDS="${IG_BENCH_ROUNDS:-2}"
SECONDS_PER_RUN="${IG_BENCH_SECONDS:-5}"
log() { printf '[bench-ledger %s] %s\n' "$(date +%T)" "$*" >&2; }

PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$PGBIN/postgres" ] || { log "PostgreSQL is not installed (scripts/setup.sh installs it)"; exit 1; }

if [ "${IG_BENCH_SKIP_BUILD:-0}" != 1 ]; then
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j2 --target ledger_bench >/dev/null
fi
BENCH="$BUILD/bench/ledger_bench"

WORK="$(mktemp -d /tmp/ig-bench-ledger.XXXXXX)"
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$WORK"
  AS=(setpriv --reuid postgres --regid postgres --init-groups --)
fi
PGPID=""
cleanup() {
  local rc=$?
  if [ -n "$PGPID" ]; then
    kill -INT "$PGPID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$PGPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PGPID" 2>/dev/null || true
  fi
  if [ "${IG_BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${AS[@]}" "$PGBIN/initdb" -D "$WORK/data" -A trust -U postgres >"$WORK/initdb.log" 2>&1
"${AS[@]}" "$PGBIN/postgres" -D "$WORK/data" -p "$PORT" -k "$WORK" -h 127.0.0.1 >"$WORK/postgres.log" 2>&1 &
PGPID=$!
for _ in $(seq 1 300); do grep -q 'ready to accept connections' "$WORK/postgres.log" && break; sleep 0.1; done
grep -q 'ready to accept connections' "$WORK/postgres.log" || { log "postgres did not start"; exit 1; }
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
log "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (fsync on, synchronous_commit on); SQLite in $WORK"

for r in $(seq 1 "$ROUNDS"); do
  rm -f "$WORK"/ledger*.db*
  echo "round $r"
  "$BENCH" sqlite "$WORK/ledger.db" "$SECONDS_PER_RUN" NORMAL
  "$BENCH" sqlite "$WORK/ledger-full.db" "$SECONDS_PER_RUN" FULL
  "$BENCH" postgres "$URL" "$SECONDS_PER_RUN"
done
