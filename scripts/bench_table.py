#!/usr/bin/env python3
"""Turn tagged benchmark lines into the ModelPrint-vs-PyTorch Markdown table.

Input (a file argument or stdin), one record per line: `<impl>\t<json>` where impl is `modelprint` or
`pytorch` and json is a benchmark line {"workload", "threads", "value", "unit", ...}; peak-RSS rows are
{"workload": "resnet-train", "threads": N, "value": KiB, "unit": "KiB", "rss": true}. Lines that are not
of that form are ignored, so the raw output of both programs can be piped in.

ratio > 1 means ModelPrint is better: ours/torch for rates (units ending in "/s"), torch/ours for times
(s/step, ms, ...) and for peak RSS. If a workload ran more than once, the median is used.
"""
import json
import statistics
import sys

IMPLS = ("modelprint", "pytorch")


def parse(lines):
    """-> {(workload, threads, unit, is_rss): {impl: [values]}}, keeping first-seen order."""
    rows = {}
    for line in lines:
        impl, sep, rest = line.rstrip("\n").partition("\t")
        if not sep or impl not in IMPLS or not rest.lstrip().startswith("{"):
            continue
        try:
            rec = json.loads(rest)
            key = (str(rec["workload"]), int(rec["threads"]), str(rec["unit"]), bool(rec.get("rss", False)))
            value = float(rec["value"])
        except (ValueError, KeyError, TypeError):
            print(f"bench_table: skipping malformed line: {line.strip()}", file=sys.stderr)
            continue
        rows.setdefault(key, {}).setdefault(impl, []).append(value)
    return rows


def higher_is_better(unit):
    return unit.endswith("/s")


def fmt(v):
    if v is None:
        return "—"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.3g}" if a < 10 else f"{v:.1f}"
    return f"{v:.3g}"


def table(rows):
    out = ["| workload | threads | ModelPrint | PyTorch | unit | ratio |",
           "|---|---:|---:|---:|---|---:|"]
    # timing rows first (in order of appearance), then the RSS rows
    for want_rss in (False, True):
        for (workload, threads, unit, is_rss), vals in rows.items():
            if is_rss != want_rss:
                continue
            ours = statistics.median(vals["modelprint"]) if "modelprint" in vals else None
            torch = statistics.median(vals["pytorch"]) if "pytorch" in vals else None
            if is_rss:
                name, unit = f"{workload} peak RSS", "MiB"
                ours = None if ours is None else ours / 1024
                torch = None if torch is None else torch / 1024
            else:
                name = workload
            ratio = None
            if ours and torch:
                ratio = ours / torch if (higher_is_better(unit) and not is_rss) else torch / ours
            out.append(f"| {name} | {threads} | {fmt(ours)} | {fmt(torch)} | {unit} | "
                       f"{'—' if ratio is None else f'{ratio:.2f}×'} |")
    return "\n".join(out)


def main():
    if len(sys.argv) > 2 or (len(sys.argv) == 2 and sys.argv[1] in ("-h", "--help")):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    src = open(sys.argv[1]) if len(sys.argv) == 2 else sys.stdin
    rows = parse(src)
    if not rows:
        sys.exit("bench_table: no benchmark lines found")
    print(table(rows))
    print("\nratio > 1: ModelPrint is better (rates: ours/torch; times and peak RSS: torch/ours)")


if __name__ == "__main__":
    main()
