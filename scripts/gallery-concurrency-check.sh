#!/usr/bin/env bash
# Gallery safety under concurrency and crashes:
#  1. two processes enroll different models into one gallery while a third identifies against it;
#     every enrollment must be there afterwards and no command may fail;
#  2. enroll processes are killed with SIGKILL at random moments (while embedding or while writing);
#     after each kill the gallery must pass SQLite's integrity check and list only whole models
#     (a model is either absent or has all its images).
# Usage: scripts/gallery-concurrency-check.sh [--extractor CKPT] [--images DIR] [--kills N]
set -euo pipefail
cd "$(dirname "$0")/.."
extractor=models/extractor.safetensors
images=data/demo
kills=12
while [ $# -gt 0 ]; do
  case "$1" in
    --extractor) extractor=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --kills) kills=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
bin=.build/release/modelprint
[ -x "$bin" ] || swift build -c release --product modelprint
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t models < <(find "$images" -mindepth 1 -maxdepth 1 -type d -printf "%f\n" | sort)
a=${models[0]}; b=${models[1]}; c=${models[2]}
db=$work/g.sqlite
fail=0

# Seed the gallery so identify has something to search from the start.
$bin gallery enroll --gallery "$db" --model "$c" --extractor "$extractor" --threads 1 "$images/$c" 2>/dev/null
$bin gallery enroll --gallery "$db" --model "$a" --extractor "$extractor" --threads 1 "$images/$a" 2>"$work/a.err" &
pa=$!
$bin gallery enroll --gallery "$db" --model "$b" --extractor "$extractor" --threads 1 "$images/$b" 2>"$work/b.err" &
pb=$!
$bin identify --gallery "$db" --top 1 --threads 1 "$images/$a" "$images/$b" >"$work/id.out" 2>"$work/id.err" &
pi=$!
for p in $pa $pb $pi; do
  if ! wait "$p"; then echo "FAIL: a concurrent command exited non-zero" >&2; cat "$work"/*.err >&2; fail=1; fi
done
for m in "$a" "$b" "$c"; do
  want=$(ls "$images/$m" | wc -l)
  got=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT count(*) FROM images JOIN models ON images.model = models.id WHERE models.name = ?', (sys.argv[2],)).fetchone()[0])" "$db" "$m")
  echo "concurrent: $m has $got of $want images"
  [ "$got" = "$want" ] || fail=1
done
echo "concurrent: identify answered $(grep -c . "$work/id.out") lines"

# Kill -9 at random moments of an enrollment, repeatedly.
db2=$work/k.sqlite
$bin gallery enroll --gallery "$db2" --model "$c" --extractor "$extractor" --threads 1 "$images/$c" 2>/dev/null
for i in $(seq 1 "$kills"); do
  m=${models[$((i % ${#models[@]}))]}
  $bin gallery remove --gallery "$db2" --model "$m" >/dev/null 2>&1 || true
  $bin gallery enroll --gallery "$db2" --model "$m" --extractor "$extractor" --threads 1 "$images/$m" >/dev/null 2>&1 &
  p=$!
  sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  check=$(python3 - "$db2" "$images" <<'PY'
import os, sqlite3, sys
db, root = sys.argv[1], sys.argv[2]
con = sqlite3.connect(db)
ok = con.execute("PRAGMA integrity_check").fetchone()[0]
rows = con.execute("SELECT models.name, models.images, count(images.id) FROM models LEFT JOIN images ON images.model = models.id GROUP BY models.id").fetchall()
partial = [(n, k) for n, cached, k in rows if k != len(os.listdir(os.path.join(root, n))) or cached != k]
print(ok, len(rows), "partial:" + ",".join(f"{n}={k}" for n, k in partial) if partial else "whole")
PY
)
  echo "kill $i ($m): $check"
  case "$check" in "ok "*" whole") ;; *) fail=1 ;; esac
done
if [ $fail = 0 ]; then echo PASS; else echo FAIL; exit 1; fi
