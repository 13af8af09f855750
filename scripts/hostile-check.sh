#!/usr/bin/env bash
# Feeds a corpus of hostile files (empty, truncated, bit-flipped, random bytes, 60000×60000 headers,
# 0×0, 1×1, 1×N, CMYK, 16-bit, palette, grey, alpha, wrong or no extension, a folder named x.png, a
# symlink loop, a non-UTF-8 name) mixed with good images to embed, identify, gallery enroll, spectrum,
# evaluate and verify, and random or truncated bytes as an extractor, a pool and a gallery. Fails on a
# signal death, an exit status other than 0 or 1, a bad file without its own line on standard error, or
# a good image of the same batch without its result.
#
#   scripts/hostile-check.sh [MODELPRINT]     (default: the debug build, built first)
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-}"
if [[ -z "$binary" ]]; then
  swift build --product modelprint >/dev/null
  binary="$(swift build --show-bin-path)/modelprint"
fi
corpus="$(mktemp -d /tmp/hostile-corpus.XXXXXX)"
trap 'rm -rf "$corpus"' EXIT
python3 scripts/hostile/make-corpus.py "$corpus/c"
python3 scripts/hostile/check.py "$corpus/c" "$binary"
