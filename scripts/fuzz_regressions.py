#!/usr/bin/env python3
"""Writes the fuzz regression inputs, Tests/Fixtures/fuzz/<target>/<name>: inputs that trapped a reader
(found by the fuzz targets in Fuzz/ or by reading the code) and neighbours of them. The tests in each
target's test suite feed every file of its folder through the reader and require a result or a typed
error. New crashes from scripts/fuzz.sh are copied into these folders as they are (crash-<sha1>);
this script only regenerates the hand-made ones.
"""
import json
import math
import sqlite3
import struct
import zlib
from pathlib import Path

root = Path(__file__).resolve().parent.parent
out = root / "Tests/Fixtures/fuzz"


def write(target, name, data):
    d = out / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def safetensors(header, data=b""):
    js = json.dumps(header).encode()
    return struct.pack("<Q", len(js)) + js + data


# safetensors: the header length field of random bytes (Int(clamping:) + 8 overflowed), offsets whose
# difference overflows, a shape whose element count overflows, overlapping tensors.
write("safetensors", "huge-header-length.safetensors", b"\xff" * 8 + b"\x13\x37" * 16)
write("safetensors", "header-length-past-end.safetensors", struct.pack("<Q", 1 << 20) + b"{}")
write("safetensors", "offsets-overflow.safetensors",
      safetensors({"t": {"dtype": "F32", "shape": [1], "data_offsets": [-(1 << 63), (1 << 63) - 1]}}))
write("safetensors", "shape-overflow.safetensors",
      safetensors({"t": {"dtype": "F32", "shape": [1 << 62, 8], "data_offsets": [0, 0]}}))
