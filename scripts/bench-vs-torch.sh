#!/usr/bin/env bash
# Side-by-side speed (and peak memory) of ModelPrint and PyTorch on the same workloads.
#
# usage: scripts/bench-vs-torch.sh [--threads "1 2"] [--repeat N] [--no-build] [--no-rss] [--out FILE] [WORKLOAD...]
#
#   WORKLOAD   default: synth-train synth-forward resnet-train resnet-infer dncnn-infer
#              (see ../shared/reference/torch_workloads.py for what each one is); also extractor-train,
#              ModelPrint only: a whole `modelprint train` step at its defaults (P × K = 32 × 4 tiles,
#              spectra on the producer thread, ResNet-18 w32, CE + triplet, clipping, AdamW), to read
#              next to resnet-train (the bare network at batch 32)
#   --threads  thread counts to run, space separated (default "1 2")
#   --repeat N run each ModelPrint/PyTorch pair N times, alternating; the table shows medians (default 3;
#              a machine with noisy neighbours moves single runs by 20 % and more)
#   --no-build use the existing .build/release/modelprint-bench instead of building it
#   --no-rss   skip the peak-RSS runs of resnet-train
#   --out FILE keep the raw tagged result lines there (default: a temporary file, removed at exit)
#
# For each thread count and workload it runs ModelPrint's benchmark and then PyTorch's, alternating, so
# drift in machine speed hits both. PyTorch runs in its tuned setting (glibc malloc variables below,
# channels_last inside the script). Peak RSS of resnet-train is measured once per implementation and
# thread count under /usr/bin/time. Prints a Markdown table; ratio > 1 means ModelPrint is better.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/.build/release/modelprint-bench"
TORCH_SCRIPT="$ROOT/../shared/reference/torch_workloads.py"
TABLE="$ROOT/scripts/bench_table.py"
TORCH_ENV=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824)

die() { echo "bench-vs-torch: $*" >&2; exit 1; }
usage() { sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

threads="1 2"
repeat=3
build=1
rss=1
out=""
workloads=()
while (($#)); do
    case "$1" in
        --threads) (($# >= 2)) || die "--threads needs a value, e.g. --threads \"1 2\""; threads="$2"; shift 2 ;;
        --threads=*) threads="${1#*=}"; shift ;;
        --repeat) (($# >= 2)) || die "--repeat needs a count"; repeat="$2"; shift 2 ;;
        --no-build) build=0; shift ;;
        --no-rss) rss=0; shift ;;
        --out) (($# >= 2)) || die "--out needs a file"; out="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) workloads+=("$1"); shift ;;
    esac
done
((${#workloads[@]})) || workloads=(synth-train synth-forward resnet-train resnet-infer dncnn-infer)
for t in $threads; do
    [[ "$t" =~ ^[1-9][0-9]*$ ]] || die "bad thread count '$t' in --threads \"$threads\""
done
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "bad --repeat count '$repeat'"

command -v python3 >/dev/null || die "python3 not found"
[[ -f "$TORCH_SCRIPT" ]] || die "PyTorch reference script not found at $TORCH_SCRIPT (the shared reference folder must sit next to the repository)"
[[ -f "$TABLE" ]] || die "table formatter not found at $TABLE"
python3 -c 'import torch' 2>/dev/null || die "python3 cannot import torch; install it with: python3 -m pip install -r scripts/reference/requirements.txt"

if ((build)); then
    command -v swift >/dev/null || die "swift not found (or pass --no-build with a prebuilt $BENCH)"
    echo "building modelprint-bench (release)..." >&2
    (cd "$ROOT" && swift build -c release --product modelprint-bench) >&2 || die "swift build failed"
fi
[[ -x "$BENCH" ]] || die "benchmark binary not found at $BENCH (build it with: swift build -c release --product modelprint-bench)"

if [[ -z "$out" ]]; then
    out="$(mktemp -t bench-vs-torch.XXXXXX)"
    trap 'rm -f "$out"' EXIT
else
    : >"$out"
fi

# run IMPL CMD...: run one benchmark, echo its output to stderr, tag its JSON lines into $out
run() {
    local impl="$1"; shift
    local log
    log="$("$@")" || die "$impl benchmark failed: $*"
    printf '%s\n' "$log" >&2
    printf '%s\n' "$log" | grep '^[[:space:]]*{' | sed "s/^/$impl\t/" >>"$out" || true
}

# peak IMPL THREADS CMD...: peak RSS (KiB) of one run, tagged as an RSS row
peak() {
    local impl="$1" t="$2"; shift 2
    local f kib
    f="$(mktemp)"
    if [[ -x /usr/bin/time ]]; then
        /usr/bin/time -f %M -o "$f" "$@" >/dev/null || { rm -f "$f"; die "$impl peak-RSS run failed: $*"; }
        kib="$(tail -n 1 "$f")"
    else  # no GNU time: ask the kernel about the child
        python3 -c 'import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if r.returncode == 0 else "")' "$@" >"$f"
        kib="$(tail -n 1 "$f")"
    fi
    rm -f "$f"
    [[ "$kib" =~ ^[0-9]+$ ]] || die "could not read the peak RSS of $impl ($*)"
    printf '%s\t{"workload": "resnet-train", "threads": %s, "value": %s, "unit": "KiB", "rss": true}\n' \
        "$impl" "$t" "$kib" >>"$out"
    echo "$impl resnet-train threads=$t peak RSS ${kib} KiB" >&2
}

for t in $threads; do
    for w in "${workloads[@]}"; do
        for ((r = 1; r <= repeat; r++)); do
            echo "== $w, $t thread(s), run $r of $repeat" >&2
            run modelprint "$BENCH" --threads "$t" "$w"
            [[ "$w" == extractor-train ]] && continue  # no PyTorch twin in torch_workloads.py
            run pytorch env "${TORCH_ENV[@]}" python3 "$TORCH_SCRIPT" --threads "$t" "$w"
        done
    done
    if ((rss)) && [[ " ${workloads[*]} " == *" resnet-train "* ]]; then
        echo "== resnet-train peak RSS, $t thread(s)" >&2
        peak modelprint "$t" "$BENCH" --threads "$t" resnet-train
        peak pytorch "$t" env "${TORCH_ENV[@]}" python3 "$TORCH_SCRIPT" --threads "$t" resnet-train
    fi
done

echo >&2
python3 "$TABLE" "$out"
