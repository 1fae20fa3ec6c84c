#!/usr/bin/env bash
# scripts/test.sh — every test, from a fresh Debian 12 machine:
#   1. setup (scripts/setup.sh: Debian packages, the integration tests' npm dependencies)
#   2. Release build in ./build, its unit tests (ctest), the integration tests (node --test) and
#      the browser tests (tests/browser: the console and portal in Debian's Chromium; screenshots of
#      every page in $IG_TEST_LOGS/browser-<build>/screenshots)
#   3. ASan+UBSan build in ./build-asan, ctest, the integration and browser tests again against the
#      sanitized binaries (a sanitizer report in any process's stderr fails the test)
#   4. the fuzz targets' seed corpora replayed through their replay drivers (ctest -R 'fuzz|replay'
#      in the sanitized build)
#   5. bounded fuzzing: every libFuzzer target (clang, ASan+UBSan, ./build-fuzz) runs
#      IG_FUZZ_SECONDS (default 15) from its seed corpus, two at a time on two cores (scripts/fuzz.sh,
#      without merging: what it finds is committed by developers running scripts/fuzz.sh). A crash,
#      leak, timeout or out-of-memory fails; the input is printed in base64 and kept in
#      $IG_TEST_LOGS/fuzz/<target>/artifacts.
#   6. the Debian packages (packaging/test-packages.sh): built, checked, and used — installed with
#      dpkg (then purged) in CI (CI=true) or with IG_TEST_PACKAGE=1, elsewhere into a temporary
#      DESTDIR that touches nothing of the system
# Prints a summary and, last, a line "N passed, N failed" summing every suite. Exit status 0 only
# if nothing failed. A test that did not run is a failure, named: a ctest test that said "SKIP" or is
# disabled, a node test or suite marked skip or todo (scripts/setup.sh installs what every test needs).
#
# Environment: IG_SKIP_SETUP=1, IG_SKIP_ASAN=1, IG_SKIP_FUZZ=1, IG_SKIP_PACKAGE=1 (quicker local runs;
# refused when CI=true), IG_TEST_FILTER=regex (only the integration test files whose name matches;
# refused when CI=true), IG_FUZZ_SECONDS=s, IG_TEST_PACKAGE=1|0 (install the packages on this machine
# or not; default: only when CI=true), IG_TEST_LOGS=dir (default build-test-logs).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS="$(nproc 2>/dev/null || echo 2)"
LOGS="${IG_TEST_LOGS:-$ROOT/build-test-logs}"
rm -rf "$LOGS"
mkdir -p "$LOGS"
START=$(date +%s)

PASSED=0
FAILED=0
SUMMARY=()
FAILED_LOGS=()

say() { printf '\n==> %s\n' "$*"; }
# record NAME PASSED FAILED NOTE [LOG]
record() {
  PASSED=$((PASSED + $2))
  FAILED=$((FAILED + $3))
  local mark="ok  "
  [ "$3" -gt 0 ] && mark="FAIL"
  SUMMARY+=("$(printf '%s  %-44s %5s passed %5s failed  %s' "$mark" "$1" "$2" "$3" "$4")")
  if [ "$3" -gt 0 ] && [ -n "${5:-}" ]; then FAILED_LOGS+=("$1|$5"); fi
}

finish() {
  local secs=$(( $(date +%s) - START ))
  if [ "${#FAILED_LOGS[@]}" -gt 0 ]; then
    say "failures (last lines of each failing suite's log; full logs in $LOGS)"
    for e in "${FAILED_LOGS[@]}"; do
      printf '\n----- %s: %s -----\n' "${e%%|*}" "${e#*|}"
      tail -n 80 "${e#*|}" 2>/dev/null || true
    done
  fi
  say "summary (${secs}s)"
  for l in "${SUMMARY[@]}"; do echo "  $l"; done
  echo
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit $?
}

# CI runs everything: a variable that would leave tests out is refused there.
if [ "${CI:-}" = true ]; then
  for v in IG_SKIP_SETUP IG_SKIP_ASAN IG_SKIP_FUZZ IG_SKIP_PACKAGE IG_TEST_FILTER; do
    if [ -n "${!v:-}" ] && [ "${!v}" != 0 ]; then
      echo "CI=true but $v=${!v}: it would leave tests out of CI"
      record "CI runs every test ($v is set)" 0 1 ""
    fi
  done
fi

