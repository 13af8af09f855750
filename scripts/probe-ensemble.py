#!/usr/bin/env python3
"""Probe an ensemble of extractors: the concatenation of their (whitened) image embeddings, scored with the
evaluation protocol of `modelprint evaluate` on ../shared/eval/dev (10-shot) and dev-real (5-shot).

    scripts/probe-ensemble.py NAME=CKPT [NAME=CKPT ...] [--combos a+b,a+b+c] [--cache DIR]

Each checkpoint embeds both sets once (`modelprint embed --json`, cached under --cache); every combination
of members is then scored in numpy: 1:N in the gallery metric (GalleryAdaptation: the enrolled images'
within-model scatter mixed with the identity at weight n / (n + D), the query mapped by its inverse square
root, nearest fingerprint by cosine), AUC on the protocol's 10 000 seeded pairs (VerificationPairs with
the project's xoshiro256** RNG, seed 0), plain and in the gallery's context (GalleryAdaptation's
verificationScore: centred on the enrolled models' mean, then adapted), and the mean 1:N over dev-real's four lossless-source models. A
single member reproduces `score.sh`'s 1:N and AUC columns, which is the check that this replica of the
protocol is the protocol. A research probe, not part of the product: the tests never run it.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts", "reference"))
from engine_rng import RNG  # noqa: E402
SETS = {"dev": 10, "dev-real": 5}
LOSSLESS = ["ddpm-lucidrains-128", "karlo-v1.0-alpha", "pixart-alpha-1024", "vqgan-clip-nerdyrodent"]


def pairs(labels, count=10_000, seed=0):
    """Sources/Evaluation/VerificationPairs.swift: even draws same-model, odd draws different models."""
    classes = sorted(set(labels))
    members = {c: [i for i, l in enumerate(labels) if l == c] for c in classes}
    multi = [c for c in classes if len(members[c]) >= 2]
    rng = RNG(seed)
    out = []
    for k in range(count):
        if k % 2 == 0:
            m = members[multi[rng.int(len(multi))]]
            a = rng.int(len(m))
            b = rng.int(len(m) - 1)
            b += b >= a
            out.append((m[a], m[b], True))
        else:
            c1 = rng.int(len(classes))
            c2 = rng.int(len(classes) - 1)
            c2 += c2 >= c1
            m1, m2 = members[classes[c1]], members[classes[c2]]
            out.append((m1[rng.int(len(m1))], m2[rng.int(len(m2))], False))
    return out


def normalised(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def auc(scores, same):
    """The area under the ROC curve, ties counted half (the trapezoid of Sources/Evaluation/Metrics)."""
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    start = 0
    while start < len(scores):
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    pos = same.sum()
    neg = len(same) - pos
    return (ranks[same].sum() - pos * (pos + 1) / 2) / (pos * neg)


def adaptation(e, labels, enrolled):
    """Sources/Attribution/GalleryAdaptation.swift, in Float64."""
    d = e.shape[1]
    groups = {}
    for i in enrolled:
        groups.setdefault(labels[i], []).append(i)
    groups = [g for g in groups.values() if len(g) >= 2]
    n = sum(len(g) - 1 for g in groups)
    scatter = np.zeros((d, d))
    for g in groups:
        x = e[g] - e[g].mean(0)
        scatter += x.T @ x
    scatter /= sum(len(g) for g in groups)
    a = n / (n + d)
    values, vectors = np.linalg.eigh((1 - a) * np.eye(d) + a * scatter)
    return vectors @ np.diag(np.maximum(values, 1 - a) ** -0.5) @ vectors.T


def score(e, names, nshot, pair_list):
    classes = sorted(set(names))
    labels = np.array([classes.index(n) for n in names])
    enrolled, queries = [], []
    for c in range(len(classes)):
        idx = [i for i in range(len(labels)) if labels[i] == c]
        enrolled += idx[:nshot]
        queries += idx[nshot:]
    b = adaptation(e, labels, enrolled)
    fingerprints = np.array(
        [normalised(normalised(normalised(e[[i for i in enrolled if labels[i] == c]]).sum(0)) @ b)
         for c in range(len(classes))])
    predicted = (normalised(normalised(e[queries]) @ b) @ fingerprints.T).argmax(1)
    truth = labels[queries]
    per_model = {classes[c]: float((predicted[truth == c] == c).mean()) for c in range(len(classes))}
    n = normalised(e)
    a, b2, same = (np.array(x) for x in zip(*pair_list))
    scores = (n[a] * n[b2]).sum(1).astype(np.float32)
    # In the gallery's context (GalleryAdaptation.verificationScore): centred on the mean over the enrolled
    # models of their mean normalised embedding, then mapped by the adaptation.
    centre = np.mean([normalised(e[[i for i in enrolled if labels[i] == c]]).mean(0) for c in range(len(classes))], 0)
    x = normalised((n - centre) @ b)
    context = (x[a] * x[b2]).sum(1).astype(np.float32)
    return (float((predicted == truth).mean()), float(auc(scores, same.astype(bool))), per_model,
            float(auc(context, same.astype(bool))))


def embeddings(name, ckpt, split, cache):
    path = os.path.join(cache, f"{name}-{split}.jsonl")
    if not os.path.exists(path):
        binary = subprocess.check_output(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT,
                                         text=True).strip() + "/modelprint"
        folder = os.path.join(ROOT, "..", "shared", "eval", split)
        with open(path + ".part", "w") as f:
            subprocess.run([binary, "embed", folder, "--extractor", ckpt, "--json"], check=True, stdout=f,
                           stderr=subprocess.DEVNULL)
        os.replace(path + ".part", path)
    rows = sorted((json.loads(line) for line in open(path)), key=lambda r: r["path"])
    return [r["path"].split("/")[-2] for r in rows], np.array([r["embedding"] for r in rows], dtype=np.float64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("members", nargs="+", help="NAME=CHECKPOINT")
    parser.add_argument("--combos", help="comma-separated NAME+NAME lists (default: every single member, then all)")
    parser.add_argument("--cache", default="/tmp/probe-ensemble")
    args = parser.parse_args()
    os.makedirs(args.cache, exist_ok=True)
    members = dict(m.split("=", 1) for m in args.members)
    combos = ([c.split("+") for c in args.combos.split(",")] if args.combos
              else [[m] for m in members] + ([list(members)] if len(members) > 1 else []))
    print("| members | dev 1:N | dev AUC | dev AUC in context | dev-real 1:N | dev-real AUC | dev-real AUC in context "
          "| lossless mean | width |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    data = {(m, s): embeddings(m, members[m], s, args.cache) for m in members for s in SETS}
    for combo in combos:
        row = []
        for split, nshot in SETS.items():
            names = data[(combo[0], split)][0]
            if any(data[(m, split)][0] != names for m in combo):
                sys.exit(f"the members embedded different files of {split}")
            e = np.concatenate([data[(m, split)][1] for m in combo], 1)
            acc, a, per, context = score(e, names, nshot, pairs([sorted(set(names)).index(n) for n in names]))
            row += [acc, a, context]
            lossless = np.mean([per[m] for m in LOSSLESS]) if split == "dev-real" else None
        print(f"| {' + '.join(combo)} | " + " | ".join(f"{v:.3f}" for v in row) + f" | {lossless:.2f} | {e.shape[1]} |")


if __name__ == "__main__":
    main()
