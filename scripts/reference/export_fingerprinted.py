"""Writes the PyTorch reference method's fingerprinted tiles (REFMETHOD_OUT/fp/*.pt, uint8 N×3×64×64) as PNG
files, one folder per model, so `modelprint train --fingerprinted DIR` trains on exactly the same tiles.

  python3 scripts/reference/export_fingerprinted.py OUT_DIR [--fp-dir fp]
"""
import argparse
import glob
import os

import numpy as np
import torch
from PIL import Image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--fp-dir", default="fp")
    a = p.parse_args()
    root = os.environ.get("REFMETHOD_OUT", os.path.expanduser("~/.cache/modelprint-refmethod"))
    files = sorted(glob.glob(os.path.join(root, a.fp_dir, "*.pt")))
    if not files:
        raise SystemExit(f"no .pt files under {os.path.join(root, a.fp_dir)}")
    for f in files:
        name = os.path.basename(f)[:-3]
        u8 = torch.load(f).numpy()
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        for i, t in enumerate(u8):
            Image.fromarray(np.ascontiguousarray(t.transpose(1, 2, 0))).save(os.path.join(d, f"{i:04d}.png"))
    print(f"{len(files)} models -> {a.out}")


if __name__ == "__main__":
    main()
