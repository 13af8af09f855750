#!/usr/bin/env bash
# Installs the C libraries ModelPrint links against (Debian 12 packages). Safe to run repeatedly:
# it only calls apt-get when a package is missing. `--mpi` adds Open MPI, for builds with MODELPRINT_MPI=1
# (data-parallel `train` under mpirun; Sources/MPITraining/README.md); the default build never needs it.
set -euo pipefail
packages=(libdnnl-dev libopenblas-dev libturbojpeg0-dev libpng-dev libwebp-dev libkissfft-dev)
if [[ ${1:-} == --mpi ]]; then packages+=(libopenmpi-dev openmpi-bin); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
