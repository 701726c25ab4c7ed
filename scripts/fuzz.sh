#!/bin/bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from
# the kept corpus. A crash is copied into the corpus (so test_fuzz_corpus
# replays it from then on) and fails the run.
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -uo pipefail
build=${1:?build dir}; secs=${2:-20}
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
build=$(cd "$build" && pwd)
for bin in "$build"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus="$root/tests/fuzz/corpus/$name"
  work=$(mktemp -d)
  echo "fuzz: $name for ${secs}s (corpus: $(ls "$corpus" 2>/dev/null | wc -l) inputs)"
  # The kept corpus, when there is one (no empty directory is made: the
  # tests replay what is there); the object loader also starts from every
  # object the build compiled.
  seeds=()
  [ -d "$corpus" ] && seeds+=("$corpus")
  [ "$name" = fuzz_object ] && [ -d "$build/tests/progs" ] && seeds+=("$build/tests/progs")
  (cd "$work" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "$work" "${seeds[@]}" >"$work/log" 2>&1)
  rc=$?
  grep -E "^(stat::number_of_executed_units|stat::new_units_added)" "$work/log" | sed "s/^/fuzz: $name /"
  if [ $rc -ne 0 ]; then
    status=1
    for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
      [ -f "$f" ] || continue
      mkdir -p "$corpus"
      cp "$f" "$corpus/regress-$(basename "$f")"
      echo "fuzz: $name found $(basename "$f"); kept as tests/fuzz/corpus/$name/regress-$(basename "$f")"
    done
    tail -40 "$work/log"
  fi
  rm -rf "$work"
done
[ $status -eq 0 ] && echo "fuzz: no crashes"
exit $status
