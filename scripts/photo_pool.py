#!/usr/bin/env python3
"""Helper of scripts/build-photo-pool.sh: turns extracted Debian wallpaper packages into data/photos/.

Usage (normally called by build-photo-pool.sh, which downloads and extracts the packages):
  photo_pool.py --root PKG=DIR [--root PKG=DIR ...] --version PKG=VER [...] --out DIR --max-side N --budget-mb M

DIR is the tree that `dpkg-deb -x` produced for package PKG.  Only the files on the reviewed allow-list
below are used.  Needs Python 3 and Pillow (Debian: python3-pil, or `pip install pillow`).

Output: OUT/<package>/<name>.jpg (EXIF orientation applied, long side <= N with Lanczos, sRGB, 8-bit RGB,
JPEG quality 95, 4:4:4, optimized Huffman tables, no EXIF/ICC/comments), OUT/LICENSES.md, OUT/README.md.
The same inputs and the same Pillow build give the same bytes.
"""
import argparse
import fnmatch
import io
import json
import os
import shutil
import sys

from PIL import Image, ImageCms, ImageOps

# --------------------------------------------------------------------------------------------------------
# The reviewed allow-list.  Every candidate image of each package was looked at (contact sheets, and crops
# where in doubt); only photographs are listed.  Each entry: (output name, path inside the package,
# path that the package's debian/copyright `Files:` patterns are written against).
# Left out on purpose (drawings, renders, abstract graphics, logos, gradients, textures):
#   enlightenment-data: Dunes (flat drawing), Flat-Fan, Flat-Stone-Pattern, Paper-Flower (texture),
#     Squiggle* (vector), Sunset-Hills (flat drawing of hills under a gradient sky)
#   lomiri-wallpapers-16.04: umang (abstract colour gradient); analogpattern (close-up of a textured
#     surface under a colour wash: abstract, kept out like the reference set)
#   lomiri-wallpapers-20.04: Fossa, Infinite-Sea (composite/digital art), Painting-Colors
#   plasma-workspace-wallpapers: Altai, Autumn (painting), Canopee, Cascade, Cluster, Elarun, Flow,
#     FlyingKonqui, Honeywave, IceCold, Kay, Kokkini, MilkyWay, Opal, PastelHills, Patak, SafeLanding,
#     Shell, Volna (all drawings/renders)
#   mate-backgrounds: everything outside nature/ (abstract/ and desktop/ are graphics; Elephants is a
#     painting)
# --------------------------------------------------------------------------------------------------------
E_DIR = "usr/share/enlightenment/data/backgrounds"
E_NAMES = ["Bamboo", "Foggy-Trees", "God-Rays", "Green-Maple", "Lichen-Branches", "Mountain", "Peaks",
           "Red-Maple", "Sea-of-Lanterns", "Snow-Trees", "Spruce-Needles", "Sunset-Clouds", "White-Flower",
           "Yellow-Flower"]
L16_NAMES = ["Bridge_by_Sander_Klootwijk", "Dragonfly_by_Bolly", "Picture_0B_by_freespace",
             "Picture_1A_by_freespace", "Wine_by_Jakkub_Mede", "aitzgorri_by_Aitzol_Berasategi",
             "free_by_Peter_Nerlich", "friends_by_Aitzol_Berasategi", "greentock_by_Peter_Nerlich",
             "life_by_Aitzol_Berasategi", "picosdeeuropa_by_Aitzol_Berasategi",
             "seeding_by_Clements_Engelhardt", "sunset_by_Aitzol_Berasategi"]
L20_NAMES = ["Kleiber_by_Lukas_Baubkus"]
P_DIR = "usr/share/wallpapers"
P_NAMES = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
           "Kite", "OneStandsOut", "Path", "summer_1am"]  # each: contents/images/2560x1600.jpg
M_NAMES = ["Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops",
           "Storm", "TwoWings", "Wood", "YellowFlower"]

