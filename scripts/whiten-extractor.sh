#!/bin/bash
# whiten-extractor.sh EXTRACTOR OUT: fits the embedding whitening the shipped extractor carries, on models
# no extractor trained on (seed 1 of the 288 architectures; seed 0 is the default pool's), and writes OUT.
#   1. synthesize a 64 px pool of 2 seeds per architecture at 50 steps (about 7 min on 2 cores when idle)
#   2. generate 12 outputs of 128 px per seed-1 model from the bundled photos (about 2 min)
#   3. modelprint whiten on them (about 1 min)
# Resumable: the pool skips finished models; WHITEN_POOL (default pools/whiten-64-50) names its folder.
set -euo pipefail
if [ $# -ne 2 ]; then echo "usage: scripts/whiten-extractor.sh EXTRACTOR OUT" >&2; exit 64; fi
cd "$(dirname "$0")/.."
bin=$(swift build -c release --show-bin-path)/modelprint
[ -x "$bin" ] || { echo "run swift build -c release --product modelprint first" >&2; exit 1; }
pool=${WHITEN_POOL:-pools/whiten-64-50}
"$bin" synthesize --out "$pool" --seeds 2 --size 64 --steps 50
rm -rf "$pool-images-128-12.tmp"
"$bin" generate --pool "$pool" --out "$pool-images-128-12.tmp" --no-inputs --models seed-1 --per-model 12 --size 128
rm -rf "$pool-images-128-12" && mv "$pool-images-128-12.tmp" "$pool-images-128-12"
"$bin" whiten "$pool-images-128-12" --extractor "$1" --out "$2" --per-model 12
