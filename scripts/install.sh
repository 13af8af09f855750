#!/usr/bin/env bash
# Installs modelprint: builds it, copies the executable to PREFIX/bin and the shipped resources (the
# extractor, the denoiser, the demo and photo sets, the web page of `modelprint serve`) to
# PREFIX/share/modelprint, where the executable finds them from any folder. The release build links the
# Swift runtime statically, so the installed binary needs only the C libraries of scripts/setup.sh.
#
#   scripts/install.sh [--prefix DIR] [--debug]
#
# --prefix DIR  install under DIR (default /usr/local; uses sudo when DIR is not writable)
# --debug       install the debug build instead (quicker to build, much slower to run)
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=/usr/local
configuration=release
while (($#)); do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a folder}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --debug) configuration=debug; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
for f in models/extractor.safetensors weights/denoiser-dncnn-10x32.safetensors data/demo data/photos web; do
  [[ -e "$f" ]] || { echo "install: $f is missing from this checkout" >&2; exit 1; }
done
flags=(-c "$configuration" --product modelprint)
[[ "$configuration" == release ]] && flags+=(--static-swift-stdlib)
swift build "${flags[@]}"
binary="$(swift build "${flags[@]}" --show-bin-path)/modelprint"

sudo_cmd=()
mkdir -p "$prefix" 2>/dev/null || true
if [[ ! -w "$prefix" ]]; then
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
fi
share="$prefix/share/modelprint"
"${sudo_cmd[@]}" mkdir -p "$prefix/bin" "$share/models" "$share/weights" "$share/data"
"${sudo_cmd[@]}" install -m 755 "$binary" "$prefix/bin/modelprint"
"${sudo_cmd[@]}" install -m 644 models/extractor.safetensors models/extractor.config.json "$share/models/"
"${sudo_cmd[@]}" install -m 644 weights/denoiser-dncnn-10x32.* "$share/weights/"
"${sudo_cmd[@]}" rm -rf "$share/data/demo" "$share/data/photos" "$share/web"
"${sudo_cmd[@]}" cp -R web "$share/"
"${sudo_cmd[@]}" cp -R data/demo data/photos "$share/data/"
echo "installed $prefix/bin/modelprint and its resources in $share"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH; add it, e.g. export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