# --------------------------------------------------------------------------------------------
say "setup"
if [ "${IG_SKIP_SETUP:-0}" = 1 ]; then
  echo "skipped (IG_SKIP_SETUP=1)"
elif bash scripts/setup.sh >"$LOGS/setup.log" 2>&1; then
  tail -n 3 "$LOGS/setup.log"
  record "setup (packages, npm ci)" 1 0 ""
else
  cat "$LOGS/setup.log"
  record "setup (packages, npm ci)" 0 1 "" "$LOGS/setup.log"
  finish
fi

# build NAME DIR CMAKE_ARGS... → 0 if built
build() {
  local name="$1" dir="$2"; shift 2
  local log="$LOGS/build-$name.log"
  say "build $name ($dir)"
  if { cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"$JOBS"; } >"$log" 2>&1; then
    grep -E 'warning:' "$log" | sort -u | head -n 20 || true
    echo "built ($(grep -c 'warning:' "$log" || true) warning lines)"
    record "build: $name" 1 0 "" "$log"
    return 0
  fi
  tail -n 60 "$log"
  record "build: $name" 0 1 "see $log" "$log"
  return 1
}

# run_ctest NAME DIR [CTEST_ARGS...]
run_ctest() {
  local name="$1" dir="$2" log="$LOGS/ctest-${1// /-}.log"
  shift 2
  say "ctest: $name"
  timeout 600 ctest --test-dir "$dir" --output-on-failure -j"$JOBS" --timeout 120 "$@" >"$log" 2>&1
  local rc=$?
  grep -E '^ *[0-9]+/[0-9]+ Test|tests passed|tests failed|No tests were found' "$log" | tail -n 60
  local total failed
  if grep -q 'No tests were found' "$log"; then
    record "ctest: $name" 0 1 "no tests found" "$log"
    return
  fi
  read -r failed total < <(sed -nE 's/.*[0-9]+% tests passed, ([0-9]+) tests? failed out of ([0-9]+).*/\1 \2/p' "$log" | tail -n 1)
  if [ -z "${total:-}" ]; then
    record "ctest: $name" 0 1 "ctest did not finish (rc $rc)" "$log"
    return
  fi
  # ctest counts a skipped test (it printed "SKIP ...", tests/CMakeLists.txt) as passed, and leaves a
  # disabled one out of the total: here each is a failure, named with its reason.
  local skipped=() t why
  mapfile -t skipped < <(sed -n '/^The following tests did not run:/,/^$/p' "$log" |
    sed -nE 's/^[[:space:]]*[0-9]+ - (.+) \((Skipped|Disabled)\)$/\1|\2/p')
  for t in "${skipped[@]}"; do
    why=$(awk -v t="${t%%|*}" '$0 ~ /^[0-9]+\/[0-9]+ Test: / { cur = $3 } cur == t && /^SKIP/ { print; exit }' \
      "$dir/Testing/Temporary/LastTest.log" 2>/dev/null)
    echo "NOT RUN (a failure): ${t%%|*} (${t#*|})${why:+: $why}" | tee -a "$log"
  done
  local nskip=${#skipped[@]} nskip_total
  # skipped tests are inside ctest's total and its "passed"; disabled ones are not
  nskip_total=$(printf '%s\n' "${skipped[@]}" | grep -c '|Skipped$')
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  local note=""
  [ "$nskip" -gt 0 ] && note="$nskip not run"
  record "ctest: $name" $((total - failed - nskip_total)) $((failed + nskip)) "$note" "$log"
}

# run_integration NAME BUILD_DIR
run_integration() {
  local name="$1" dir="$2" log="$LOGS/integration-$1.log" tap="$LOGS/integration-$1.tap"
  say "integration tests ($name, IG_BUILD_DIR=$dir)"
  local files=()
  local f
  for f in tests/integration/*.test.mjs; do
    if [ -n "${IG_TEST_FILTER:-}" ] && ! [[ "$(basename "$f")" =~ $IG_TEST_FILTER ]]; then continue; fi
    files+=("$(basename "$f")")
  done
  if [ "${#files[@]}" -eq 0 ]; then
    record "integration: $name" 0 1 "no test files" ""
    return
  fi
  (cd tests/integration && IG_BUILD_DIR="$dir" IG_LOG_DIR="$LOGS/stderr-$name" timeout 900 node --test --test-concurrency=1 \
      --test-timeout=120000 \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$tap" \
      "${files[@]}") >"$log" 2>&1
  record_tap "integration: $name" "$log" "$tap" $?
}

# record_tap NAME LOG TAP RC: the spec lines of a node --test run, then its counts as a record
record_tap() {
  local name="$1" log="$2" tap="$3" rc="$4"
  grep -vE '^\s*$' "$log" | grep -E '^\s*(✔|✖|▶|ℹ)|^# h2load|^# /v1' | sed -E 's/\x1b\[[0-9;]*m//g' | head -n 200
  local pass fail cancelled notrun
  pass=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
  fail=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
  cancelled=$(sed -nE 's/^# cancelled ([0-9]+)$/\1/p' "$tap" 2>/dev/null | tail -n 1)
  if [ -z "$pass" ] || [ -z "$fail" ]; then
    record "$name" 0 1 "runner did not report (rc $rc)" "$log"
    return
  fi
  # A skipped or todo test or suite did not show that what it tests works: each is a failure, named.
  # Counted from the TAP lines: the "# skipped" total leaves out skipped suites.
  notrun=$(grep -cE '^ *(not )?ok [0-9]+ - .* # (SKIP|TODO)' "$tap")
  grep -E '^ *(not )?ok [0-9]+ - .* # (SKIP|TODO)' "$tap" | sed -E 's/^ *(not )?ok [0-9]+ - /NOT RUN (a failure): /' |
    tee -a "$log"
  fail=$((fail + ${cancelled:-0} + notrun))
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  local note=""
  [ "$notrun" -gt 0 ] && note="$notrun skipped or todo"
  record "$name" "$pass" "$fail" "$note" "$log"
}

# run_browser NAME BUILD_DIR: the console and portal in Debian's Chromium (tests/browser, playwright-core)
# against that build's gateway, ig-sim and ui/ copy. Screenshots of every page: $LOGS/browser-NAME/screenshots.
run_browser() {
  local name="$1" dir="$2" log="$LOGS/browser-$1.log" tap="$LOGS/browser-$1.tap"
  say "browser tests ($name, IG_BUILD_DIR=$dir; screenshots in $LOGS/browser-$name/screenshots)"
  local files=() f
  for f in tests/browser/*.test.mjs; do
    if [ -n "${IG_TEST_FILTER:-}" ] && ! [[ "$(basename "$f")" =~ $IG_TEST_FILTER ]]; then continue; fi
    files+=("$(basename "$f")")
  done
  if [ "${#files[@]}" -eq 0 ]; then
    [ -n "${IG_TEST_FILTER:-}" ] && { echo "filtered out (IG_TEST_FILTER)"; return; }
    record "browser: $name" 0 1 "no test files" ""
    return
  fi
  local t0=$(date +%s)
  (cd tests/browser && IG_BUILD_DIR="$dir" IG_LOG_DIR="$LOGS/browser-$name" timeout 300 node --test --test-concurrency=1 \
      --test-timeout=120000 \
      --test-reporter=spec --test-reporter-destination=stdout \
      --test-reporter=tap --test-reporter-destination="$tap" \
      "${files[@]}") >"$log" 2>&1
  local rc=$?
  echo "($(( $(date +%s) - t0 )) s)"
  record_tap "browser: $name" "$log" "$tap" $rc
}

# Processes of this run that outlived the tests (a harness bug: orphans). Every process the tests
# start inherits IG_TEST_RUN_ID; only those, and only the project's binaries or the test clients,
# are looked at. Reported as a failure, then ended by pid.
export IG_TEST_RUN_ID="$$-$(date +%s%N)"
check_orphans() {
  local name="$1" dir="$2" pids=() p exe pid
  for p in /proc/[0-9]*; do
    pid="${p#/proc/}"
    [ "$pid" = "$$" ] && continue
    grep -qz "^IG_TEST_RUN_ID=$IG_TEST_RUN_ID\$" "$p/environ" 2>/dev/null || continue
    exe="$(readlink "$p/exe" 2>/dev/null || true)"
    case "$exe" in
      "$ROOT/$dir/"*|*/node|*/curl|*/h2load|*/openssl|*/chromium) pids+=("$pid");;
    esac
  done
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "processes left running by the $name tests: ${pids[*]}"
    ps -o pid,args -p "${pids[@]}" || true
    kill -9 "${pids[@]}" 2>/dev/null || true
    record "no orphan processes: $name" 0 1 "${#pids[@]} left running" ""
  else
    record "no orphan processes: $name" 1 0 "" ""
  fi
}

