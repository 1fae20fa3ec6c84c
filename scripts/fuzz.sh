#!/usr/bin/env bash
# scripts/fuzz.sh [seconds] [target...] — runs the libFuzzer targets of tests/fuzz for a bounded time
# each, starting from their seed corpora, and merges what they found into tests/fuzz/corpus/*.
#
#   bash scripts/fuzz.sh                 # every target, 60 s each, new coverage merged into the corpora
#   bash scripts/fuzz.sh 300 fuzz_wav    # one target for five minutes
#   git add tests/fuzz/corpus && git commit      # what was merged is meant to be committed
#
# Builds the targets with clang (ASan + UBSan + libFuzzer) in ./build-fuzz, standalone from
# tests/fuzz (its fuzz-targets.tsv lists each target's corpus and dictionary). Runs up to
# IG_FUZZ_JOBS targets at once (default: the number of cores). A crash, leak, timeout (an input
# taking over IG_FUZZ_TIMEOUT s, default 10) or out-of-memory fails the run: the input is saved,
# printed in base64 with the sanitizer's report, and nothing of that target is merged. Merging
# (libFuzzer's merge mode: `-set_cover_merge=1 -use_counters=0`) adds only inputs that reach code
# (edges) the corpus does not, not those that merely run a loop more often, and the fewest of them
# that do (a greedy set cover, about half as many files as `-merge=1` for the same coverage): the
# corpora stay small, hundreds of files in all.
#
# Environment:
#   IG_FUZZ_MERGE=0     do not touch tests/fuzz/corpus (CI: scripts/test.sh)
#   IG_FUZZ_MINIMIZE=1  also re-minimize each corpus: the named (hand-written) seeds are kept, the
#                       merged inputs (40-hex-digit names) are reduced to those still adding coverage
#   IG_FUZZ_OUT=dir     logs, new inputs and crash artifacts (default build-fuzz/runs)
#   IG_FUZZ_BUILD=dir   the build (default build-fuzz)
#   IG_FUZZ_JOBS=N, IG_FUZZ_TIMEOUT=s
#
# Prints a table: per target, the coverage (libFuzzer's "cov:", edges) of the seed corpus replay and
# after the run, executions, inputs merged, and the result; writes it to $IG_FUZZ_OUT/results.tsv.
# Exit status 0 only if every target ran clean.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECS="${1:-60}"
[ $# -gt 0 ] && shift
case "$SECS" in '' | *[!0-9]*) echo "usage: $0 [seconds] [target...]" >&2; exit 2;; esac
BUILD="${IG_FUZZ_BUILD:-$ROOT/build-fuzz}"
OUT="${IG_FUZZ_OUT:-$BUILD/runs}"
MERGE="${IG_FUZZ_MERGE:-1}"
JOBS="${IG_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"
TIMEOUT="${IG_FUZZ_TIMEOUT:-10}"

echo "==> build ($BUILD: clang, -DIG_FUZZ=ON)"
mkdir -p "$BUILD"
if ! { cmake -S tests/fuzz -B "$BUILD" -DCMAKE_C_COMPILER=clang -DIG_FUZZ=ON &&
       cmake --build "$BUILD" -j"$JOBS"; } >"$BUILD/build.log" 2>&1; then
  tail -n 60 "$BUILD/build.log"
  echo "fuzz targets did not build (log: $BUILD/build.log)"
  exit 1
fi
grep -E 'warning:' "$BUILD/build.log" | sort -u | head -n 20

