"""Writes Tests/Fixtures/reference/float16.safetensors: float32 values and NumPy's IEEE binary16 rounding
of them, for the checkpoint reader's and writer's F16 path.

Tensors (no metadata, like a file written by another tool):
- "x" (F32): seeded values spanning every binary16 regime: normal numbers of both signs from 2^-14 to
  65504, subnormals (2^-24 to 2^-14), values that round to zero, exact ties between two binary16 values
  (round half to even), and the largest finite value.
- "x.f16" (F16): x.astype(np.float16), the reference rounding.

The Swift tests check that reading "x.f16" gives the binary16 values and that writing "x" with F16
storage produces exactly NumPy's bits. Pinned: numpy 2.4.6 (warns on other versions).

Run: python3 scripts/reference/make_float16_fixture.py   (a second run writes a byte-identical file)
"""
import json
import os
import struct
import warnings

import numpy as np

PIN = "2.4.6"
if np.__version__ != PIN:
    warnings.warn(f"numpy {np.__version__}, the fixture was made with {PIN}")

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "Fixtures", "reference", "float16.safetensors")


def values():
    rng = np.random.default_rng(16)
    normal = rng.uniform(-14, 15.99, 64)
    normal = np.sign(rng.standard_normal(64)) * np.exp2(normal)
    subnormal = rng.uniform(2.0 ** -24, 2.0 ** -14, 16) * np.sign(rng.standard_normal(16))
    tiny = np.array([2.0 ** -26, -(2.0 ** -27), 0.0, -0.0])
    # Exactly halfway between two binary16 neighbours: the odd multiple of half an ulp.
    ties = np.array([1 + 2.0 ** -11, 1 + 3 * 2.0 ** -11, 2048 + 1, 2048 + 3, -(1 + 2.0 ** -11)])
    edges = np.array([65504.0, -65504.0, 65519.0, 2.0 ** -14, 2.0 ** -24, 0.1, 1 / 3])
    return np.concatenate([normal, subnormal, tiny, ties, edges]).astype("<f4")


def main():
    x = values()
    half = x.astype("<f2")
    blobs = [("x", "F32", x.tobytes()), ("x.f16", "F16", half.tobytes())]
    header, offset = {}, 0
    for name, dtype, raw in blobs:
        header[name] = {"dtype": dtype, "shape": [len(x)], "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
    js = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    js += b" " * (-len(js) % 8)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for _, _, raw in blobs:
            f.write(raw)
    print(f"wrote {os.path.normpath(OUT)}: {len(x)} values, {int(np.sum(np.isinf(half)))} infinite")


if __name__ == "__main__":
    main()