write("safetensors", "overlap.safetensors",
      safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                   "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12))
write("safetensors", "not-json.safetensors", struct.pack("<Q", 4) + b"\xff\xfe[{")
write("safetensors", "deep-json.safetensors", struct.pack("<Q", 10000) + b"[" * 10000)

# Extractor metadata: a width of 0 or a billion reached ResNet's precondition or an enormous allocation;
# the rest are settings the checkpoint cannot have been trained with.
inp = {"size": 16, "residual": "highpass", "spectrum": "log1p-shift", "mean": [0, 0, 0], "std": [1, 1, 1]}


def extractor(name, width="1", projection="4", classes=("a", "b"), **changes):
    meta = {"format_version": "1", "extractor_format": "1", "architecture": "resnet18", "width": width,
            "projection": projection, "input": json.dumps({**inp, **changes}), "classes": json.dumps(list(classes))}
    w = int(width) if width.lstrip("-").isdigit() and 0 < int(width) < 64 else 1
    p = int(projection) if 0 < int(projection) < 64 else 1
    shapes = {"stem.0.weight": [w, 3, 7, 7], "cls.weight": [max(1, len(classes)), 8 * w], "proj.weight": [p, 8 * w]}
    header, offset = {"__metadata__": meta}, 0
    for key, shape in shapes.items():
        n = 4 * math.prod(shape)
        header[key] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    write("safetensors", f"extractor-{name}.safetensors", safetensors(header, b"\0" * offset))


extractor("width-0", width="0")
extractor("width-negative", width="-8")
extractor("width-billion", width="1000000000")
extractor("projection-0", projection="0")
extractor("no-classes", classes=())
extractor("too-few-weights")
extractor("residual-unknown", residual="denoiser")
extractor("spectrum-unknown", spectrum="phase")
extractor("size-0", size=0)
extractor("std-0", std=[0, 1, 1])
extractor("mean-2", mean=[0, 0])

# Pool: a manifest listing a model twice (Dictionary(uniqueKeysWithValues:) trapped), one whose file
# points outside the pool, a zero batch; tile caches whose count × 3 × size² overflowed.
config = {"steps": 10, "batch": 2, "size": 8, "learningRate": 0.001, "residualTarget": 0.002, "seeds": 2,
          "tiles": 2, "tileSeed": 0}


def entry(arch="000000", seed=0, file=None):
    return {"architecture": arch, "seed": seed, "steps": 10, "finalResidual": 0.01, "firstLoss": 0.5,
            "learningRate": 0.001, "reachedTarget": False, "seconds": 1.5, "convGFLOPPerStep": 0.01,
            "file": file or f"{arch}/seed-{seed}.safetensors", "checksum": "0123456789abcdef"}


def manifest(name, models, **changes):
    write("pool", name, json.dumps({"formatVersion": 1, "config": {**config, **changes}, "models": models}).encode())


manifest("duplicate-key.json", [entry(), entry()])
write("pool", "deep.json", b'{"formatVersion": ' + b"[" * 10000)
manifest("file-outside.json", [entry(file="../../etc/passwd")])
manifest("batch-0.json", [entry()], batch=0)
manifest("size-odd.json", [], size=7)
manifest("architecture-bad.json", [entry(arch="9x9999")])
for name, count, size in [("tiles-overflow.bin", 0xFFFFFFFF, 0xFFFFFFFF), ("tiles-size-2pow31.bin", 1, 1 << 31),
                          ("tiles-zero.bin", 0, 4)]:
    write("pool", name, b"MPTILES\0" + struct.pack("<IIIQ", 1, count, size, 0xCBF29CE484222325))

# Gallery: a damaged embedding BLOB (the fingerprint's precondition trapped), a negative dimension
# (a negative array count), NULL and wrongly typed values where the schema has NOT NULL (GRDB's
# non-throwing subscripts trapped).
schema = """
CREATE TABLE meta (key TEXT, value TEXT);
CREATE TABLE models (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, notes TEXT DEFAULT '',
  created DATETIME, images INTEGER DEFAULT 0, fingerprint BLOB);
CREATE TABLE images (id INTEGER PRIMARY KEY AUTOINCREMENT, model INTEGER REFERENCES models(id) ON DELETE CASCADE,
  path TEXT, embedding BLOB, created DATETIME, UNIQUE(model, path));
"""
now = "2026-01-01 00:00:00.000"
good = struct.pack("<4f", 1, 0, 0, 0)


def gallery(name, dimension="4", models=(("alpha", now, good),), images=((1, "a.png", good),), meta_null=False):
    path = out / "gallery" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA page_size = 512")  # small committed files
    db.executescript(schema)
    for k, v in {"format_version": "1", "extractor_sha256": "ab" * 32, "dimension": dimension}.items():
        db.execute("INSERT INTO meta VALUES (?, ?)", (k, v))
    if meta_null:
        db.execute("INSERT INTO meta VALUES (NULL, NULL)")
    for m in models:
        db.execute("INSERT INTO models (name, created, images, fingerprint) VALUES (?, ?, 1, ?)", m)
    for i in images:
        db.execute("INSERT INTO images (model, path, embedding, created) VALUES (?, ?, ?, ?)", (*i, now))
    db.commit()
    db.close()


gallery("damaged-embedding.sqlite", images=((1, "a.png", b"\1\2\3\4\5"),))
gallery("embedding-wrong-length.sqlite", images=((1, "a.png", struct.pack("<3f", 1, 2, 3)),))
gallery("dimension-negative.sqlite", dimension="-4")
gallery("dimension-huge.sqlite", dimension=str(1 << 40))
gallery("name-null.sqlite", models=((None, now, good),))
gallery("created-not-a-date.sqlite", models=(("alpha", "yesterday", good),))
gallery("meta-null.sqlite", meta_null=True)
gallery("embedding-null.sqlite", images=((1, "a.png", None),))
gallery("model-without-images.sqlite", images=())
write("gallery", "random.sqlite", bytes((i * 131 + 7) % 256 for i in range(4096)))
write("gallery", "sqlite-header-only.sqlite", b"SQLite format 3\0" + b"\0" * 84)

# Images: EXIF segments shorter than their "Exif" tag (a reversed range trapped in the EXIF reader),
# headers claiming 60000 × 60000 and 0-pixel sides.
jpeg = (root / "Tests/Fixtures/images/rgb-q75.jpg").read_bytes()
for length in [2, 7]:
    write("image", f"exif-length-{length}.jpg", jpeg[:2] + b"\xff\xe1" + struct.pack(">H", length) + b"Exif\0\0" + jpeg[2:])
sof = jpeg.index(b"\xff\xc0")
for w, h in [(60000, 60000), (0, 8)]:
    write("image", f"jpeg-{w}x{h}.jpg", jpeg[: sof + 5] + struct.pack(">HH", h, w) + jpeg[sof + 9:])
webp = bytearray((root / "Tests/Fixtures/images/rgb-lossless.webp").read_bytes())
bits = 0x3FFF | 0x3FFF << 14 | (webp[24] >> 4) << 28  # VP8L: 14-bit width−1, height−1, alpha, version
webp[21:25] = struct.pack("<I", bits)
write("image", "webp-16384x16384.webp", bytes(webp))
png = (root / "Tests/Fixtures/images/rgb.png").read_bytes()
for w, h in [(0, 8), (60000, 60000)]:
    ihdr = png[12:16] + struct.pack(">II", w, h) + png[24:29]  # chunk type and data, CRC recomputed
    write("image", f"png-{w}x{h}.png", png[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:])
for target in sorted(p.name for p in out.iterdir()):
    print(target, len(list((out / target).iterdir())))
