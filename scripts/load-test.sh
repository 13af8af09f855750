#!/usr/bin/env bash
# Load test of `modelprint serve` on loopback with wrk: the shipped extractor and the demo gallery
# (scripts/demo-gallery.sh), demo images not in the gallery POSTed to /v1/identify for DURATION seconds
# at 1, 8 and 64 connections, then a run at 64 connections mixing good images with oversized, truncated
# and random-byte uploads. Records requests/s, p50/p99 latency, the server's peak RSS per run (sampled
# from /proc), status counts (5xx other than 503 must be 0), the RSS after the runs, and the CLI's
# `identify` per image (whole command, and after loading) with its answers compared to the server's.
# Writes the table into docs/service.md between the load-test markers.
#
#   scripts/load-test.sh [--duration S] [--workers N] [--batch N] [--port P] [--no-build] [--no-docs]
#
# Needs wrk (apt install wrk). Measure on a quiet machine: other jobs on the same cores change every
# figure.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=60
workers=1
batch=4
port=18080
build=1
docs=1
while (($#)); do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --no-docs) docs=0; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load-test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "load-test: wrk is missing (apt install wrk)" >&2; exit 1; }
((build)) && swift build -c release --product modelprint
bin=.build/release/modelprint
work=$(mktemp -d /tmp/modelprint-load.XXXXXX)
server=
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

scripts/demo-gallery.sh "$work/gallery.sqlite" "$bin" >/dev/null 2>&1
# Queries: demo images not enrolled (the gallery holds the first 4 of each model), the last model's too.
find data/demo -mindepth 2 -name '*.png' | sort | awk -F/ '{ split($4, a, "."); if (a[1] + 0 >= 4) print }' > "$work/good.txt"
echo "load-test: $(wc -l < "$work/good.txt") query images"
max_body=$((4 << 20))
head -c $((max_body + 1024 * 1024)) /dev/urandom > "$work/oversized.bin"
first=$(head -1 "$work/good.txt")
head -c $(($(stat -c %s "$first") / 2)) "$first" > "$work/truncated.png"
head -c 200000 /dev/urandom > "$work/random.bin"
{
  head -8 "$work/good.txt" | sed 's/^/good /'
  echo "oversized $work/oversized.bin"
  echo "truncated $work/truncated.png"
  echo "random $work/random.bin"
  echo "truncated $work/truncated.png"
  echo "random $work/random.bin"
  echo "oversized $work/oversized.bin"
} > "$work/mixed.txt"

echo secret-load-test-token > "$work/token"
"$bin" serve --gallery "$work/gallery.sqlite" --port "$port" --token-file "$work/token" --workers "$workers" --batch "$batch" \
  --max-body "$max_body" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/server.log"; exit 1; }
rss() { awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$server/status"; }
# Warm up (first passes allocate the kernels' buffers), then the idle level.
for f in $(head -4 "$work/good.txt"); do
  curl -sf --data-binary "@$f" -H 'Content-Type: image/png' "http://127.0.0.1:$port/v1/identify" >/dev/null
done
sleep 1
rss_idle=$(rss)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

rows=()
run() { # name connections list
  local name=$1 conns=$2 list=$3 peak=0 out
  ( while kill -0 "$server" 2>/dev/null; do rss >> "$work/rss-$name"; sleep 0.25; done ) &
  local sampler=$!
  out=$(wrk -t "$((conns < 2 ? 1 : 2))" -c "$conns" -d "${duration}s" --timeout 10s -s scripts/load-test/post-images.lua \
    "http://127.0.0.1:$port" -- "$list")
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  peak=$(sort -n "$work/rss-$name" | tail -1)
  echo "$out" | sed "s/^/  [$name] /" >&2
  local rate p50 p99 s
  rate=$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')
  p50=$(echo "$out" | sed -n 's/^LATENCY p50_ms=\([0-9.]*\).*/\1/p')
  p99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
  s=$(echo "$out" | sed -n 's/^STATUS //p')
  kill -0 "$server" || { echo "load-test: the server died during $name" >&2; cat "$work/server.log" >&2; exit 1; }
  rows+=("| $name | $conns | $rate | $p50 | $p99 | $peak | $s |")
  echo "load-test: $name at $conns connections: $rate requests/s, p50 $p50 ms, p99 $p99 ms, peak RSS $peak MiB, $s" >&2
}
run identify-1 1 "$work/good.txt"
run identify-8 8 "$work/good.txt"
run identify-64 64 "$work/good.txt"
run hostile-mix-64 64 "$work/mixed.txt"
sleep 5
rss_after=$(rss)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
fivexx=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^modelprint_http_requests_total/ && /status="5/ && !/status="503"/ { s += $2 } END { print s + 0 }')

# The CLI per image: the whole command (loading the extractor and gallery each time) and the time after
# loading (--timing); its answers beside the server's.
cli_total=0
cli_after=0
same=0
n=0
while read -r f; do
  start=$(date +%s.%N)
  cli=$("$bin" identify --gallery "$work/gallery.sqlite" --json --timing --top 5 "$f" 2>"$work/cli.err")
  end=$(date +%s.%N)
  cli_total=$(echo "$cli_total + $end - $start" | bc -l)
  cli_after=$(echo "$cli_after + $(sed -n 's/.* in \([0-9.]*\) ms after loading.*/\1/p' "$work/cli.err")" | bc -l)
  srv=$(curl -s --data-binary "@$f" -H 'Content-Type: image/png' "http://127.0.0.1:$port/v1/identify?top=5")
  if python3 - "$cli" "$srv" <<'PY'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
names = lambda o: [c["model"] for c in o["candidates"]]
ok = names(a) == names(b) and all(abs(x["score"] - y["score"]) < 1e-4 for x, y in zip(a["candidates"], b["candidates"]))
sys.exit(0 if ok and a["unknown"] == b["unknown"] else 1)
PY
  then same=$((same + 1)); fi
  n=$((n + 1))
  ((n >= 10)) && break
done < "$work/good.txt"
cli_ms=$(echo "1000 * $cli_total / $n" | bc -l | xargs printf '%.0f')
cli_after_ms=$(echo "$cli_after / $n" | bc -l | xargs printf '%.1f')

table=$(
  echo "| run | connections | requests/s | p50 ms | p99 ms | peak RSS MiB | answers |"
  echo "|---|---:|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Server RSS: $rss_idle MiB idle after warm-up, $rss_after MiB 5 s after the runs. 5xx other than 503" \
    "(server metrics, whole session): $fivexx. CLI \`identify\` per image (first $n queries): $cli_ms ms for the" \
    "whole command (loading the extractor and gallery each time), $cli_after_ms ms after loading;" \
    "answers equal to the server's (same ranking, scores within 1e-4): $same of $n."
  echo
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), " \
    "$workers inference worker(s), --batch $batch, ${duration} s per run; load average (1, 5, 15 min) $load_before before, $load_after after."
)
echo "$table"
if ((docs)); then
  python3 - "$table" <<'PY'
import re, sys
path = "docs/service.md"
text = open(path).read()
begin, end = "<!-- load-test:begin -->", "<!-- load-test:end -->"
new = text[: text.index(begin) + len(begin)] + "\n" + sys.argv[1] + "\n" + text[text.index(end):]
open(path, "w").write(new)
PY
  echo "load-test: wrote the table into docs/service.md"
fi
