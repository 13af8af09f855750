"""safetensors written and read by hand (no safetensors package), shared by the fixture scripts.

Layout: little-endian u64 header length N, N bytes of JSON (space-padded to a multiple of 8) mapping each
tensor name to {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]} plus "__metadata__" (string
pairs), then the raw little-endian float32 data in sorted-name order.
"""
import json
import struct

import numpy as np


def as_f32(value):
    """A C-contiguous little-endian float32 array from a NumPy array or a torch tensor."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().float().numpy()
    return np.ascontiguousarray(np.asarray(value, dtype="<f4"))


def write_safetensors(path, tensors, metadata):
    """tensors: name -> array or tensor (stored as F32; scalars must have shape [1]). metadata: str -> str."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        a = as_f32(tensors[name])
        if a.ndim == 0:
            raise ValueError(f"{name}: store scalars with shape [1]")
        raw = a.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    js = json.dumps(header, separators=(",", ":"), sort_keys=False).encode("utf-8")
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """Independent re-read used to check what was written: returns (name -> np.ndarray, metadata)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, "header not padded to 8"
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    data = blob[8 + n:]
    out, expect = {}, 0
    for name in sorted(header):
        h = header[name]
        b, e = h["data_offsets"]
        assert h["dtype"] == "F32" and b == expect, f"{name}: bad dtype/offset"
        count = int(np.prod(h["shape"])) if h["shape"] else 1
        assert e - b == 4 * count, f"{name}: size mismatch"
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(h["shape"])
        expect = e
    assert expect == len(data), "trailing bytes after the last tensor"
    return out, meta
