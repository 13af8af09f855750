#!/usr/bin/env python3
"""Feeds the hostile corpus of make-corpus.py to modelprint's commands and checks how they fail.

    check.py CORPUS MODELPRINT [--extractor CKPT] [--work DIR]

Every case must end with exit status 0 or 1 (never a signal, which shows as 128 + N in a shell or a
negative code here). For the image batches, every good image must get its result, every bad one
exactly one line on standard error that names it, and files marked "either" may go either way. Prints
a table and exits 1 if any case broke a rule.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path


def load_expect(corpus: Path) -> dict[str, str]:
    out = {}
    for line in (corpus / "expect.tsv").read_bytes().splitlines():
        path, kind = line.rsplit(b"\t", 1)
        out[os.fsdecode(path)] = kind.decode()
    return out


class Checker:
    def __init__(self, binary: str, timeout: int):
        self.binary = binary
        self.timeout = timeout
        self.rows: list[tuple[str, str, str, str]] = []
        self.failed = False

    def run(self, args: list[str]) -> tuple[int, str, str]:
        try:
            p = subprocess.run([self.binary, *args], capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return 124, "", f"timed out after {self.timeout} s"
        return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")

    def record(self, name: str, code: int, detail: str, problems: list[str]) -> None:
        if code < 0:
            problems.insert(0, f"killed by {signal.Signals(-code).name}")
        elif code not in (0, 1):
            problems.insert(0, f"exit status {code}")
        status = "ok" if not problems else "FAIL"
        self.failed |= bool(problems)
        self.rows.append((name, str(code) if code >= 0 else signal.Signals(-code).name, detail, status))
        for p in problems[:8]:
            print(f"  {name}: {p}", file=sys.stderr)

    def batch(self, name: str, args: list[str], files: dict[str, str], good_in_stdout: bool,
              expect_results: int | None = None, result_count=None, allow_failure: bool = True,
              skipped_fails: bool = True) -> None:
        """A command over many images: checks exit status, per-file lines and results."""
        code, out, err = self.run(args)
        problems = []
        err_lines = err.splitlines()
        good = [p for p, k in files.items() if k == "good"]
        bad = [p for p, k in files.items() if k == "bad"]
        missing = [p for p in good if good_in_stdout and p not in out]
        named_bad = [p for p in good if any(p + ":" in line for line in err_lines)]
        if missing:
            problems.append(f"{len(missing)} good image(s) without a result, e.g. {missing[0]}")
        if named_bad:
            problems.append(f"{len(named_bad)} good image(s) reported as bad, e.g. {named_bad[0]}")
        unreported = []
        repeated = []
        for p in bad:
            n = sum(1 for line in err_lines if p + ":" in line)
            if n == 0:
                unreported.append(p)
            elif n > 1:
                repeated.append(p)
        if unreported:
            problems.append(f"{len(unreported)} bad file(s) not reported, e.g. {unreported[0]}")
        if repeated:
            problems.append(f"{len(repeated)} bad file(s) reported more than once, e.g. {repeated[0]}")
        if bad and code == 0 and skipped_fails:
            problems.append("exit status 0 although files were skipped")
        if not allow_failure and code != 0:
            problems.append(f"exit status {code}: {err.strip().splitlines()[-1] if err.strip() else ''}")
        results = ""
        if result_count is not None:
            n = result_count(out)
            results = f", {n} results"
            if n is None or (expect_results is not None and n < expect_results):
                problems.append(f"expected at least {expect_results} results, found {n}")
        self.record(name, code, f"{len(good)} good, {len(bad) - len(unreported)}/{len(bad)} bad reported{results}",
                    problems)

    def refuses(self, name: str, args: list[str], mention: str) -> None:
        """A command given a hostile file: must exit 1 with one line naming it."""
        code, out, err = self.run(args)
        problems = []
        if code == 0:
            problems.append("exit status 0 for a hostile file")
        if code == 1 and mention not in err:
            problems.append(f"the message does not name {mention}: {err.strip()[:200]!r}")
        first = err.strip().splitlines()[0][:90] if err.strip() else ""
        self.record(name, code, first, problems)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("modelprint")
    ap.add_argument("--extractor", help="extractor checkpoint (default: the shipped one)")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    corpus = args.corpus.resolve()
    expect = load_expect(corpus)
    c = Checker(args.modelprint, args.timeout)
    ex = ["--extractor", args.extractor] if args.extractor else []
    batch_dir = str(corpus / "batch")
    batch = {p: k for p, k in expect.items() if p.startswith(batch_dir + "/")}
    models = {p: k for p, k in expect.items() if p.startswith(str(corpus / "models") + "/")}
    goods = sorted(p for p, k in batch.items() if k == "good")
    work = Path(tempfile.mkdtemp(prefix="hostile-"))
    gallery = str(work / "g.sqlite")

    def count(pattern):
        return lambda out: (lambda m: int(m.group(1)) if m else None)(re.search(pattern, out))

    c.batch("embed", ["embed", batch_dir, *ex], batch, good_in_stdout=True)
    c.batch("gallery enroll", ["gallery", "enroll", "--gallery", gallery, "--model", "m", batch_dir, *ex], batch,
            good_in_stdout=False, expect_results=len([k for k in batch.values() if k == "good"]),
            result_count=count(r"enrolled (\d+) images"))
    for m in ["model-a", "model-b"]:
        folder = str(corpus / "models" / m)
        c.batch(f"gallery enroll {m}", ["gallery", "enroll", "--gallery", gallery, "--model", m, folder, *ex],
                {p: k for p, k in models.items() if p.startswith(folder + "/")}, good_in_stdout=False)
    c.batch("identify", ["identify", "--gallery", gallery, batch_dir, *ex], batch, good_in_stdout=True)
    c.batch("spectrum", ["spectrum", str(corpus / "models"), "-o", str(work / "spectra"), "--size", "64"], models,
            good_in_stdout=False, expect_results=3, result_count=count(r"wrote (\d+) spectra"))
    c.batch("evaluate", ["evaluate", str(corpus / "models"), "--nshot", "2", "--pairs", "200", *ex], models,
            good_in_stdout=False, expect_results=sum(1 for k in models.values() if k == "good"),
            result_count=count(r"(\d+) images\n"))
    for method in ["marra", "spectrum"]:
        c.batch(f"evaluate --method {method}", ["evaluate", str(corpus / "models"), "--nshot", "2", "--pairs", "200",
                                                "--method", method], models, good_in_stdout=False)
    c.batch("train-denoiser", ["train-denoiser", "--images", batch_dir, "-o", str(work / "d.safetensors"), "--depth",
                               "3", "--width", "4", "--steps", "2", "--batch", "2", "--tile", "16"], batch,
            good_in_stdout=False, skipped_fails=False, allow_failure=False)
    pool = str(work / "pool")
    c.batch("synthesize", ["synthesize", "--images", batch_dir, "--out", pool, "--archs", "000000,110011",
                           "--steps", "2", "--batch", "2", "--size", "16", "--tiles", "32", "--workers", "1"],
            batch, good_in_stdout=False, skipped_fails=False, allow_failure=False)
    c.batch("generate", ["generate", "--pool", pool, "--images", batch_dir, "--out", str(work / "generated"),
                         "--per-model", "100", "--size", "16"], batch, good_in_stdout=False)
    c.batch("calibrate --folder", ["calibrate", "--gallery", gallery, "--folder", str(corpus / "models"), "--pairs",
                                   "200", *ex], models, good_in_stdout=False)
    c.batch("whiten", ["whiten", str(corpus / "models"), "--out", str(work / "whitened.safetensors"), "--per-model",
                       "100", *ex], models, good_in_stdout=False)
    c.batch("verify good good", ["verify", goods[0], goods[1], *ex], {}, good_in_stdout=False, allow_failure=False)
    for p, k in sorted(batch.items()):
        if k == "bad":
            c.refuses(f"verify {Path(p).name}", ["verify", goods[0], p, *ex], p)
    files = corpus / "files"
    for f in sorted(p.name for p in files.glob("*.safetensors")):
        c.refuses(f"embed --extractor {f}", ["embed", goods[0], "--extractor", str(files / f)], f)
        c.refuses(f"identify --extractor {f}", ["identify", "--gallery", gallery, goods[0], "--extractor",
                                                str(files / f)], f)
    for f in ["random.sqlite", "empty.sqlite"]:
        c.refuses(f"identify --gallery {f}", ["identify", "--gallery", str(files / f), goods[0], *ex], f)
        c.refuses(f"gallery list {f}", ["gallery", "list", "--gallery", str(files / f)], f)
        c.refuses(f"verify --gallery {f}", ["verify", goods[0], goods[1], "--gallery", str(files / f), *ex], f)
    for d in ["random-manifest", "empty-manifest", "truncated-manifest", "random-tiles"]:
        if d != "random-tiles":
            c.refuses(f"pool verify {d}", ["pool", "verify", str(files / d)], d)
        c.refuses(f"train --pool {d}", ["train", "--pool", str(files / d), "-o", str(work / "x.safetensors")], d)

    width = max(len(r[0]) for r in c.rows)
    print(f"{'case':<{width}}  exit  verdict  detail")
    for name, code, detail, status in c.rows:
        print(f"{name:<{width}}  {code:>4}  {status:<7}  {detail}")
    bad = sum(1 for r in c.rows if r[3] != "ok")
    print(f"\n{len(c.rows)} cases, {bad} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