# The fuzz targets' replay drivers feed each seed corpus (and saved crash inputs) to the target once;
# tests/fuzz registers them with ctest under names matching "fuzz|replay". Run against the
# sanitized build, they are a suite of their own.
FUZZ_RE='fuzz|replay'

# --------------------------------------------------------------------------------------------
if build release build -DCMAKE_BUILD_TYPE=Release; then
  run_ctest release build
  run_integration release build
  run_browser release build
  check_orphans release build
fi

if [ "${IG_SKIP_ASAN:-0}" = 1 ]; then
  say "ASan+UBSan: skipped (IG_SKIP_ASAN=1)"
else
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:halt_on_error=1:strict_init_order=1:check_initialization_order=1:detect_odr_violation=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="${LSAN_OPTIONS:-}${LSAN_OPTIONS:+:}$( [ -f tests/lsan.supp ] && echo "suppressions=$ROOT/tests/lsan.supp" )"
  if build asan build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIG_SANITIZE=ON; then
    run_ctest "asan (unit)" build-asan -E "$FUZZ_RE"
    run_integration asan build-asan
    run_browser asan build-asan
    check_orphans asan build-asan
    run_ctest "fuzz seed replay (asan)" build-asan -R "$FUZZ_RE"
  fi
fi

# Bounded fuzzing (scripts/fuzz.sh): one summary line per target in the table it prints.
if [ "${IG_SKIP_FUZZ:-0}" = 1 ]; then
  say "fuzzing: skipped (IG_SKIP_FUZZ=1)"
