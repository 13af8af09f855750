#!/usr/bin/env python3
"""Writes small valid files as seed corpora for the fuzz targets in Fuzz/: OUT/<target>/<name>.

Seeds only steer the fuzzer towards deep code (a valid header, a valid JSON manifest, a real SQLite
gallery); the fuzzer mutates them. Run by scripts/fuzz.sh; needs Python 3 with numpy and Pillow.
"""
import io
import json
import shutil
import sqlite3
import struct
import sys
from pathlib import Path

import numpy as np
from PIL import Image

root = Path(__file__).resolve().parent.parent
out = Path(sys.argv[1])
rng = np.random.default_rng(0)


def write(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def encoded(img, fmt, **kw):
    b = io.BytesIO()
    img.save(b, fmt, **kw)
    return b.getvalue()


# Images: the committed fixtures plus the modes the hostile corpus names, each a few pixels.
for folder in ["images", "bad"]:
    for f in sorted((root / "Tests/Fixtures" / folder).iterdir()):
        if f.is_file() and f.suffix != ".safetensors" and f.stat().st_size > 0:
            write("image", f"{folder}-{f.name}", f.read_bytes())
rgb = Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
write("image", "1x1.png", encoded(rgb.crop((0, 0, 1, 1)), "PNG"))
write("image", "1x8.jpg", encoded(rgb.crop((0, 0, 1, 8)), "JPEG"))
write("image", "progressive.jpg", encoded(rgb, "JPEG", progressive=True, quality=90))
write("image", "gray.jpg", encoded(rgb.convert("L"), "JPEG"))
write("image", "gray-alpha.png", encoded(rgb.convert("LA"), "PNG"))
write("image", "rgba.webp", encoded(rgb.convert("RGBA"), "WEBP", quality=80))
write("image", "lossy.webp", encoded(rgb, "WEBP", quality=50))
write("image", "optimized.png", encoded(rgb, "PNG", optimize=True))
write("image", "gray16.png", encoded(Image.fromarray((rng.integers(0, 65536, (8, 8))).astype(np.uint16)), "PNG"))
exif = Image.Exif()
exif[0x0112] = 6
write("image", "exif-6-small.jpg", encoded(rgb, "JPEG", exif=exif.tobytes()))


def safetensors(tensors, metadata):
    header, blobs, offset = {"__metadata__": metadata}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    js = json.dumps(header).encode()
    js += b" " * (-len(js) % 8)
    return struct.pack("<Q", len(js)) + js + b"".join(blobs)


# A ResNet-18 extractor of width 1 (2 classes, projection 4), its state dict cut from the committed
# width-8 reference checkpoint's names: every channel count divides by 8.
ref = (root / "Tests/Fixtures/reference/resnet18_w8.safetensors").read_bytes()
(n,) = struct.unpack("<Q", ref[:8])
ref_header = json.loads(ref[8 : 8 + n])
state = {}
for name, info in ref_header.items():
    if not name.startswith("param."):
        continue
    key = name[len("param."):]
    shape = list(info["shape"])
    if key.startswith("cls."):
        shape[0] = 2
    elif key.startswith("proj."):
        shape[0] = 4
    else:
        shape[0] //= 8
    if len(shape) > 1 and shape[1] != 3:
        shape[1] //= 8
    state[key] = np.ones(shape) if key.endswith("running_var") else rng.normal(0, 0.1, shape)
spectral_input = {"size": 16, "residual": "highpass", "spectrum": "log1p-shift", "mean": [0, 0, 0], "std": [1, 1, 1]}
meta = {
    "format_version": "1", "extractor_format": "1", "architecture": "resnet18", "width": "1", "projection": "4",
    "input": json.dumps(spectral_input), "classes": json.dumps(["a", "b"]),
}
write("safetensors", "extractor-w1.safetensors", safetensors(state, meta))
write("safetensors", "small.safetensors", safetensors({"a": rng.normal(size=(2, 3)), "b": np.zeros(0)}, {"format_version": "1"}))
write("safetensors", "scalar.safetensors", safetensors({"s": np.float32(1.5)}, {}))

# A pool manifest with two entries, and a tile cache of two 4-px tiles.
config = {"steps": 10, "batch": 2, "size": 8, "learningRate": 0.001, "residualTarget": 0.002, "seeds": 2,
          "tiles": 2, "tileSeed": 0}
entries = [
    {"architecture": a, "seed": s, "steps": 10, "finalResidual": 0.01, "firstLoss": 0.5, "learningRate": 0.001,
     "reachedTarget": False, "seconds": 1.5, "convGFLOPPerStep": 0.01, "file": f"{a}/seed-{s}.safetensors",
     "checksum": "0123456789abcdef"}
    for a, s in [("000000", 0), ("110011", 1)]
]
write("pool", "manifest.json", json.dumps({"formatVersion": 1, "config": config, "shard": "0/2", "models": entries}).encode())
tiles = rng.integers(0, 256, 2 * 3 * 4 * 4, dtype=np.uint8).tobytes()
h = 0xCBF29CE484222325
for b in tiles:
    h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
write("pool", "tiles-4.bin", b"MPTILES\0" + struct.pack("<IIIQ", 1, 2, 4, h) + tiles)

# A gallery with the schema Gallery.createSchema writes, two models and three 4-value embeddings.
tmp = out / "gallery.tmp.sqlite"
tmp.unlink(missing_ok=True)
db = sqlite3.connect(tmp)
db.execute("PRAGMA page_size = 512")  # a small seed mutates faster
db.executescript("""
CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
CREATE TABLE models (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, notes TEXT NOT NULL DEFAULT '',
  created DATETIME NOT NULL, images INTEGER NOT NULL DEFAULT 0, fingerprint BLOB NOT NULL);
CREATE TABLE images (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  model INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  path TEXT NOT NULL, embedding BLOB NOT NULL, created DATETIME NOT NULL, UNIQUE(model, path));
CREATE INDEX images_model ON images(model);
""")
for k, v in {"format_version": "1", "extractor_sha256": "ab" * 32, "extractor_settings": "{}", "dimension": "4",
             "open_set_threshold": "0.5", "verification_threshold": "0.6"}.items():
    db.execute("INSERT INTO meta VALUES (?, ?)", (k, v))
now = "2026-01-01 00:00:00.000"
for m, (name, count) in enumerate([("alpha", 2), ("beta", 1)], start=1):
    vectors = rng.normal(size=(count, 4)).astype("<f4")
    mean = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).mean(0)
    db.execute("INSERT INTO models VALUES (?, ?, '', ?, ?, ?)",
               (m, name, now, count, (mean / np.linalg.norm(mean)).astype("<f4").tobytes()))
    for i, v in enumerate(vectors):
        db.execute("INSERT INTO images (model, path, embedding, created) VALUES (?, ?, ?, ?)",
                   (m, f"{name}/{i}.png", v.tobytes(), now))
db.commit()
db.close()
write("gallery", "gallery.sqlite", tmp.read_bytes())
tmp.unlink()
for target in ["image", "safetensors", "pool", "gallery"]:
    files = list((out / target).iterdir())
    print(f"{target}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
