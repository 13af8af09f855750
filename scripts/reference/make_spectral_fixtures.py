#!/usr/bin/env python3
"""Write the NumPy/SciPy/PyTorch reference fixtures of ModelPrint's `Spectral` target.

Pinned and deterministic: numpy==2.4.6, scipy==1.17.1, torch==2.13.0+cpu (see requirements.txt), fixed
seeds, one thread. Run from anywhere:

    python3 scripts/reference/make_spectral_fixtures.py      # writes Tests/Fixtures/spectral/*.safetensors

Inputs are drawn with numpy.random.default_rng, rounded to float32 and stored; every reference value is
computed from those stored float32 inputs (in float64 where NumPy/SciPy compute), then stored as F32.
Files use the hand-written safetensors layout of make_fixtures.py (u64 little-endian header length |
space-padded JSON | raw little-endian float32 data in sorted-name order); integer-valued things are F32.

Files:
  azimuthal.safetensors   1-D spectra (Durall et al.) of random RGB images, 32x32 and 33x40:
                          `images.<H>x<W>` [4,3,H,W] in [0,1], `profiles.<H>x<W>` [4,R], `mean.<H>x<W>` [R]
  highpass.safetensors    `images` [2,3,17,12] in [0,1], `residual` = x - avg_pool2d(reflect pad, 3) (torch),
                          `spectrum` = spectrum() of ../shared/reference/method/common.py
  frechet.safetensors     sets `a.<case>` [n1,d], `b.<case>` [n2,d] and `fd.<case>` [1], the FID formula with
                          scipy.linalg.sqrtm; cases d8 (n 50/70) and d40 (n 50/70)
"""
import hashlib
import json
import os
import sys

import numpy as np
import scipy
import scipy.linalg
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

SCRIPT = "scripts/reference/make_spectral_fixtures.py"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHOD_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "reference", "method"))
OUT_DIR = os.path.join(REPO, "Tests", "Fixtures", "spectral")
PINNED = {"numpy": "2.4.6", "scipy": "1.17.1", "torch": "2.13.0+cpu"}

sys.dont_write_bytecode = True  # leave no __pycache__ in the shared folder
sys.path.insert(0, METHOD_DIR)
try:
    from common import spectrum as reference_spectrum  # noqa: E402
except ImportError as e:
    raise SystemExit(f"cannot import common.py from {METHOD_DIR}: {e}\n"
                     "the shared reference folder must sit next to the repository (../shared/reference)")


# ---------------------------------------------------------------------------------------------------------
# safetensors, by hand (the layout of make_fixtures.py)







def save(filename, tensors, description, **hyper):
    for name, a in tensors.items():
        if not np.isfinite(a).all():
            raise SystemExit(f"{filename}: {name} has non-finite values")
    meta = {"numpy": np.__version__, "scipy": scipy.__version__, "torch": torch.__version__, "script": SCRIPT,
            "description": description, "dtype": "float32", "layout": "C-contiguous (NCHW for images)"}
    meta.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in hyper.items()})
    path = os.path.join(OUT_DIR, filename)
    write_safetensors(path, tensors, meta)
    back, _ = read_safetensors(path)
    for name, a in tensors.items():
        assert np.array_equal(back[name], np.asarray(a, dtype=np.float32)), f"{filename}: {name} did not round-trip"
    return path


def f32(a):
    return np.asarray(a, dtype=np.float32)


# ---------------------------------------------------------------------------------------------------------
# references, written plainly