else
  FUZZ_SECONDS="${IG_FUZZ_SECONDS:-15}"
  say "fuzzing: every target ${FUZZ_SECONDS} s from its seed corpus ($LOGS/fuzz)"
  fuzz_start=$(date +%s)
  IG_FUZZ_MERGE=0 IG_FUZZ_OUT="$LOGS/fuzz" IG_FUZZ_JOBS="$JOBS" bash scripts/fuzz.sh "$FUZZ_SECONDS" >"$LOGS/fuzz.log" 2>&1
  fuzz_rc=$?
  cat "$LOGS/fuzz.log"
  fuzz_ok=0
  fuzz_failed=0
  if [ -f "$LOGS/fuzz/results.tsv" ]; then
    fuzz_ok=$(awk -F'\t' 'NR > 1 && $8 == "ok"' "$LOGS/fuzz/results.tsv" | wc -l)
    fuzz_failed=$(awk -F'\t' 'NR > 1 && $8 != "ok"' "$LOGS/fuzz/results.tsv" | wc -l)
  fi
  if [ "$fuzz_rc" -ne 0 ] && [ "$fuzz_failed" -eq 0 ]; then fuzz_failed=1; fi
  record "fuzz: targets x ${FUZZ_SECONDS} s" "$fuzz_ok" "$fuzz_failed" "$(( $(date +%s) - fuzz_start )) s" "$LOGS/fuzz.log"
fi

# The Debian packages, as an operator uses them: built (scripts/package.sh, its own build-pkg/),
# installed, run with ig-sim from the Release build, a third-party plugin built against the installed
# headers. Each check counts.
run_packages() {
  local log="$LOGS/packages.log" mode=dev
  if [ "${IG_TEST_PACKAGE:-}" = 1 ] || { [ "${CI:-}" = true ] && [ "${IG_TEST_PACKAGE:-}" != 0 ]; }; then
    mode="dpkg -i"
  fi
  say "packages ($mode)"
  IG_SIM="$ROOT/build/tests/simulator/ig-sim" IG_DEV_PLUGINS="$ROOT/build/plugins" \
    timeout 600 bash packaging/test-packages.sh "$LOGS/packages" >"$log" 2>&1
  local rc=$?
  grep -E '^(ok|not ok|#)' "$log" | grep -vE '^# (pass|fail) '
  local pass fail
  pass=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$log" | tail -n 1)
  fail=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$log" | tail -n 1)
  if [ -z "$pass" ] || [ -z "$fail" ]; then
    record "packages ($mode)" 0 1 "did not report (rc $rc)" "$log"
    return
  fi
  if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi
  record "packages ($mode)" "$pass" "$fail" "" "$log"
}
if [ "${IG_SKIP_PACKAGE:-0}" = 1 ]; then
  say "packages: skipped (IG_SKIP_PACKAGE=1)"
else
  run_packages
fi

finish
