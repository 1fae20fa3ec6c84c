#!/usr/bin/env bash
# scripts/setup.sh — installs everything infergate's build, run and tests need on Debian 12.
#
# Only Debian's apt repositories and the npm registry are used. Idempotent: when every
# package is already there it asks apt nothing and finishes in about a second.
#
#   bash scripts/setup.sh            # as root (or with sudo available)
#
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    log "not root and no sudo: cannot install packages"; exit 1
  fi
fi

# Build: compiler, cmake, the libraries the core and plugins link (libxxhash: prefixhash's XXH64).
# Sanitizers and fuzzing: clang + compiler-rt (ASan/UBSan/LSan/libFuzzer), llvm for llvm-symbolizer.
# Tests: curl (HTTP/1.1, h2c, HTTP/2 over TLS), nghttp2-client (h2load), openssl CLI (test
# certificates), valgrind, procps/iproute2 (ps/ss for debugging a hung test), redis-server (the rate
# limiter's shared backend; the tests start their own on a free port), sqlite3 (a test holds the
# billing ledger's write lock from another process), python3 (the simulator's self-test, ctest
# sim_smoke), postgresql (server.database: tests/integration/fleet.test.mjs runs Debian's initdb and
# postgres from /usr/lib/postgresql/<version>/bin in a temporary directory; the system cluster the
# package may start is never used). No test skips itself for want of one of these: scripts/test.sh counts a skipped test
# as failed, so everything a test needs is installed here.
# Packages (scripts/package.sh, CPack's DEB generator): dpkg-dev (dpkg-shlibdeps, dpkg-buildflags)
# and file. The browser tests (tests/browser): Debian's chromium, which playwright-core drives (no
# browser is ever downloaded).
PKGS=(
  build-essential cmake pkg-config dpkg-dev file
  libh2o-dev libuv1-dev libyaml-dev libssl-dev libsqlite3-dev libhiredis-dev libxxhash-dev libpq-dev
  clang llvm libclang-rt-14-dev
  curl nghttp2-client openssl ca-certificates valgrind procps iproute2
  redis-server python3 sqlite3 postgresql
  chromium
)

# Node.js >= 18 runs the integration tests (node --test and the OpenAI SDK). Debian 12's nodejs is
# 18; a machine that already has a newer node (e.g. from another repository) keeps it untouched.
node_major() { node -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null 2>&1 || [ "$(node_major)" -lt 18 ]; then
  PKGS+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
  PKGS+=(npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "all Debian packages present"
fi

if [ "$(node_major)" -lt 18 ]; then
  log "node $(node --version 2>/dev/null || echo missing) is too old: the integration tests need node >= 18"
  exit 1
fi

# npm_ci DIR PACKAGE: the npm dependencies of DIR (relative to the project), exactly as its lock file
# says, unless they are there already (node_modules newer than the lock, with PACKAGE in it).
npm_ci() {
  local dir="$ROOT/$1" stamp="$ROOT/$1/node_modules/.package-lock.json"
  [ -f "$dir/package.json" ] || return 0
  if [ -f "$dir/package-lock.json" ] && [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ] \
     && [ -d "$dir/node_modules/$2" ]; then
    log "npm dependencies of $1 present"
  elif [ -f "$dir/package-lock.json" ]; then
    log "npm ci in $1"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  else
    log "npm install in $1 (no lock file yet)"
    (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
  fi
}

# The integration tests' npm dependencies (the official OpenAI SDK).
npm_ci tests/integration openai
# The browser tests' (playwright-core, which downloads no browser: it drives Debian's chromium).
npm_ci tests/browser playwright-core
# The console's npm libraries (ui/package.json), which the build copies as ui/vendor.txt lists. Only
# the build needs them: the gateway serves the copies, no Node.js at run time.
npm_ci ui chart.js

log "ok (node $(node --version), $(cmake --version | head -1), $(cc --version | head -1))"
