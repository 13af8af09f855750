#!/bin/bash
# train-shipped-extractor.sh [OUT]: the shipped extractor's whole training run, resumable: the ensemble of
# two ResNet-18 w32 extractors trained on the default pool (1940 and 5820 steps), each whitened, joined by
# `modelprint ensemble`, with its zero-shot figure on the held-out architectures and its scoreboard rows.
#   1. experiments/full-shipped.json: the default pool (about 22 min on 2 cores), the 1940-step extractor
#      (about 15 min), its whitening (a shared 64 px pool of seed-1 models, about 12 min, then 1 min)
#   2. experiments/full-steps3x.json: the 5820-step extractor on the same pool (about 39 min) and whitening
#   3. modelprint ensemble of the two whitened checkpoints (about 2.5 min with the held-out measurement)
# About 1 h 35 min on a quiet 2-core machine. Re-running resumes: finished stages are skipped. OUT defaults
# to runs/shipped-ensemble/extractor.safetensors; copy it (and its .config.json, .results.json) into
# models/ to ship it. Training is reproducible within one instruction set (docs/accuracy.md, fourth
# round): on a machine of another one the networks, and the figures, differ from the shipped ones.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/shipped-ensemble/extractor.safetensors}
swift build -c release --product modelprint
bin=$(swift build -c release --show-bin-path)/modelprint
scripts/experiment.sh experiments/full-shipped.json
scripts/experiment.sh experiments/full-steps3x.json
"$bin" ensemble runs/full-shipped/extractor-wccn.safetensors runs/full-steps3x/extractor-wccn.safetensors \
  --out "$out" --pool runs/_shared/pool-default
../shared/tools/score.sh "$out" shipped-ensemble
