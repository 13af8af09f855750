#!/usr/bin/env bash
# The demo gallery for `modelprint serve`: the first 4 images of each demo model but the last enrolled
# with the shipped extractor (as `modelprint demo` does), then calibrated.
#
#   scripts/demo-gallery.sh [GALLERY] [MODELPRINT]   (default demo-gallery.sqlite, the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."
gallery="${1:-demo-gallery.sqlite}"
modelprint="${2:-.build/debug/modelprint}"
rm -f "$gallery" "$gallery-wal" "$gallery-shm"
models=($(find data/demo -mindepth 1 -maxdepth 1 -type d | sort))
for dir in "${models[@]:0:${#models[@]}-1}"; do
  "$modelprint" gallery enroll --gallery "$gallery" --model "$(basename "$dir")" \
    $(find "$dir" -maxdepth 1 -name '*.png' | sort | head -4)
done
"$modelprint" calibrate --gallery "$gallery" >/dev/null
echo "$gallery: ${#models[@]} demo models but the last, 4 images each, calibrated"
