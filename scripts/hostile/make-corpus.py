#!/usr/bin/env python3
"""Writes a corpus of hostile inputs mixed with good images, for scripts/hostile-check.sh.

    make-corpus.py OUT [--photos DIR] [--seed N]

OUT/batch/      one folder of images: good ones (crops of the bundled photos) and hostile ones
OUT/models/     three model folders (ROOT/<model>/<image>), each with good images and hostile ones
OUT/files/      random or truncated bytes given as an extractor, a pool and a gallery
OUT/expect.tsv  one line per image path: good (must get a result), bad (must be reported on its own
                line) or either (may decode or not; must not stop the batch)

Everything is derived from the seed, so a failing run can be reproduced.
"""
import argparse
import io
import json
import os
import random
import shutil
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_raw(width: int, height: int, depth: int, colour: int, rows: bytes) -> bytes:
    """A PNG from already filtered scanlines (any header, even one the spec forbids)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows))
            + png_chunk(b"IEND", b""))


def rgb16_png(pixels: np.ndarray) -> bytes:
    h, w, _ = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    return png_raw(w, h, 16, 2, rows)


def jpeg_claiming(width: int, height: int, good_jpeg: bytes) -> bytes:
    """A JPEG whose frame header (SOF0) claims width × height; the scan data stays the original's."""
    data = bytearray(good_jpeg)
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise ValueError("no SOF marker")


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--photos", type=Path, default=Path(__file__).resolve().parents[2] / "data" / "photos")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    photos = sorted(p for p in args.photos.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos:
        print(f"make-corpus: no photos under {args.photos}", file=sys.stderr)
        return 1
    if args.out.exists():
        shutil.rmtree(args.out)
    expect: list[tuple[str, str]] = []

    def crop(k: int, side: int = 96) -> Image.Image:
        photo = Image.open(photos[k % len(photos)]).convert("RGB")
        x = rng.randrange(0, max(1, photo.width - side))
        y = rng.randrange(0, max(1, photo.height - side))
        return photo.crop((x, y, x + side, y + side))

    def put(path: Path, data: bytes, kind: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expect.append((str(path), kind))

    def hostile(folder: Path, k: int) -> None:
        """Every hostile image kind, written into `folder`; `k` varies the pictures."""
        good_png = encode(crop(k), "PNG")
        good_jpg = encode(crop(k + 1), "JPEG", quality=90)
        put(folder / "empty.png", b"", "bad")
        put(folder / "truncated.png", good_png[: len(good_png) // 2], "bad")
        put(folder / "truncated.jpg", good_jpg[: len(good_jpg) // 2], "either")  # libjpeg may pad a short scan
        flipped = bytearray(good_png)
        for _ in range(8):
            flipped[rng.randrange(40, len(flipped))] ^= 1 << rng.randrange(8)
        put(folder / "bitflip.png", bytes(flipped), "either")
        flipped = bytearray(good_jpg)
        for _ in range(8):
            flipped[rng.randrange(200, len(flipped))] ^= 1 << rng.randrange(8)
        put(folder / "bitflip.jpg", bytes(flipped), "either")
        put(folder / "random.png", bytes(rng.getrandbits(8) for _ in range(4096)), "bad")
        put(folder / "random.jpg", b"\xff\xd8\xff" + bytes(rng.getrandbits(8) for _ in range(4096)), "bad")
        put(folder / "random.webp", b"RIFF\x00\x10\x00\x00WEBP" + bytes(rng.getrandbits(8) for _ in range(4096)), "bad")
        put(folder / "huge-60000x60000.png", png_raw(60000, 60000, 8, 2, b"\x00" * 64), "bad")
        put(folder / "huge-60000x60000.jpg", jpeg_claiming(60000, 60000, good_jpg), "bad")
        put(folder / "zero-0x0.png", png_raw(0, 0, 8, 2, b""), "bad")
        put(folder / "one-1x1.png", encode(crop(k).resize((1, 1)), "PNG"), "either")
        put(folder / "thin-1x64.png", encode(crop(k).resize((1, 64)), "PNG"), "either")
        put(folder / "flat-64x1.png", encode(crop(k).resize((64, 1)), "PNG"), "either")
        put(folder / "cmyk.jpg", encode(crop(k + 2).convert("CMYK"), "JPEG", quality=90), "either")
        put(folder / "rgb16.png", rgb16_png(nrng.integers(0, 65536, (48, 48, 3))), "good")
        put(folder / "grey16.png", encode(Image.fromarray(nrng.integers(0, 65536, (48, 48)).astype(np.uint16)), "PNG"),
            "good")
        put(folder / "palette.png", encode(crop(k + 3).convert("P", palette=Image.ADAPTIVE), "PNG"), "good")
        put(folder / "grey.png", encode(crop(k + 4).convert("L"), "PNG"), "good")
        put(folder / "grey.jpg", encode(crop(k + 4).convert("L"), "JPEG"), "good")
        put(folder / "alpha.png", encode(crop(k + 5).convert("RGBA"), "PNG"), "good")
        put(folder / "grey-alpha.png", encode(crop(k + 5).convert("LA"), "PNG"), "good")
        put(folder / "lossy.webp", encode(crop(k + 6), "WEBP", quality=80), "good")
        put(folder / "png-named.jpg", encode(crop(k + 7), "PNG"), "good")  # wrong extension
        put(folder / "no-extension", encode(crop(k + 8), "PNG"), "good")
        put(folder / "jpeg-named.txt", encode(crop(k + 9), "JPEG"), "good")  # found by signature
        put(folder / os.fsdecode(b"non-utf8-\xe9\xff.png"), encode(crop(k + 10), "PNG"), "either")
        (folder / "x.png").mkdir()
        expect.append((str(folder / "x.png"), "bad"))
        os.symlink("loop.png", folder / "loop.png")
        expect.append((str(folder / "loop.png"), "bad"))
        os.symlink(".", folder / "cycle")  # a folder cycle: walked once

    batch = args.out / "batch"
    for i in range(4):
        put(batch / f"good-{i}.png", encode(crop(i), "PNG"), "good")
        put(batch / f"good-{i}.jpg", encode(crop(i + 20), "JPEG", quality=92), "good")
    hostile(batch, 30)
    for m, name in enumerate(["model-a", "model-b", "model-c"]):
        folder = args.out / "models" / name
        for i in range(5):
            put(folder / f"good-{i}.png", encode(crop(10 * m + i), "PNG"), "good")
        hostile(folder, 40 + 10 * m)

    files = args.out / "files"
    files.mkdir(parents=True)
    extractor = (Path(__file__).resolve().parents[2] / "models" / "extractor.safetensors").read_bytes()
    (files / "random.safetensors").write_bytes(bytes(rng.getrandbits(8) for _ in range(65536)))
    (files / "truncated.safetensors").write_bytes(extractor[: len(extractor) // 3])
    (files / "header-only.safetensors").write_bytes(extractor[:4096])
    for k in range(6):  # a plausible header length, then random bytes (the reader must bound-check both)
        n = rng.randrange(2, 600)
        (files / f"random-header-{k}.safetensors").write_bytes(
            struct.pack("<Q", n) + bytes(rng.getrandbits(8) for _ in range(n + 256)))
    (files / "length-overflow.safetensors").write_bytes(b"\xff" * 8 + b"{}")
    for name, header in [
        ("offsets-overflow", '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}'),
        ("shape-overflow", '{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}}'),
        ("negative-shape", '{"w":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,8]}}'),
        ("offsets-reversed", '{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}'),
        ("not-an-extractor", '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'),
    ]:
        h = (header[:-1] + ',"__metadata__":{"format_version":"1"}}').encode()
        (files / f"{name}.safetensors").write_bytes(struct.pack("<Q", len(h)) + h + b"\x00" * 8)
    # The shipped extractor with one metadata value damaged: the loader must refuse it, not trap.
    n = struct.unpack("<Q", extractor[:8])[0]
    header = json.loads(extractor[8:8 + n])
    for key, value in [("width", "0"), ("width", "-5"), ("width", "999999999999"), ("projection", "x"),
                       ("classes", "[]"), ("input", '{"size":0}'), ("architecture", "resnet7")]:
        h = json.loads(json.dumps(header))
        h["__metadata__"][key] = value
        encoded = json.dumps(h).encode()
        tag = "".join(ch for ch in value if ch.isalnum() or ch == "-")[:8] or "empty"
        name = f"meta-{key}-{tag}.safetensors"
        (files / name).write_bytes(struct.pack("<Q", len(encoded)) + encoded + extractor[8 + n:])
    (files / "random.sqlite").write_bytes(bytes(rng.getrandbits(8) for _ in range(65536)))
    (files / "empty.sqlite").write_bytes(b"")
    for name, manifest in [("random-manifest", bytes(rng.getrandbits(8) for _ in range(2048))),
                           ("empty-manifest", b""), ("truncated-manifest", b'{"config": {"steps": 15')]:
        (files / name).mkdir()
        (files / name / "manifest.json").write_bytes(manifest)
    # A well-formed manifest of an empty pool whose tile cache is random bytes.
    (files / "random-tiles").mkdir()
    (files / "random-tiles" / "manifest.json").write_text(
        '{"formatVersion":1,"models":[],"config":{"steps":150,"batch":8,"size":64,"learningRate":0.001,'
        '"residualTarget":0.002,"seeds":1,"tiles":6000,"tileSeed":0}}')
    (files / "random-tiles" / "tiles-64.bin").write_bytes(bytes(rng.getrandbits(8) for _ in range(5000)))

    with open(args.out / "expect.tsv", "wb") as f:
        for path, kind in expect:
            f.write(os.fsencode(path) + b"\t" + kind.encode() + b"\n")
    counts = {k: sum(1 for _, v in expect if v == k) for k in ("good", "bad", "either")}
    print(f"wrote {len(expect)} images to {args.out} ({counts['good']} good, {counts['bad']} bad, "
          f"{counts['either']} either) and {len(os.listdir(files))} hostile extractor/pool/gallery files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
