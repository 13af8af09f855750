"""Writes Tests/Fixtures/reference/metrics.json: scikit-learn's metric values for seeded random inputs.

The Attribution tests compare their metrics with these numbers. Every input is float32-representable
(scores and embeddings are rounded through float32 before scikit-learn sees them), so the Swift side
reads exactly the same values. Pinned: numpy 2.4.6, scikit-learn 1.9.1 (warns on other versions).

Definitions beyond scikit-learn's own functions:
- EER: on roc_curve(drop_intermediate=False), the first point j with FPR >= FNR (FNR = 1 - TPR) and the
  point i = j - 1 before it; the crossing of the segment i..j with the line FPR = FNR, linearly
  interpolated: t = -g_i / (g_j - g_i) with g = FPR - FNR, EER = FPR_i + t (FPR_j - FPR_i).
- TAR at FAR 1 %: max TPR over the roc_curve points with FPR <= 0.01.
- Best-threshold accuracy: max over the observed scores t of mean((score >= t) == same).
- Davies-Bouldin: davies_bouldin_score on the L2-normalised embeddings.
- SHA-256: hashlib, for the gallery's extractor identity.

Run: python3 scripts/reference/make_metric_fixtures.py   (a second run writes a byte-identical file)
"""
import hashlib
import json
import os
import warnings

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, davies_bouldin_score, f1_score, roc_auc_score, roc_curve,
                             silhouette_score)

PINS = {"numpy": "2.4.6", "scikit-learn": "1.9.1"}
for name, have in (("numpy", np.__version__), ("scikit-learn", sklearn.__version__)):
    if have != PINS[name]:
        warnings.warn(f"{name} {have} differs from the pinned {PINS[name]}")

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "reference", "metrics.json")
rng = np.random.default_rng(20240601)


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def identification_case(n, classes, error_rate, extra_predicted):
    truth = rng.integers(0, classes, n)
    predicted = truth.copy()
    wrong = rng.random(n) < error_rate
    predicted[wrong] = rng.integers(0, classes + extra_predicted, wrong.sum())
    return {
        "truth": truth.tolist(), "predicted": predicted.tolist(),
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
    }


def verification_case(n, positive_fraction, separation, decimals):
    same = rng.random(n) < positive_fraction
    scores = rng.normal(0, 1, n) * 0.2 + np.where(same, separation, 0.0)
    if decimals is not None:
        scores = np.round(scores, decimals)  # many ties
    scores = f32(scores)
    fpr, tpr, thresholds = roc_curve(same, scores, drop_intermediate=False)
    fnr = 1 - tpr
    gap = fpr - fnr
    j = int(np.argmax(gap >= 0))
    if j == 0:
        eer = float(fpr[0])
    else:
        i = j - 1
        t = -gap[i] / (gap[j] - gap[i])
        eer = float(fpr[i] + t * (fpr[j] - fpr[i]))
    best = max(float(((scores >= t) == same).mean()) for t in np.unique(scores))
    return {
        "scores": scores.tolist(), "same": same.tolist(),
        "auc": float(roc_auc_score(same, scores)), "eer": eer,
        "tar_at_far_1pct": float(tpr[fpr <= 0.01].max()), "best_accuracy": best,
        "roc_fpr": fpr.tolist(), "roc_tpr": tpr.tolist(),
        "roc_thresholds": [None if not np.isfinite(t) else float(t) for t in thresholds],
    }


def cluster_case(sizes, dim, spread):
    centres = rng.normal(0, 1, (len(sizes), dim))
    x, labels = [], []
    for c, size in enumerate(sizes):
        x.append(centres[c] + spread * rng.normal(0, 1, (size, dim)))
        labels += [c * 3 + 1] * size  # labels need not be 0..k-1
    x = f32(np.concatenate(x))
    labels = np.array(labels)
    normed = x / np.linalg.norm(x, axis=1, keepdims=True)
    return {
        "embeddings": x.tolist(), "labels": labels.tolist(),
        "silhouette": float(silhouette_score(x, labels, metric="cosine")),
        "davies_bouldin": float(davies_bouldin_score(normed, labels)),
    }


fixture = {
    "script": "scripts/reference/make_metric_fixtures.py",
    "numpy": np.__version__, "scikit-learn": sklearn.__version__,
    "identification": [
        identification_case(300, 9, 0.35, 0),
        identification_case(200, 6, 0.6, 2),  # predictions of classes that never occur in the truth
        identification_case(50, 12, 0.5, 0),  # small classes, some never predicted right
    ],
    "verification": [
        verification_case(400, 0.5, 0.3, 1),  # heavy ties
        verification_case(1000, 0.3, 0.5, None),
        verification_case(60, 0.5, 0.2, 2),
        verification_case(500, 0.5, 2.0, 3),  # well separated: EER near 0
    ],
    "clusters": [
        cluster_case([30, 25, 40, 20, 35], 16, 0.6),
        cluster_case([12, 1, 20, 7], 8, 1.0),  # a one-member cluster (silhouette 0 for it)
        cluster_case([50, 50], 64, 2.0),
    ],
    "sha256": [
        {"text": t, "hex": hashlib.sha256(t.encode()).hexdigest()}
        for t in ["", "abc", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "x" * 55, "y" * 56,
                  "z" * 64, "ModelPrint " * 100]
    ],
}
with open(OUT, "w") as f:
    json.dump(fixture, f, sort_keys=True, separators=(",", ":"))
    f.write("\n")
with open(OUT, "rb") as f:
    print(OUT, hashlib.sha256(f.read()).hexdigest()[:16])
for case in fixture["verification"]:
    print("verification", len(case["scores"]), case["auc"], case["eer"], case["tar_at_far_1pct"])
for case in fixture["clusters"]:
    print("clusters", len(case["labels"]), case["silhouette"], case["davies_bouldin"])
