#!/usr/bin/env python3
"""Residual energy of folder-per-model image sets: per model, the median over its images of the standard
deviation of the high-pass residual (image − 3×3 box blur, reflect padding, values in [0, 1]), the
statistic docs/accuracy.md compares between a synthetic pool's outputs and real generators.

    scripts/research/residual-energy.py SET [SET ...] [--max-images 16] [--json OUT]

A SET is a folder of model folders (`modelprint generate` output, an evaluation set). Prints per set the
min / quartiles / max over its models; --json writes every model's figure."""
import argparse, json, os, sys
import numpy as np
from PIL import Image

def residual_std(path):
    x = np.asarray(Image.open(path).convert("RGB"), np.float64) / 255.0
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="reflect")
    h, w = x.shape[:2]
    blur = sum(p[dy:dy + h, dx:dx + w] for dy in range(3) for dx in range(3)) / 9.0
    return float((x - blur).std())

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--max-images", type=int, default=16)
    ap.add_argument("--json")
    a = ap.parse_args()
    out = {}
    for s in a.sets:
        models = {}
        for m in sorted(os.listdir(s)):
            d = os.path.join(s, m)
            if not os.path.isdir(d) or m == "real":
                continue
            files = sorted(f for f in os.listdir(d) if f.lower().endswith((".png", ".jpg", ".jpeg", ".webp")))
            vals = []
            for f in files[: a.max_images]:
                try:
                    vals.append(residual_std(os.path.join(d, f)))
                except OSError as e:
                    print(f"skipped {os.path.join(d, f)}: {e}", file=sys.stderr)
            if vals:
                models[m] = float(np.median(vals))
        out[s] = models
        v = np.array(list(models.values()))
        if len(v) == 0:
            print(f"{s}: no images")
            continue
        q = np.percentile(v, [0, 25, 50, 75, 100])
        print(f"{s}: {len(v)} models, residual std min {q[0]:.4f} q1 {q[1]:.4f} median {q[2]:.4f} q3 {q[3]:.4f} max {q[4]:.4f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1, sort_keys=True)

if __name__ == "__main__":
    main()
