#!/usr/bin/env python3
"""Compare a ModelPrint pool with the PyTorch reference pool: final reconstruction MSE by architecture digit.

    python3 scripts/compare_pool.py POOL/manifest.json ~/.cache/modelprint-refmethod/synth_log.jsonl

Prints, for each digit of the architecture id (K, L, order, upsampling, activation, norm) and each of its
values, the number of models and the median final MSE (mean of the last 10 steps, inputs in [-1, 1]) of
both pools, and per-model seconds by K. Standard library only.
"""
import json
import statistics
import sys

DIGITS = [("K", ["1", "2"]), ("L", ["1", "2"]), ("order", ["post", "pre"]),
          ("upsampling", ["bilinear", "nearest", "deconv"]), ("activation", ["none", "relu", "sigmoid", "tanh"]),
          ("norm", ["none", "batch", "instance"])]


def rank(values):
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    for r, i in enumerate(order):
        out[i] = float(r)
    return out


def main():
    ours = {e["architecture"] + "/" + str(e["seed"]): (e["finalResidual"], e["seconds"])
            for e in json.load(open(sys.argv[1]))["models"]}
    ref = {}
    for line in open(sys.argv[2]):
        r = json.loads(line)
        ref[r["arch"] + "/" + str(r["seed"])] = (r["final_mse"], r["train_s"])
    common = sorted(set(ours) & set(ref))
    print(f"{len(common)} models in both pools ({len(ours)} ModelPrint, {len(ref)} PyTorch)\n")
    print("| digit | value | models | median final MSE, ModelPrint | PyTorch | ratio |")
    print("|---|---|---:|---:|---:|---:|")
    for pos, (name, values) in enumerate(DIGITS):
        for v, label in enumerate(values):
            keys = [k for k in common if k[pos] == str(v)]
            a = statistics.median(ours[k][0] for k in keys)
            b = statistics.median(ref[k][0] for k in keys)
            print(f"| {name} | {label} | {len(keys)} | {a:.4f} | {b:.4f} | {a / b:.2f} |")
    allA = statistics.median(ours[k][0] for k in common)
    allB = statistics.median(ref[k][0] for k in common)
    print(f"| all | | {len(common)} | {allA:.4f} | {allB:.4f} | {allA / allB:.2f} |")
    print("\n| K | models | mean s/model, ModelPrint | PyTorch | ratio |")
    print("|---|---:|---:|---:|---:|")
    for v, label in enumerate(["1", "2"]):
        keys = [k for k in common if k[0] == str(v)]
        a = statistics.mean(ours[k][1] for k in keys)
        b = statistics.mean(ref[k][1] for k in keys)
        print(f"| {label} | {len(keys)} | {a:.2f} | {b:.2f} | {b / a:.2f}× |")
    ranks = statistics.correlation(rank([ours[k][0] for k in common]), rank([ref[k][0] for k in common]))
    print(f"\nSpearman rank correlation of per-model final MSE: {ranks:.3f}")


if __name__ == "__main__":
    main()
