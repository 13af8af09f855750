#!/usr/bin/env python3
"""Per-model 1:N accuracy of an extractor on a folder-per-model set, by the evaluation protocol of
`modelprint evaluate` (the first NSHOT images of each model, in sorted order, enroll its fingerprint: the
normalised mean of their normalised embeddings; every other image is a query, identified by its best
cosine), so that a total gain can be split by model (content cues show as gains on a few models only).

    scripts/research/per-model-accuracy.py EXTRACTOR SET NSHOT [--json OUT]

Embeddings come from `modelprint embed --json` (release build). The total printed last equals
`modelprint evaluate SET --nshot NSHOT --extractor EXTRACTOR`'s 1:N accuracy."""
import argparse, json, os, subprocess, sys
import numpy as np

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("extractor"); ap.add_argument("set"); ap.add_argument("nshot", type=int)
    ap.add_argument("--json")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    bindir = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=root, check=True,
                            capture_output=True, text=True).stdout.strip()
    out = subprocess.run([os.path.join(bindir, "modelprint"), "embed", a.set, "--extractor", a.extractor, "--json"],
                         check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    rows.sort(key=lambda r: (os.path.basename(os.path.dirname(r["path"])), r["path"]))
    labels = [os.path.basename(os.path.dirname(r["path"])) for r in rows]
    x = np.array([r["embedding"] for r in rows], np.float64)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    models = sorted(set(labels))
    lab = np.array([models.index(m) for m in labels])
    prints, queries = [], []
    for c in range(len(models)):
        idx = np.where(lab == c)[0]
        f = x[idx[:a.nshot]].sum(0)
        prints.append(f / np.linalg.norm(f))
        queries += list(idx[a.nshot:])
    q = np.array(queries)
    pred = (x[q] @ np.array(prints).T).argmax(1)
    per = {}
    for c, m in enumerate(models):
        sel = lab[q] == c
        per[m] = {"queries": int(sel.sum()), "accuracy": float((pred[sel] == c).mean())}
        print(f"{m:50s} {per[m]['accuracy']:.2f}  ({per[m]['queries']} queries)")
    total = float((pred == lab[q]).mean())
    print(f"{'all':50s} {total:.3f}  ({len(q)} queries)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"extractor": a.extractor, "set": a.set, "nshot": a.nshot, "accuracy": total, "models": per},
                      f, indent=1, sort_keys=True)

if __name__ == "__main__":
    main()
