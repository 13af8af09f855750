#!/bin/bash
# experiment.sh experiments/NAME.json: one accuracy experiment end to end (pool -> extractor -> score.sh ->
# its row in docs/accuracy.md), resumable, outputs under runs/NAME/. See scripts/experiment.py.
set -euo pipefail
exec python3 "$(dirname "$0")/experiment.py" "$@"
