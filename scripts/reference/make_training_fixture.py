#!/usr/bin/env python3
"""Write Tests/Fixtures/reference/extractor_run.safetensors: the fingerprint extractor's tiny fixed-seed
training run (ExtractorTrainer) in PyTorch float64, for ExtractorTrainingTests.

    python3 scripts/reference/make_training_fixture.py

The run, step by step as Sources/Fingerprint/ExtractorTrainer.swift does it:
  * 5 classes (architectures 000000, 010110, 100200, 111032, 001231; the last held out) of 6 fixed
    64 x 64 8-bit tiles each, drawn here (numpy, stated seed), not produced by a pool trained in Swift
    (64 px as in production: smaller tiles leave 1 x 1 feature maps whose batch norms over a handful of
    values made the run far too ill-conditioned to compare);
  * spectra: x - 3x3 box blur (reflect padding), log1p(255 |fft2|), fftshift, per colour channel;
    standardised with the per-channel mean and unbiased std of the spectra of all training tiles;
  * batches from PKSampler(classes: [0, 1, 2, 3], perClass: 6, p: 4, k: 3, seed: 1), reproduced here
    with the engine's generator (xoshiro256** seeded by splitmix64, Sources/Tensor/RNG.swift); the test
    asserts that the engine draws exactly these integers;
  * ResNet18(width=4, classes=4, proj=8) from torch_workloads, initial weights from torch.manual_seed(0)
    (stored; the test starts the trainer from them);
  * loss = cross_entropy(logits, labels) + batch_hard_triplet(proj, labels, 0.3); gradients clipped to
    global norm 5 (clip_grad_norm_), AdamW(lr from the schedule, weight_decay=0.01), linear warm-up of 1
    step then cosine from 1e-4 to 0 over the 6 steps (WarmupCosine). The small rate keeps the run well
    conditioned: Adam's first steps divide by |gradient|, so at 1e-3 the loss of step 4 moved by 3e5 times
    any perturbation of the rounding's size; at 1e-4 training still moves the losses by 0.1 to 0.2, far
    more than the tolerance;
  * `losses` [6]: the loss of each step, before its update.

Tolerances follow error_model.py: `sens.<name>` is each result's sensitivity to per-op rounding (every
spectral op and network layer perturbed, through all six steps), `reduction_length` the longest sum.
Unlike the model fixtures, the tiles cannot keep every ReLU input away from zero (there are ~10^5 of
them per step), so sensitivities are measured both at delta = 1e-7 and at delta = eps, the size of the
modelled errors, where kinks are crossed, and the larger is stored.
"""
import copy
import hashlib
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from error_model import (  # noqa: E402
    check_float32, eps, longest_reduction, relu_margin, sensitivities, with_sensitivities)
from engine_rng import MASK, RNG  # noqa: E402
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

SCRIPT = "scripts/reference/make_training_fixture.py"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.normpath(os.path.join(REPO, "..", "shared", "reference")))
from torch_workloads import ResNet18, batch_hard_triplet  # noqa: E402

OUT = os.path.join(REPO, "Tests", "Fixtures", "reference", "extractor_run.safetensors")
ARCHS = ["000000", "010110", "100200", "111032", "001231"]
TRAIN = [0, 1, 2, 3]  # 001231 is held out (config.heldOut)
PER_CLASS, SIZE, P, K, STEPS = 6, 64, 4, 3, 6
LR, WEIGHT_DECAY, CLIP, MARGIN, SAMPLER_SEED = 1e-4, 0.01, 5.0, 0.3, 1


def pk_batch(step):
    """PKSampler.batch(step): (class, tile) items and labels (positions in TRAIN)."""
    rng = RNG((SAMPLER_SEED + step * 0x9E3779B97F4A7C15) & MASK)
    cls = list(range(len(TRAIN)))
    for j in range(P):
        r = j + rng.int(len(cls) - j)
        cls[j], cls[r] = cls[r], cls[j]
    items, labels = [], []
    for c in cls[:P]:
        tiles = list(range(PER_CLASS))
        for j in range(K):
            r = j + rng.int(PER_CLASS - j)
            tiles[j], tiles[r] = tiles[r], tiles[j]
        for t in tiles[:K]:
            items.append((TRAIN[c], t))
            labels.append(c)
    return items, labels


def learning_rate(step, warmup=1):
    """WarmupCosine(base: LR, warmupSteps: 1, totalSteps: STEPS) (warm-up = min(steps per epoch, steps / 20))."""
    if step < warmup:
        return LR * (step + 1) / warmup
    t = min((step - warmup) / max(STEPS - warmup, 1), 1.0)
    return LR * 0.5 * (1 + np.cos(np.pi * t))


class Residual(nn.Module):
    def forward(self, x):
        return x - F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, stride=1)


class Magnitude(nn.Module):
    def forward(self, r):
        return torch.fft.fft2(r).abs()


class LogShift(nn.Module):
    def forward(self, m):
        return torch.fft.fftshift(torch.log1p(255 * m), dim=(-2, -1))


class Run(nn.Module):
    """The spectral input and the network, as one module so the error model perturbs both."""

    def __init__(self):
        super().__init__()
        self.spectrum = nn.Sequential(Residual(), Magnitude(), LogShift())
        self.net = ResNet18(width=4, classes=len(TRAIN), proj=8).double()


def tiles_for(seed):
    g = np.random.default_rng(seed)
    return g.integers(0, 256, size=(len(ARCHS), PER_CLASS, 3, SIZE, SIZE), dtype=np.uint8)


