#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for a set time.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, every target)
#
# Targets: image, safetensors, pool, gallery. Seeds are generated into .fuzz/seeds/<target>; the growing
# corpus is kept in .fuzz/corpus/<target> and crashing inputs land in .fuzz/crashes/<target> (.fuzz/ is
# ignored by git). Each crash must become a regression input under Tests/Fixtures/fuzz/<target>/ (see
# Fuzz/README.md). Exits 1 when any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(image safetensors pool gallery)

declare -A products=([image]=FuzzImage [safetensors]=FuzzSafetensors [pool]=FuzzPool [gallery]=FuzzGallery)
for t in "${targets[@]}"; do
  [ -n "${products[$t]:-}" ] || { echo "unknown target '$t' (image, safetensors, pool, gallery)" >&2; exit 2; }
done

# The sanitizer flags reach every module, so the readers under test are instrumented for coverage too.
swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address 2>&1 | grep -v "warning" | tail -3
bin=$(swift build --package-path Fuzz -c release -Xswiftc -sanitize=fuzzer,address --show-bin-path)

work=.fuzz
rm -rf "$work/seeds"
python3 scripts/fuzz_seeds.py "$work/seeds" >/dev/null

status=0
rows=()
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  crashes="$work/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  log="$work/$t.log"
  # -rss_limit_mb and -malloc_limit_mb make a decompression bomb a reported crash, not a slow swap;
  # -timeout makes an input that hangs a reader one too.
  set +e
  "$bin/${products[$t]}" "$corpus" "$work/seeds/$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix="$crashes/" -print_final_stats=1 \
    -fork=0 >"$log" 2>&1
  rc=$?
  set -e
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  found=$(find "$crashes" -type f | wc -l)
  [ "$rc" -eq 0 ] || status=1
  [ "$found" -eq 0 ] || status=1
  rows+=("$(printf '%-12s %8s %12s %8s %6s' "$t" "$seconds" "${runs:-?}" "$found" "$rc")")
done

printf '%-12s %8s %12s %8s %6s\n' target seconds executions crashes exit
printf '%s\n' "${rows[@]}"
[ "$status" -eq 0 ] || echo "crashes or failures: see $work/<target>.log and $work/crashes/" >&2
exit "$status"
