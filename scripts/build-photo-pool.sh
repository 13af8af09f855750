#!/usr/bin/env bash
# Rebuilds ModelPrint's pool of free-licensed real photographs (data/photos/) from Debian packages.
#
#   scripts/build-photo-pool.sh [--out DIR] [--max-side N] [--budget-mb M] [--debs DIR]
#
#   --out DIR       output folder (default: data/photos next to this script's repository)
#   --max-side N    long side of each output photo, in pixels, at most (default 1536: 51 photos, ~24 MiB)
#   --budget-mb M   fail when the output folder ends up larger than M MiB, as `du` counts (default 25)
#   --debs DIR      keep the downloaded .deb files in DIR and reuse them on the next run (default: a
#                   temporary folder, removed at the end; the packages are ~570 MB, enlightenment-data
#                   alone 400 MB, and extracting them needs about as much again)
#
# What it does: `apt-get download` of enlightenment-data, lomiri-wallpapers-16.04, lomiri-wallpapers-20.04,
# plasma-workspace-wallpapers and mate-backgrounds (the candidate versions of the configured apt sources; run
# `apt-get update` first on a fresh machine), `dpkg-deb -x` of each into a temporary folder (nothing is
# installed), then scripts/photo_pool.py picks the photographs on its reviewed allow-list (for
# enlightenment-data: the largest JPEG stream inside each .edj Eet file), applies EXIF orientation, downscales
# with Lanczos to --max-side, saves JPEG quality 95 4:4:4 without metadata as DIR/<package>/<name>.jpg and
# writes DIR/LICENSES.md (package, version, original path, copyright and licence quoted from each package's
# /usr/share/doc/<package>/copyright) and DIR/README.md.
#
# Requirements: Debian/Ubuntu apt + dpkg-deb, Python 3 with Pillow (Debian: `apt-get install python3-pil`,
# or `pip install pillow`).  Deterministic: the same packages and the same Pillow build give the same bytes.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="$repo/data/photos"
max_side=1536
budget_mb=25
debs=""

while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --max-side) max_side="$2"; shift 2 ;;
    --budget-mb) budget_mb="$2"; shift 2 ;;
    --debs) debs="$2"; shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

packages=(enlightenment-data lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 plasma-workspace-wallpapers
          mate-backgrounds)

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "needs apt-get and dpkg-deb" >&2; exit 1; }
python3 -c 'import PIL' 2>/dev/null || { echo "needs Python 3 with Pillow: apt-get install python3-pil (or pip install pillow)" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/photo-pool.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
if [ -z "$debs" ]; then debs="$tmp/debs"; fi
mkdir -p "$debs"
debs="$(cd "$debs" && pwd)"

args=()
for p in "${packages[@]}"; do
  ver="$(apt-cache policy "$p" | awk '/Candidate:/ {print $2}')"
  if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
    echo "error: apt knows no candidate for $p (run apt-get update? is the main component enabled?)" >&2
    exit 1
  fi
  # apt writes ':' of an epoch as %3a in the file name
  deb="$(ls "$debs/${p}_${ver/:/%3a}_"*.deb 2>/dev/null | head -n 1 || true)"
  if [ -z "$deb" ]; then
    echo "== apt-get download $p=$ver"
    (cd "$debs" && apt-get download -q "$p=$ver")
    deb="$(ls "$debs/${p}_${ver/:/%3a}_"*.deb | head -n 1)"
  else
    echo "== reusing $deb"
  fi
  got="$(dpkg-deb -f "$deb" Version)"
  [ "$got" = "$ver" ] || { echo "error: $deb has version $got, expected $ver" >&2; exit 1; }
  echo "== dpkg-deb -x $(basename "$deb") ($(du -h "$deb" | cut -f1))"
  mkdir -p "$tmp/x/$p"
  dpkg-deb -x "$deb" "$tmp/x/$p"
  args+=(--root "$p=$tmp/x/$p" --version "$p=$ver")
done

echo "== building $out (max side $max_side px, budget $budget_mb MiB)"
python3 "$here/photo_pool.py" "${args[@]}" --out "$out" --max-side "$max_side" --budget-mb "$budget_mb"
echo "== done: $(find "$out" -name '*.jpg' | wc -l) photos, $(du -sh "$out" | cut -f1) in $out"