def make_run(tiles, init, dtype=torch.float64):
    run = Run().to(dtype)
    init = {k: v.to(dtype) if v.is_floating_point() else v for k, v in init.items()}
    images = torch.tensor(tiles, dtype=dtype) / 255
    batches = [pk_batch(step) for step in range(STEPS)]

    def compute():
        run.net.load_state_dict(init)
        run.net.train()
        spectra = run.spectrum(images[TRAIN].reshape(-1, 3, SIZE, SIZE))
        mean = spectra.mean(dim=(0, 2, 3))
        std = spectra.std(dim=(0, 2, 3))  # unbiased, as channelStatistics
        opt = torch.optim.AdamW(run.net.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
        losses, first = [], None
        for step, (items, labels) in enumerate(batches):
            x = run.spectrum(torch.stack([images[c, t] for c, t in items]))
            x = (x - mean[None, :, None, None]) / std[None, :, None, None]
            if first is None:
                first = x.detach().clone()
            y = torch.tensor(labels)
            for group in opt.param_groups:
                group["lr"] = learning_rate(step)
            opt.zero_grad(set_to_none=True)
            logits, z = run.net(x)
            loss = F.cross_entropy(logits, y) + batch_hard_triplet(z, y, margin=MARGIN)
            losses.append(loss.detach().reshape(1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(run.net.parameters(), max_norm=CLIP)
            opt.step()
        return {"losses": torch.cat(losses), "mean": mean.detach(), "std": std.detach(), "spectra0": first}

    return run, compute, batches


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)
    net32 = ResNet18(width=4, classes=len(TRAIN), proj=8).float()
    init = {k: v.double() if v.is_floating_point() else v for k, v in copy.deepcopy(net32.state_dict()).items()}

    seed = 0
    tiles = tiles_for(seed)
    run, compute, batches = make_run(tiles, init)
    x = torch.zeros(P * K, 3, SIZE, SIZE, dtype=torch.float64)
    reduction = max(longest_reduction(run.net, lambda: run.net(x)), SIZE * SIZE)  # the DFT's terms
    # ~10^5 ReLU inputs per step: some always lie within rounding of zero, so the sensitivity is also
    # measured at the size of the modelled errors themselves, where those kinks are crossed.
    result, sens = sensitivities(compute, run)
    _, at_eps = sensitivities(compute, run, delta=eps(reduction))
    sens = {k: max(v, at_eps[k]) for k, v in sens.items()}
    print(f"smallest ReLU input: {relu_margin(compute):.3g} channel standard deviations; sensitivities {sens}")
    # PyTorch's own float32 run must pass the bound the Swift test uses, or the model is wrong.
    t32 = make_run(tiles, init, torch.float32)[1]()
    print("losses", [round(float(v), 6) for v in result["losses"]])
    check_float32("training", result, sens, t32, reduction, keys=("losses", "mean", "std", "spectra0"))

    t = {f"param.{k}": v for k, v in init.items() if not k.endswith("num_batches_tracked")}
    t.update(result)
    with_sensitivities(t, sens)
    t["tiles"] = torch.tensor(tiles.reshape(len(ARCHS), -1).astype(np.float64))
    t["batch_items"] = torch.tensor([[c * PER_CLASS + i for c, i in items] for items, _ in batches],
                                    dtype=torch.float64)
    t["batch_labels"] = torch.tensor([labels for _, labels in batches], dtype=torch.float64)
    meta = {"torch": torch.__version__, "numpy": np.__version__, "script": SCRIPT, "dtype": "float32",
            "computed_in": "float64", "architectures": json.dumps(ARCHS), "held_out": ARCHS[-1],
            "tiles_seed": f"{seed}: numpy.random.default_rng(seed).integers(0, 256, (5, 6, 3, 64, 64), uint8)",
            "model_seed": "torch.manual_seed(0) before ResNet18(width=4, classes=4, proj=8) (float32 init)",
            "sampler": "PKSampler(classes: [0, 1, 2, 3], perClass: 6, p: 4, k: 3, seed: 1); batch_items holds "
            "class * 6 + tile", "schedule": "WarmupCosine(base: 1e-4, warmupSteps: 1, totalSteps: 6)",
            "optimizer": "AdamW(weight_decay=0.01), clip_grad_norm_(5) after backward", "margin": str(MARGIN),
            "reduction_length": str(reduction),
            "error_model": "lambda=10, eps=sqrt(reduction_length)*2^-24, delta=1e-7 and delta=eps (the larger), "
                           "4 directions",
            "description": "ExtractorTrainer's 6-step run on fixed tiles in float64: losses [6] (before each "
                           "update), spectra0 (the standardised first batch), mean/std (input standardisation), "
                           "initial weights (param.*), tiles (per class, planar RGB bytes as floats), "
                           "batch_items/batch_labels (the sampler's draws), sens.* (error-model sensitivities)"}
    for name, v in t.items():
        if not torch.isfinite(v.double()).all():
            raise SystemExit(f"{name} has non-finite values")
    write_safetensors(OUT, t, meta)
    back, _ = read_safetensors(OUT)
    digest = hashlib.sha256(open(OUT, "rb").read()).hexdigest()[:16]
    print(f"{os.path.relpath(OUT, REPO)}  {os.path.getsize(OUT)} bytes  sha256 {digest}...  {len(back)} tensors")


if __name__ == "__main__":
    main()