# name, binary, corpus, dictionary
mapfile -t MANIFEST < "$BUILD/fuzz-targets.tsv"
SELECTED=()
for line in "${MANIFEST[@]}"; do
  [ -z "$line" ] && continue
  name="${line%%$'\t'*}"
  if [ $# -eq 0 ]; then SELECTED+=("$line"); continue; fi
  for want in "$@"; do [ "$want" = "$name" ] && SELECTED+=("$line"); done
done
if [ "${#SELECTED[@]}" -eq 0 ] || { [ $# -gt 0 ] && [ "${#SELECTED[@]}" -ne $# ]; }; then
  echo "unknown target among: $*; the targets are:" >&2
  cut -f1 "$BUILD/fuzz-targets.tsv" >&2
  exit 2
fi

rm -rf "$OUT"
mkdir -p "$OUT"

# One target: fuzz into $OUT/NAME/new (the corpus is read, never written), artifacts beside it.
fuzz_one() {
  local name="$1" bin="$2" corpus="$3" dict="$4" dir="$OUT/$1"
  mkdir -p "$dir/new" "$dir/artifacts"
  local args=(-max_total_time="$SECS" -timeout="$TIMEOUT" -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$dir/artifacts/")
  [ "$dict" != "-" ] && args+=(-dict="$dict")
  "$bin" "${args[@]}" "$dir/new" "$corpus" >"$dir/log" 2>&1
  echo $? >"$dir/rc"
}

echo "==> fuzzing ${#SELECTED[@]} targets, ${SECS} s each, $JOBS at a time (logs: $OUT)"
running=0
for line in "${SELECTED[@]}"; do
  IFS=$'\t' read -r name bin corpus dict <<<"$line"
  fuzz_one "$name" "$bin" "$corpus" "$dict" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

# cov: of a libFuzzer status line ("#N INITED cov: 460 ft: ...")
cov_of() { sed -nE 's/.* cov: ([0-9]+) .*/\1/p' <<<"$1"; }

FAILED=0
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' target seeds cov_seeds cov_after execs new merged result >"$OUT/results.tsv"
for line in "${SELECTED[@]}"; do
  IFS=$'\t' read -r name bin corpus dict <<<"$line"
  dir="$OUT/$name"
  rc="$(cat "$dir/rc" 2>/dev/null || echo 1)"
  seeds=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' | wc -l)
  inited=$(cov_of "$(grep -m1 -E '^#[0-9]+[[:space:]]+INITED ' "$dir/log")")
  last=$(cov_of "$(grep -E '^#[0-9]+[[:space:]]+(INITED|NEW|REDUCE|pulse|DONE|RELOAD) ' "$dir/log" | tail -n 1)")
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$dir/log")
  new=$(find "$dir/new" -type f | wc -l)
  artifacts=()
  mapfile -t artifacts < <(find "$dir/artifacts" -type f | sort)
  result=ok
  if [ "$rc" -ne 0 ] || [ "${#artifacts[@]}" -gt 0 ] || [ -z "$inited" ]; then
    result=FAIL
    FAILED=$((FAILED + 1))
    echo
    echo "----- $name FAILED (exit $rc); the end of its log ($dir/log):"
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse) ' "$dir/log" | tail -n 60
    for a in "${artifacts[@]}"; do
      echo "----- $name: input $(basename "$a") ($(stat -c %s "$a") bytes), saved as $a; base64:"
      base64 -w 76 "$a"
      echo "----- reproduce: $bin $a   (fixed: copy it into ${corpus#"$ROOT"/} as a regression seed)"
    done
  fi
  merged=0
  if [ "$MERGE" = 1 ] && [ "$result" = ok ]; then
    before=$(find "$corpus" -maxdepth 1 -type f | wc -l)
    if [ "$new" -gt 0 ]; then
      "$bin" -set_cover_merge=1 -use_counters=0 -timeout="$TIMEOUT" -rss_limit_mb=2048 "$corpus" "$dir/new" >"$dir/merge.log" 2>&1 ||
        { echo "$name: merge failed ($dir/merge.log)"; result=FAIL; FAILED=$((FAILED + 1)); }
    fi
    if [ "${IG_FUZZ_MINIMIZE:-0}" = 1 ] && [ "$result" = ok ]; then
      # named seeds stay; merged inputs (sha1 names) are kept only where they still add coverage
      local_min="$dir/min"; mkdir -p "$local_min" "$dir/hashed"
      hashed='.*/[0-9a-f]{40}'
      find "$corpus" -maxdepth 1 -regextype posix-extended -type f ! -regex "$hashed" -exec cp {} "$local_min/" \;
      find "$corpus" -maxdepth 1 -regextype posix-extended -type f -regex "$hashed" -exec cp {} "$dir/hashed/" \;
      if "$bin" -set_cover_merge=1 -use_counters=0 -timeout="$TIMEOUT" -rss_limit_mb=2048 "$local_min" "$dir/hashed" \
           >"$dir/minimize.log" 2>&1; then
        find "$corpus" -maxdepth 1 -regextype posix-extended -type f -regex "$hashed" -delete
        find "$local_min" -maxdepth 1 -regextype posix-extended -type f -regex "$hashed" -exec cp {} "$corpus/" \;
      else
        echo "$name: minimizing failed ($dir/minimize.log)"; result=FAIL; FAILED=$((FAILED + 1))
      fi
    fi
    merged=$(( $(find "$corpus" -maxdepth 1 -type f | wc -l) - before ))
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$seeds" "${inited:-?}" "${last:-?}" "${execs:-?}" "$new" "$merged" \
    "$result" >>"$OUT/results.tsv"
done

echo
echo "==> coverage (libFuzzer cov: edges) from the seed corpus replay, and after ${SECS} s"
column -t -s $'\t' "$OUT/results.tsv"
echo
echo "$(( ${#SELECTED[@]} - FAILED )) targets clean, $FAILED failed"
[ "$FAILED" -eq 0 ]