ALLOW = {
    "enlightenment-data": [(n, f"{E_DIR}/{n}.edj", f"data/backgrounds/{n}.edj") for n in E_NAMES],
    "lomiri-wallpapers-16.04": [(n, f"usr/share/backgrounds/{n}.jpg", f"16.04/{n}.jpg") for n in L16_NAMES],
    "lomiri-wallpapers-20.04": [(n, f"usr/share/backgrounds/{n}.jpg", f"20.04/{n}.jpg") for n in L20_NAMES],
    "plasma-workspace-wallpapers": [(n, f"{P_DIR}/{n}/contents/images/2560x1600.jpg",
                                     f"{n}/contents/images/2560x1600.jpg") for n in P_NAMES],
    "mate-backgrounds": [(n, f"usr/share/backgrounds/mate/nature/{n}.jpg", f"nature/{n}.jpg") for n in M_NAMES],
}
PACKAGES = list(ALLOW)


def log(*a):
    print(*a, flush=True)


# ---- .edj (Eet archive) -> largest embedded JPEG ----------------------------------------------------------
def jpeg_end(b, i):
    """b[i:] starts with SOI.  Walk the marker segments (and entropy-coded scans) to EOI; return the end
    offset (exclusive) or None when the bytes do not form a complete JPEG stream."""
    n = len(b)
    p = i + 2
    while p < n:
        if b[p] != 0xFF:
            return None
        while p < n and b[p] == 0xFF:
            p += 1
        if p >= n:
            return None
        m = b[p]
        p += 1
        if m == 0xD9:  # EOI
            return p
        if 0xD0 <= m <= 0xD7 or m == 0x01:  # RSTn, TEM: no length
            continue
        if p + 2 > n:
            return None
        seg = (b[p] << 8) | b[p + 1]
        if seg < 2:
            return None
        p += seg
        if m == 0xDA:  # SOS: skip entropy-coded data up to the next real marker
            while True:
                q = b.find(b"\xff", p)
                if q < 0 or q + 1 >= n:
                    return None
                c = b[q + 1]
                if c == 0x00 or 0xD0 <= c <= 0xD7:
                    p = q + 2
                elif c == 0xFF:
                    p = q + 1
                else:
                    p = q
                    break
    return None


def largest_jpeg_in(path):
    """Eet stores lossy images as plain JPEG streams (uncompressed entries), so scan for SOI markers,
    keep the streams that parse to EOI and decode with Pillow, return the largest (bytes, count)."""
    b = open(path, "rb").read()
    best = None
    count = 0
    i = 0
    while True:
        i = b.find(b"\xff\xd8\xff", i)
        if i < 0:
            break
        e = jpeg_end(b, i)
        if e is not None:
            try:
                with Image.open(io.BytesIO(b[i:e])) as im:
                    im.load()
                count += 1
                if best is None or e - i > best[1] - best[0]:
                    best = (i, e)
            except Exception:
                pass
        i += 1
    if best is None:
        raise SystemExit(f"error: no decodable JPEG stream in {path}")
    return b[best[0]:best[1]], count


# ---- image processing ---------------------------------------------------------------------------------
SRGB = ImageCms.createProfile("sRGB")


