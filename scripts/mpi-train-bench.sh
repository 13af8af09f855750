#!/usr/bin/env bash
# Training throughput of `modelprint train` as 2 MPI ranks × 1 thread against 1 process × 2 threads, on
# the same settings and global batch (the single process with --bn-groups 2, so both compute the same
# thing): prints each run's images/s (OUT.results.json's images_per_second: global batch tiles over the
# training time, the final epoch's zero-shot scoring included in both) and their ratio.
#
# Usage: scripts/mpi-train-bench.sh [SOURCE] [STEPS]
#   SOURCE  a pool folder (default pools/default) or a folder of fingerprinted tiles (train --fingerprinted)
#   STEPS   optimizer steps of each run (default 60)
# Environment: MODELPRINT_BIN (default: a MODELPRINT_MPI=1 release build, built here),
#   BENCH_ARGS (train settings, default "--P 16 --K 4 --width 32"), MPIRUN_ARGS (default "--bind-to core";
#   add --oversubscribe on a machine with fewer than 2 cores). Numbers mean something only on an otherwise
#   idle machine, with both runs on the same cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source=${1:-pools/default}
steps=${2:-60}
if [[ -z ${MODELPRINT_BIN:-} ]]; then
  scripts/setup.sh --mpi
  MODELPRINT_MPI=1 swift build -c release --product modelprint
  bin=.build/release/modelprint
else
  bin=$MODELPRINT_BIN
fi
command -v mpirun >/dev/null || { echo "mpi-train-bench: mpirun not found (scripts/setup.sh --mpi)" >&2; exit 1; }
flag=--pool
[[ -f $source/manifest.json ]] || flag=--fingerprinted
read -r -a settings <<<"${BENCH_ARGS:---P 16 --K 4 --width 32}"
read -r -a mpirun_args <<<"${MPIRUN_ARGS:---bind-to core}"
# Open MPI refuses to start as root (containers, CI) unless told that it is meant.
[[ $(id -u) -eq 0 ]] && mpirun_args+=(--allow-run-as-root)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=("$flag" "$source" --steps "$steps" "${settings[@]}")

echo "== 1 process × 2 threads (--bn-groups 2)" >&2
"$bin" train "${common[@]}" --out "$work/one/ex.safetensors" --threads 2 --bn-groups 2 >/dev/null
echo "== 2 ranks × 1 thread" >&2
mpirun "${mpirun_args[@]}" -np 2 "$bin" train "${common[@]}" --out "$work/two/ex.safetensors" --threads 1 >/dev/null

python3 - "$work" <<'EOF'
import json, sys
work = sys.argv[1]
one = json.load(open(f"{work}/one/ex.results.json"))["images_per_second"]
two = json.load(open(f"{work}/two/ex.results.json"))["images_per_second"]
print("run                      images/s")
print(f"1 process x 2 threads    {one:9.1f}")
print(f"2 ranks x 1 thread       {two:9.1f}")
print(f"ratio (ranks / threads)  {two / one:9.3f}")
EOF