def azimuthal_profile(image):
    """image: (3,H,W) float64 in [0,1]. Durall et al.: mean of 20*log10(|fftshift(fft2(gray))| + 1e-8) per
    integer radius floor(sqrt((y-H//2)^2 + (x-W//2)^2)), radii 0..max."""
    gray = 0.299 * image[0] + 0.587 * image[1] + 0.114 * image[2]
    f = np.fft.fftshift(np.fft.fft2(gray))
    db = 20 * np.log10(np.abs(f) + 1e-8)
    h, w = gray.shape
    y, x = np.indices((h, w))
    r = np.floor(np.sqrt((y - h // 2) ** 2 + (x - w // 2) ** 2)).astype(np.int64)
    sums = np.bincount(r.ravel(), weights=db.ravel())
    counts = np.bincount(r.ravel())
    assert (counts > 0).all(), "every radius up to the maximum has pixels"
    return sums / counts


def frechet_distance(a, b):
    """The usual FID code: covmean = sqrtm(s1.dot(s2)), real part."""
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if np.iscomplexobj(covmean):
        assert np.abs(covmean.imag).max() < 1e-6, "sqrtm: imaginary part beyond rounding"
        covmean = covmean.real
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


# ---------------------------------------------------------------------------------------------------------
# fixtures

def azimuthal_fixture():
    rng = np.random.default_rng(1)
    tensors = {}
    for h, w in [(32, 32), (33, 40)]:
        images = f32(rng.random((4, 3, h, w)))
        profiles = np.stack([azimuthal_profile(im.astype(np.float64)) for im in images])
        key = f"{h}x{w}"
        tensors[f"images.{key}"] = images
        tensors[f"profiles.{key}"] = f32(profiles)
        tensors[f"mean.{key}"] = f32(profiles.mean(axis=0))
    return save("azimuthal.safetensors", tensors, "Durall et al. azimuthal integration (numpy float64)",
                seed=1, center="(H//2, W//2)", radius="floor(sqrt(dy^2 + dx^2))", gray="0.299 R + 0.587 G + 0.114 B")


def highpass_fixture():
    rng = np.random.default_rng(2)
    images = f32(rng.random((2, 3, 17, 12)))
    x = torch.from_numpy(images)
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), 3, stride=1)  # as common.spectrum
    residual = x - blur
    spec = reference_spectrum(x)
    again = torch.log1p(torch.fft.fftshift(torch.fft.fft2(residual).abs(), dim=(-2, -1)) * 255.0)
    assert torch.equal(spec, again), "common.spectrum is not log1p(255 |fftshift(fft2(residual))|)"
    return save("highpass.safetensors", {"images": images, "residual": residual.numpy(), "spectrum": spec.numpy()},
                "x - 3x3 box blur (reflect pad) and spectrum() of reference/method/common.py (torch float32)",
                seed=2)


def frechet_fixture():
    rng = np.random.default_rng(3)
    tensors, cases = {}, {}
    for d in (8, 40):
        # Correlated sets with different means and scales, so every term of d² matters.
        mix_a = rng.normal(size=(d, d)) / np.sqrt(d)
        mix_b = rng.normal(size=(d, d)) / np.sqrt(d)
        a = f32(rng.normal(size=(50, d)) @ mix_a + 0.5)
        b = f32(1.3 * rng.normal(size=(70, d)) @ mix_b + rng.normal(size=d) * 0.3)
        fd = frechet_distance(a.astype(np.float64), b.astype(np.float64))
        key = f"d{d}"
        tensors[f"a.{key}"], tensors[f"b.{key}"], tensors[f"fd.{key}"] = a, b, f32([fd])
        cases[key] = float(fd)
    return save("frechet.safetensors", tensors, "Frechet distance, FID formula with scipy.linalg.sqrtm (float64)",
                seed=3, distances=cases)


def main():
    versions = {"numpy": np.__version__, "scipy": scipy.__version__, "torch": torch.__version__}
    for k, v in PINNED.items():
        if versions[k] != v:
            print(f"warning: fixtures are pinned to {k} {v}, running {versions[k]}", file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.makedirs(OUT_DIR, exist_ok=True)
    for path in [azimuthal_fixture(), highpass_fixture(), frechet_fixture()]:
        tensors, meta = read_safetensors(path)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()[:16]
        print(f"{os.path.relpath(path, REPO)}  {os.path.getsize(path)} bytes  sha256 {digest}...  "
              f"{len(tensors)} tensors")
        for name in sorted(tensors):
            print(f"  {name:32s} {list(tensors[name].shape)}")
        if "distances" in meta:
            print(f"  distances {meta['distances']}")


if __name__ == "__main__":
    main()