def to_pool_jpeg(data, max_side):
    with Image.open(io.BytesIO(data)) as src:
        src.load()
        fmt = src.format
        im = ImageOps.exif_transpose(src)  # apply EXIF orientation before EXIF is dropped
        icc = src.info.get("icc_profile")
    orig_size = im.size
    note = ""
    if icc:
        prof = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = ImageCms.getProfileDescription(prof).strip()
        if "srgb" not in desc.lower():
            im = ImageCms.profileToProfile(im.convert("RGB"), prof, SRGB, outputMode="RGB")
            note = f"converted from ICC '{desc}' to sRGB"
    if im.mode != "RGB":
        im = im.convert("RGB")
    w, h = im.size
    if max(w, h) > max_side:
        s = max_side / max(w, h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        im = im.resize((nw, nh), Image.Resampling.LANCZOS)
    im.info = {}  # drop EXIF, ICC, comments (Pillow would copy a COM marker over), dpi
    out = io.BytesIO()
    im.save(out, "JPEG", quality=95, subsampling=0, optimize=True, progressive=False)
    return out.getvalue(), fmt, orig_size, im.size, note


# ---- debian/copyright (DEP-5) ----------------------------------------------------------------------------
def parse_dep5(text):
    """Return the list of `Files:` stanzas as dicts {files: [...], copyright: [...], license: str}."""
    stanzas = []
    for para in text.replace("\r\n", "\n").split("\n\n"):
        fields = {}
        key = None
        for line in para.split("\n"):
            if not line.strip():
                continue
            if line[0] in " \t":
                if key:
                    fields[key].append(line.strip())
                continue
            if ":" in line:
                key, val = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = [val.strip()] if val.strip() else []
        if "files" in fields:
            files = " ".join(fields["files"]).split()
            stanzas.append({"files": files,
                            "copyright": [c for c in fields.get("copyright", []) if c],
                            "license": (fields.get("license") or ["?"])[0]})
    return stanzas


def license_for(stanzas, upstream_path):
    """DEP-5: the last stanza whose Files pattern matches wins ('*' also matches '/')."""
    hit = None
    for st in stanzas:
        if any(fnmatch.fnmatchcase(upstream_path, pat) for pat in st["files"]):
            hit = st
    return hit


def md(s):
    return s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", action="append", required=True, help="PKG=DIR (dpkg-deb -x tree)")
    ap.add_argument("--version", action="append", required=True, help="PKG=VERSION")
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-side", type=int, required=True)
    ap.add_argument("--budget-mb", type=float, required=True)
    a = ap.parse_args()
    roots = dict(r.split("=", 1) for r in a.root)
    versions = dict(v.split("=", 1) for v in a.version)
    for p in PACKAGES:
        if p not in roots or p not in versions:
            raise SystemExit(f"error: no --root/--version for {p}")

    os.makedirs(a.out, exist_ok=True)
    for p in PACKAGES:  # rebuild each package folder from scratch; nothing else in OUT is touched
        shutil.rmtree(os.path.join(a.out, p), ignore_errors=True)

    rows = []
    total = 0
    licenses_seen = {}
    for p in PACKAGES:
        root = roots[p]
        os.makedirs(os.path.join(a.out, p))
        cr_path = os.path.join(root, "usr/share/doc", p, "copyright")
        stanzas = parse_dep5(open(cr_path, encoding="utf-8").read())
        for name, inpkg, upstream in ALLOW[p]:
            src = os.path.join(root, inpkg)
            if not os.path.isfile(src):
                raise SystemExit(f"error: {p}: allow-listed file /{inpkg} is missing (package changed? review again)")
            extra = ""
            if inpkg.endswith(".edj"):
                data, n = largest_jpeg_in(src)
                extra = f"largest of {n} JPEG streams in the .edj"
            else:
                data = open(src, "rb").read()
            out_bytes, fmt, osz, nsz, note = to_pool_jpeg(data, a.max_side)
            rel = f"{p}/{name}.jpg"
            with open(os.path.join(a.out, rel), "wb") as f:
                f.write(out_bytes)
            total += len(out_bytes)
            st = license_for(stanzas, upstream)
            if st is None:
                raise SystemExit(f"error: {p}: no copyright stanza matches {upstream}")
            licenses_seen.setdefault(st["license"], 0)
            licenses_seen[st["license"]] += 1
            notes = [x for x in (extra, note) if x]
            if nsz == osz:
                notes.append("not downscaled (already within the max side), only re-encoded")
            holders = st["copyright"]
            if len(holders) > 3:  # e.g. enlightenment-data's `Files: *` also lists every translator
                holders = holders[:1] + [f"... and {len(holders) - 1} more holders listed in that stanza"]
            if p == "plasma-workspace-wallpapers":
                meta = os.path.join(root, P_DIR, name, "metadata.json")
                try:
                    kp = json.load(open(meta, encoding="utf-8"))["KPlugin"]
                    authors = ", ".join(x.get("Name", "?") for x in kp.get("Authors", []))
                    notes.append(f"metadata.json: author {authors}, License {kp.get('License', '?')}")
                except (OSError, KeyError, ValueError):
                    pass
            rows.append((rel, p, versions[p], "/" + inpkg, "; ".join(holders), st["license"],
                         "Files: " + " ".join(x for x in st["files"] if fnmatch.fnmatchcase(upstream, x)),
                         "; ".join(notes)))
            log(f"{rel:58s} {osz[0]}x{osz[1]} {fmt} -> {nsz[0]}x{nsz[1]}  {len(out_bytes)/2**20:5.2f} MiB  "
                f"[{st['license']}]" + (f"  ({'; '.join(notes)})" if notes else ""))

    counts = {p: sum(1 for r in rows if r[1] == p) for p in PACKAGES}
    mb = total / 2**20
    log("")
    for p in PACKAGES:
        log(f"{p:30s} {counts[p]:3d} photos  (version {versions[p]})")
    log(f"{'total':30s} {len(rows):3d} photos, {mb:.1f} MiB of JPEG data (max side {a.max_side}px)")
    log("licences: " + ", ".join(f"{k} x{v}" for k, v in sorted(licenses_seen.items())))

    with open(os.path.join(a.out, "LICENSES.md"), "w", encoding="utf-8") as f:
        f.write(
            "# Licences of the real-photo pool\n\n"
            "The photographs in this folder are free-licensed wallpapers taken from Debian 12 (bookworm) packages;\n"
            "ModelPrint uses them as the real photos that synthetic models reconstruct and fingerprint.  Only\n"
            "photographs are kept (a reviewed allow-list in `scripts/photo_pool.py`); drawings, renders, abstract\n"
            "graphics, logos and gradients are left out.  Each file was decoded, turned upright by its EXIF\n"
            f"orientation, converted to 8-bit sRGB RGB, downscaled with Lanczos so its long side is at most {a.max_side} px\n"
            "and saved as JPEG quality 95, 4:4:4, without metadata.  For `enlightenment-data` the photo is the\n"
            "largest JPEG stream embedded in the `.edj` (Eet) background file.\n\n"
            "Rebuild (downloads the .deb files with `apt-get download`, extracts them with `dpkg-deb -x`, installs\n"
            "nothing): `scripts/build-photo-pool.sh [--out data/photos] [--max-side N] [--budget-mb M]`.\n\n"
            "Copyright and licence below are quoted from `/usr/share/doc/<package>/copyright` of each .deb (the\n"
            "DEP-5 `Files:` stanza that matches the file; the last matching stanza wins).  The full licence texts\n"
            "are in those copyright files.  Notes:\n\n"
            "- `enlightenment-data` has no stanza of its own for the backgrounds; they fall under the package-wide\n"
            "  `Files: *` stanza (BSD-2-clause, Carsten Haitzler and various contributors).\n"
            "- `plasma-workspace-wallpapers`' copyright file has only `Files: *` (GPL-2+, KDE Visual Design\n"
            "  Group); each wallpaper's own `metadata.json` names the photographer and says `LGPLv3`.  Both are\n"
            "  listed.\n\n"
            f"{len(rows)} photos, {mb:.1f} MiB of JPEG data.  Licences (as named in the copyright files): "
            + ", ".join(f"{k} ({v} photos)" for k, v in sorted(licenses_seen.items())) + ".\n\n"
            "| file | package (version) | original path in the package | copyright (as stated) | licence | stanza | notes |\n"
            "|---|---|---|---|---|---|---|\n")
        for rel, p, ver, orig, cr, lic, stz, notes in rows:
            f.write(f"| `{rel}` | {p} ({ver}) | `{orig}` | {md(cr)} | {md(lic)} | {md(stz)} | {md(notes)} |\n")

    with open(os.path.join(a.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(
            "# data/photos: the real-photo pool\n\n"
            f"{len(rows)} free-licensed photographs (JPEG q95 4:4:4, long side <= {a.max_side} px, {mb:.1f} MiB in all) from\n"
            "Debian 12 wallpaper packages: " + ", ".join(f"{p} {counts[p]}" for p in PACKAGES) + ".\n"
            "Photographs only (reviewed allow-list); they are the real images the synthetic models are trained on.\n"
            "Rebuild with `scripts/build-photo-pool.sh` (apt-get download + dpkg-deb -x, nothing installed; needs\n"
            "python3 with Pillow); the same Pillow build gives the same bytes.  Licences and authors: `LICENSES.md`.\n")

    folder = sum(os.path.getsize(os.path.join(d, x)) for d, _, xs in os.walk(a.out) for x in xs) / 2**20
    log(f"folder {a.out}: {folder:.2f} MiB in all (budget {a.budget_mb:g} MiB)")
    if folder > a.budget_mb:
        raise SystemExit(f"error: {a.out} holds {folder:.2f} MiB, over the budget of {a.budget_mb:g} MiB; "
                         f"use a smaller --max-side")


if __name__ == "__main__":
    main()
