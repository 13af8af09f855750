#!/usr/bin/env bash
# Kills `modelprint synthesize` with SIGKILL in the middle of a run (the whole process group: parent and
# workers, as a lost machine or a pre-empted job), re-runs it, and checks that no finished model was
# trained again and none is lost or corrupt.
#   scripts/kill-resume-check.sh [--after SECONDS] [--bin PATH]
set -euo pipefail
after=20
bin=.build/release/modelprint
while [ $# -gt 0 ]; do
  case "$1" in
    --after) after="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
pool=$(mktemp -d)/pool
archs=000000,000111,000222,001011,001122,001200,010021,010132,010210,011001,011112,011230,100000,100111,100222,101011,101122,101200,110021,110132,110210,111001,111112,111230
args=(synthesize --out "$pool" --archs "$archs" --steps 60 --workers 2)

setsid "$bin" "${args[@]}" >/dev/null 2>"$pool.log1" &
pid=$!
sleep "$after"
kill -9 -- "-$pid"
wait "$pid" 2>/dev/null || true
before=$(python3 -c "import json;m=json.load(open('$pool/manifest.json'));print(' '.join(e['architecture']+':'+e['checksum'] for e in m['models']))")
nbefore=$(echo "$before" | wc -w)
nfiles=$(find "$pool" -name 'seed-*.safetensors' | wc -l)
echo "killed after ${after}s: manifest records $nbefore models, $nfiles model files on disk"

"$bin" "${args[@]}" >"$pool.out" 2>"$pool.log2"
grep -E "recovered|to train" "$pool.log2" || true
trained=$(python3 -c "import json;print(json.loads(open('$pool.out').read().splitlines()[-1])['trained'])")
for item in $before; do
  arch=${item%%:*}; sum=${item##*:}
  now=$(python3 -c "import json;m=json.load(open('$pool/manifest.json'));print([e['checksum'] for e in m['models'] if e['architecture']=='$arch'][0])")
  [ "$now" = "$sum" ] || { echo "FAIL: $arch changed after the re-run"; exit 1; }
done
"$bin" pool verify "$pool"
total=$(python3 -c "import json;print(len(json.load(open('$pool/manifest.json'))['models']))")
echo "re-run trained $trained; pool has $total of 24 models"
[ "$total" -eq 24 ] || { echo "FAIL: models lost"; exit 1; }
[ "$trained" -eq $((24 - nfiles)) ] || { echo "FAIL: re-run trained $trained, expected $((24 - nfiles)) (models on disk were trained again)"; exit 1; }
echo "PASS: no model trained twice, none lost or corrupt"
