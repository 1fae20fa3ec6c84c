#!/usr/bin/env bash
# scripts/package.sh — the Debian packages, infergate and infergate-dev, into build-pkg/:
#   1. a Release build with CMAKE_INSTALL_PREFIX=/usr, without tests, with Debian's hardening flags
#      (dpkg-buildflags: stack protector, _FORTIFY_SOURCE, full RELRO),
#   2. cpack -G DEB (Depends from dpkg-shlibdeps).
# Prints the two .deb paths, one a line, on stdout (everything else goes to stderr).
#
#   bash scripts/package.sh                 # then: dpkg -i build-pkg/infergate*_*.deb
#
# Environment: IG_PACKAGE_DIR (default ./build-pkg). Needs what scripts/setup.sh installs
# (cmake, dpkg-dev, file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="${IG_PACKAGE_DIR:-build-pkg}"
JOBS="$(nproc 2>/dev/null || echo 2)"

log() { printf '[package] %s\n' "$*" >&2; }

for tool in cmake cpack dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool not found: run scripts/setup.sh"; exit 1; }
done

flags() { DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get "$1"; }
CFLAGS_DEB="$(flags CPPFLAGS) $(flags CFLAGS)"
LDFLAGS_DEB="$(flags LDFLAGS)"

log "configuring $OUT (Release, prefix /usr, no tests)"
cmake -S . -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DIG_BUILD_TESTS=OFF \
  -DIG_SANITIZE=OFF -DIG_FUZZ=OFF \
  -DCMAKE_C_FLAGS="$CFLAGS_DEB" -DCMAKE_EXE_LINKER_FLAGS="$LDFLAGS_DEB" \
  -DCMAKE_MODULE_LINKER_FLAGS="$LDFLAGS_DEB" -DCMAKE_SHARED_LINKER_FLAGS="$LDFLAGS_DEB" >&2
log "building"
cmake --build "$OUT" -j"$JOBS" >&2

log "packaging"
rm -f "$OUT"/*.deb
(cd "$OUT" && cpack -G DEB) >&2
debs=("$OUT"/infergate_*.deb "$OUT"/infergate-dev_*.deb)
for d in "${debs[@]}"; do
  [ -f "$d" ] || { log "missing package: $d"; exit 1; }
done
for d in "${debs[@]}"; do
  log "$(dpkg-deb -f "$d" Package Version Architecture | tr '\n' ' ')$(du -h "$d" | cut -f1)"
  echo "$ROOT/$d"
done
