#!/bin/bash
# train-shipped-extractor.sh [OUT]: the shipped extractor's whole training run, resumable: an ensemble of
# four ResNet-18 w32 extractors trained on the default pool, each whitened, joined by `modelprint ensemble`
# and stored as Float16, with its held-out synthetic figure and its scoreboard rows.
#   1. experiments/full-shipped.json: the default pool (about 22 min on 2 cores), the 1940-step extractor
#      (about 15 min), its whitening (a shared 64 px pool of seed-1 models, about 12 min, then 1 min)
#   2. experiments/full-steps3x.json: the 5820-step extractor on the same pool (about 39 min) and whitening
#   3. experiments/full-128px.json: 128 px windows fingerprinted by the same pool (about 20 min), whitening
#      on 256 px outputs of the seed-1 models (about 2 min)
#   4. a DnCNN 10 × 32 trained on low noise (σ 1–10 grey levels, 10 000 steps; about 21 min), the
#      same as weights/denoiser-dncnn-10x32-s10.safetensors on this instruction set; then
#      experiments/full-denoiser-s10-3x.json: the 5820-step extractor whose residual is that DnCNN's
#      predicted noise instead of image − 3×3 box blur (about 55 min), whitening (about 2 min)
#   5. modelprint ensemble of the four whitened checkpoints, --storage float16 (seconds)
#   6. held-out synthetic: 12 outputs of 256 px of each of the 29 architectures every member held out,
#      `modelprint evaluate --nshot 5` on them (about 2 min)
# About 3 h 20 min on a quiet 2-core machine. Re-running resumes: finished stages are skipped. OUT defaults
# to runs/shipped-ensemble/extractor.safetensors; copy it (and its .config.json, .results.json,
# .heldout-evaluation.json) into models/ to ship it. Training is reproducible within one instruction set
# (docs/accuracy.md, fourth round): on a machine of another one the networks, and the figures, differ from
# the shipped ones.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/shipped-ensemble/extractor.safetensors}
swift build -c release --product modelprint
bin=$(swift build -c release --show-bin-path)/modelprint
for name in full-shipped full-steps3x full-128px; do scripts/experiment.sh "experiments/$name.json"; done
denoiser=runs/denoiser-s10/denoiser-dncnn-10x32-s10.safetensors
if [ ! -f "$denoiser" ]; then
  "$bin" train-denoiser --out "$denoiser" --depth 10 --width 32 --steps 10000 --sigma-min 1 --sigma-max 10
fi
scripts/experiment.sh experiments/full-denoiser-s10-3x.json
"$bin" ensemble runs/full-shipped/extractor-wccn.safetensors runs/full-steps3x/extractor-wccn.safetensors \
  runs/full-128px/extractor-wccn.safetensors runs/full-denoiser-s10-3x/extractor-wccn.safetensors \
  --out "$out" --storage float16
# Every member held out the same architectures (the same seed and pool); the first one's list names them.
held=$(python3 -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["held_out_architectures"]))' \
  runs/full-shipped/extractor.results.json)
images=runs/_shared/heldout-256-12
if [ ! -d "$images" ]; then
  rm -rf "$images.tmp"
  "$bin" generate --pool runs/_shared/pool-default --models "$held" --per-model 12 --size 256 --no-inputs \
    --out "$images.tmp"
  mv "$images.tmp" "$images"
fi
"$bin" evaluate "$images" --nshot 5 --extractor "$out" --json "${out%.safetensors}.heldout-evaluation.json"
../shared/tools/score.sh "$out" shipped-ensemble
