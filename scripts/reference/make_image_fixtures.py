"""Small image fixtures for the Imaging tests (decode correctness and the bad-input corpus).

Pinned: Pillow (see requirements.txt), NumPy. Deterministic: rerunning writes the same files.
Writes Tests/Fixtures/images/*.{png,jpg,webp} with their expected pixels in expected.safetensors
(F32 planar RGB in [0, 1], named after the file), and Tests/Fixtures/bad/*.
"""
import io
import os
import sys
import struct
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(REPO, "Tests", "Fixtures", "images")
BAD = os.path.join(REPO, "Tests", "Fixtures", "bad")





def planar(a):
    """HxWx3 uint8/uint16 -> 3xHxW float in [0, 1]."""
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    return (a.astype(np.float64) / scale).transpose(2, 0, 1).astype(np.float32)


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16(a):
    """A 16-bit RGB PNG written by hand (Pillow cannot write 16-bit RGB)."""
    h, w, _ = a.shape
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def box_weights(n, m):
    """m x n matrix of exact box-integration weights from n input samples to m outputs."""
    s, w = n / m, np.zeros((m, n))
    for o in range(m):
        lo, hi = o * s, (o + 1) * s
        for i in range(int(lo), n):
            if i >= hi:
                break
            w[o, i] = max(0.0, min(hi, i + 1) - max(lo, i)) / s
    return w


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0 ** 2
    return 10 * np.log10(1 / mse)


def exif_orientation(value):
    """A minimal little-endian EXIF block holding only the orientation tag."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHIHH", 0x0112, 3, 1, value, 0) + struct.pack("<I", 0)
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + ifd


def main():
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(BAD, exist_ok=True)
    rng = np.random.default_rng(0)
    h, w = 12, 16
    # A smooth image plus mild noise, so JPEG at a given quality has a predictable PSNR.
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / (w - 1), yy * 255 / (h - 1), (xx + yy) * 255 / (w + h - 2)], -1)
    rgb = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)
    expected = {}

    Image.fromarray(rgb).save(os.path.join(OUT, "rgb.png"))
    expected["rgb.png"] = planar(rgb)
    Image.fromarray(rgb).save(os.path.join(OUT, "rgb-lossless.webp"), lossless=True)
    expected["rgb-lossless.webp"] = planar(rgb)
    for q in (75, 95):
        Image.fromarray(rgb).save(os.path.join(OUT, f"rgb-q{q}.jpg"), quality=q, subsampling=0)
    expected["rgb-q75.jpg"] = planar(rgb)  # compared by PSNR, not exactly
    expected["rgb-q95.jpg"] = planar(rgb)
    for q in (75, 95):
        # The PSNR that Pillow's decoder (libjpeg) reaches on the same file.
        decoded = np.asarray(Image.open(os.path.join(OUT, f"rgb-q{q}.jpg")).convert("RGB"))
        expected[f"psnr.rgb-q{q}.jpg"] = np.array([psnr(decoded, rgb)], dtype=np.float32)

    gray = rgb[..., 1]
    Image.fromarray(gray, "L").save(os.path.join(OUT, "gray.png"))
    expected["gray.png"] = planar(np.repeat(gray[..., None], 3, -1))

    pal = Image.fromarray(rgb).quantize(colors=16, method=Image.Quantize.MEDIANCUT)
    pal.save(os.path.join(OUT, "palette.png"))
    expected["palette.png"] = planar(np.asarray(pal.convert("RGB")))

    alpha = (rng.uniform(0, 255, (h, w))).astype(np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(os.path.join(OUT, "rgba.png"))
    expected["rgba.png"] = planar(rgb)  # colour channels as stored; alpha is dropped

    rgb16 = (rng.uniform(0, 65535, (h, w, 3))).astype(np.uint16)
    open(os.path.join(OUT, "rgb16.png"), "wb").write(png16(rgb16))
    expected["rgb16.png"] = planar(rgb16)  # compared within 8-bit quantisation

    # EXIF orientations: the stored pixels are the upright image transformed so that a viewer applying
    # the tag shows `rgb` upright again.
    inverse = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270,
               2: Image.Transpose.FLIP_LEFT_RIGHT}
    for tag, op in inverse.items():
        stored = Image.fromarray(rgb).transpose(op)
        stored.save(os.path.join(OUT, f"exif-{tag}.jpg"), quality=95, subsampling=0, exif=exif_orientation(tag))
        expected[f"exif-{tag}.jpg"] = planar(rgb)

    # Resizing references: PyTorch's bilinear/bicubic (align_corners=False, no antialias) and exact
    # box integration (each output pixel averages the input area it covers, with fractional overlaps, as
    # OpenCV's INTER_AREA; PIL's BOX counts whole pixels by their centres instead).
    import torch
    import torch.nn.functional as F
    src = rng.uniform(0, 1, (3, 9, 13)).astype(np.float32)
    expected["resize.src"] = src
    for (oh, ow) in ((5, 7), (20, 17)):
        t = torch.from_numpy(src)[None]
        for mode in ("bilinear", "bicubic"):
            expected[f"resize.{mode}.{oh}x{ow}"] = F.interpolate(t, size=(oh, ow), mode=mode,
                                                                align_corners=False)[0].numpy()
        expected[f"resize.area.{oh}x{ow}"] = np.stack([box_weights(9, oh) @ c @ box_weights(13, ow).T for c in src])

    write_safetensors(os.path.join(OUT, "expected.safetensors"), expected,
                      {"script": "scripts/reference/make_image_fixtures.py", "layout": "planar RGB [3, H, W] in [0, 1]"})

    # The bad-input corpus.
    jpg = open(os.path.join(OUT, "rgb-q95.jpg"), "rb").read()
    png = open(os.path.join(OUT, "rgb.png"), "rb").read()
    open(os.path.join(BAD, "truncated.jpg"), "wb").write(jpg[: len(jpg) // 2])
    open(os.path.join(BAD, "truncated.png"), "wb").write(png[: len(png) // 2])
    open(os.path.join(BAD, "empty.jpg"), "wb").write(b"")
    huge = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))
    open(os.path.join(BAD, "huge-60000x60000.png"), "wb").write(huge)
    buf = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(buf, "JPEG", quality=90)
    open(os.path.join(BAD, "cmyk.jpg"), "wb").write(buf.getvalue())
    open(os.path.join(BAD, "text.png"), "w").write("this is a text file, not an image\n")
    os.makedirs(os.path.join(BAD, "directory.jpg"), exist_ok=True)
    open(os.path.join(BAD, "directory.jpg", "README"), "w").write("a directory whose name ends in .jpg\n")
    # One good file, so that a folder of bad files still has something to process.
    open(os.path.join(BAD, "good.png"), "wb").write(png)
    for d in (OUT, BAD):
        print(d, sorted(os.listdir(d)))


if __name__ == "__main__":
    main()
