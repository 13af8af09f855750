#!/usr/bin/env python3
"""Run one accuracy experiment end to end: pool -> extractor -> score -> scoreboard row.

    scripts/experiment.sh experiments/NAME.json

The config file (committed under experiments/) names the experiment and gives the flags of each stage:

    {"name": "proxy-baseline",
     "summary": "what the row's config column says",
     "synthesize": {"size": 32, "steps": 50, "archs": "all"},   (or a list of such objects: see 1.)
     "train": {"steps": 600, "width": 16, "P": 32, "K": 4},
     "whiten": {"size": 32, "steps": 50, "image-size": 64, "per-model": 12}}

Each key becomes `--key value` of `modelprint synthesize` / `modelprint train` (true becomes a bare flag),
so every option those commands document can be set; the driver owns --out, --pool, --resume and
--workers. Stages, all under runs/NAME/ (ignored by git):

  1. pool       `modelprint synthesize --out runs/NAME/pool ...`; a re-run skips finished models. With
                "pool": "runs/_shared/X" the pool is that folder, shared by every experiment naming it;
                the pool cost cell then counts only this experiment's own synthesis time. A list of
                flag objects runs one synthesize per object into the same pool (stages pool, pool-2,
                ...): a pool mixing the paper's space with a sample of the extended one.
  1b. ffd      `modelprint ffd --real ../shared/eval/dev-real --synthetic POOL --per-model 12 --size 64`: how
                far the pool's residual spectra lie from dev-real's generators (measurement only).
  2. extractor  `modelprint train --pool runs/NAME/pool --out runs/NAME/extractor.safetensors --resume ...`
  3. score      `../shared/tools/score.sh` on the extractor (dev, dev-real, JPEG q75, spectrum baseline).
  4. row        the experiment's row in docs/accuracy.md is added, or replaced when it exists.

With "whiten" (optional), three more stages fit and score the embedding whitening (`modelprint whiten`) on
models the extractor never saw: seed 1 of every architecture, from a whitening pool shared by every
experiment of the same whitening settings (runs/_shared/whiten-SIZE-STEPS/: `synthesize --seeds 2`, then
`generate --no-inputs` of the seed-1 models only), and add a second row, NAME+wccn, scored the same way.
Its cost cell adds the fit (the shared pool's one-off cost is in that folder's state.json).

runs/NAME/state.json records each finished stage with its resolved command and wall time, so a re-run
resumes at the first unfinished stage; a stage whose resolved command changed since it finished is an
error (use a new name, or delete runs/NAME/). Wall time of a stage is the sum over its attempts, an
interrupted attempt included; the 1-minute load average at its start and end is kept beside it
(runs/NAME/summary.json), since a busy machine makes the same stage slower. The measurement sets under
../shared/eval are never given to training: a config whose flags point there, or use --eval /
--fine-tune, is refused. Progress goes to stderr. Standard library only.
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCORE = os.path.normpath(os.path.join(ROOT, "..", "shared", "tools", "score.sh"))
EVAL_SETS = os.path.realpath(os.path.join(ROOT, "..", "shared", "eval"))
SCOREBOARD = os.path.join(ROOT, "docs", "accuracy.md")
DEV_REAL = os.path.join(EVAL_SETS, "dev-real")
OWNED = {"out", "o", "pool", "resume", "workers"}
FORBIDDEN_TRAIN = {"eval", "fine-tune"}
HEADER_PREFIX = "| # | experiment |"
WHITEN_KEYS = {"size", "steps", "image-size", "per-model"}
WHITEN_DEFAULTS = {"size": 32, "steps": 50, "image-size": 64, "per-model": 12}


class ExperimentError(Exception):
    """A config or state problem the user has to fix; printed without a traceback."""


def log(message):
    print(f"[experiment {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def flags(stage, options):
    """The command-line flags of one stage's options, refusing what the driver owns or forbids."""
    if not isinstance(options, dict):
        raise ExperimentError(f"'{stage}' must be a JSON object of flag names and values")
    out = []
    for key, value in options.items():
        if key in OWNED:
            raise ExperimentError(f"'{stage}.{key}' is set by the driver; remove it from the config")
        if stage == "train" and key in FORBIDDEN_TRAIN:
            raise ExperimentError(
                f"'train.{key}' is not allowed: the extractor trains on its own pool only "
                f"(../shared/eval is for measurement, scored by score.sh after training)")
        if isinstance(value, str) and os.path.sep in value:
            path = os.path.realpath(os.path.join(ROOT, value))
            if os.path.commonpath([path, EVAL_SETS]) == EVAL_SETS:
                raise ExperimentError(f"'{stage}.{key}' points into {EVAL_SETS}, which is for measurement only")
        if value is True:
            out.append(f"--{key}")
        elif value is False or value is None:
            continue
        elif isinstance(value, (int, float, str)):
            out += [f"--{key}", str(value)]
        else:
            raise ExperimentError(f"'{stage}.{key}' must be a number, string or boolean, got {value!r}")
    return out


def load_config(path):
    try:
        with open(path) as f:
            config = json.load(f)
    except OSError as e:
        raise ExperimentError(f"cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        raise ExperimentError(f"{path} is not valid JSON: {e}")
    if not isinstance(config, dict):
        raise ExperimentError(f"{path}: the config must be a JSON object")
    name = config.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ExperimentError(f"{path}: 'name' must be letters, digits, '.', '_' or '-', got {name!r}")
    if not isinstance(config.get("summary"), str) or "|" in config["summary"]:
        raise ExperimentError(f"{path}: 'summary' must be a string without '|' (it is a table cell)")
    unknown = set(config) - {"name", "summary", "synthesize", "train", "whiten", "pool", "notes"}
    if unknown:
        raise ExperimentError(f"{path}: unknown keys {sorted(unknown)}; allowed: name, summary, synthesize, "
                              "train, whiten, pool, notes")
    pool = config.get("pool")
    if pool is not None and (not isinstance(pool, str) or not pool.startswith("runs/_shared/")
                             or ".." in pool.split("/")):
        raise ExperimentError(f"{path}: 'pool' must be a folder under runs/_shared/, got {pool!r}")
    w = config.get("whiten")
    if w is not None:
        if not isinstance(w, dict) or set(w) - WHITEN_KEYS or not all(
                isinstance(v, int) and v > 0 for v in w.values()):
            raise ExperimentError(f"{path}: 'whiten' must be an object of positive whole numbers with keys "
                                  f"from {sorted(WHITEN_KEYS)}")
    return config


def binary():
    path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    exe = os.path.join(path, "modelprint")
    if not os.access(exe, os.X_OK):
        raise ExperimentError(f"{exe} is missing; run `swift build -c release --product modelprint` first")
    return exe


class State:
    """runs/NAME/state.json: the resolved command and accumulated wall time of each stage."""

    def __init__(self, path):
        self.path = path
        self.data = {"stages": {}}
        if os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)

    def stage(self, name):
        return self.data["stages"].setdefault(name, {"seconds": 0.0, "done": False})

    def save(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)


def check_finished(state, commands):
    """Refuses, before anything runs or is written, a finished stage whose command has changed since."""
    for name, command in commands.items():
        entry = state.data["stages"].get(name)
        if entry and entry["done"] and entry["command"] != command:
            raise ExperimentError(
                f"stage '{name}' finished earlier with another command:\n  {shlex.join(entry['command'])}\n"
                f"now:\n  {shlex.join(command)}\nuse a new experiment name, or delete its runs/ folder")


def run_stage(state, name, command, env=None):
    """Runs one stage unless it finished with the same command; returns its stdout (None when skipped)."""
    entry = state.stage(name)
    if entry["done"]:
        log(f"{name}: already done ({entry['seconds'] / 60:.1f} min), skipped")
        return None
    if entry.get("command") not in (None, command):
        log(f"{name}: the command changed since an unfinished attempt; its partial time is discarded")
        entry["seconds"] = 0.0
    entry["command"] = command
    state.save()
    log(f"{name}: {shlex.join(command)}")
    start = time.monotonic()
    # Wall times are only comparable on an otherwise idle machine; the load says whether it was.
    entry["load_at_start"] = os.getloadavg()[0]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        stdout, _ = child.communicate()
    except BaseException:
        # Let the stage stop its own workers before the driver goes.
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
        raise
    finally:
        entry["seconds"] += time.monotonic() - start
        entry["load_at_end"] = os.getloadavg()[0]
        state.save()
    if child.returncode != 0:
        raise ExperimentError(f"stage '{name}' failed with exit status {child.returncode}; re-run to resume")
    entry["done"] = True
    state.save()
    log(f"{name}: done in {entry['seconds'] / 60:.1f} min")
    return stdout


def scores(folder, results_path):
    def get(file):
        with open(os.path.join(folder, file)) as f:
            d = json.load(f)
        return d["identification"]["accuracy"], d["verification"]["auc"]

    dev, real, jpeg, spectrum = (get(f) for f in
                                 ("dev.json", "dev-real.json", "dev-real-jpeg75.json", "dev-real-spectrum.json"))
    with open(results_path) as f:
        heldout = json.load(f)["zeroshot_heldout_archs"]["acc_1n"]
    return {"dev_1n": dev[0], "dev_auc": dev[1], "dev_real_1n": real[0], "dev_real_auc": real[1],
            "dev_real_jpeg75_1n": jpeg[0], "dev_real_minus_spectrum": real[0] - spectrum[0],
            "spectrum_1n": spectrum[0], "heldout_synthetic_1n": heldout}


def ffd_value(run_dir):
    try:
        with open(os.path.join(ROOT, run_dir, "ffd.json")) as f:
            return json.load(f)["result"]["ffd"]["all"]
    except (OSError, KeyError, ValueError):
        return None


def row_cells(config, state, s, whitened=False, ffd=None):
    pool_seconds = sum(v["seconds"] for k, v in state.data["stages"].items() if re.fullmatch(r"pool(-\d+)?", k))
    cost = f"{pool_seconds / 60:.1f} min + {state.stage('extractor')['seconds'] / 60:.1f} min"
    name, summary = config["name"], config["summary"]
    if whitened:
        cost += f" + {state.stage('whiten')['seconds'] / 60:.1f} min"
        name += "+wccn"
        w = dict(WHITEN_DEFAULTS, **config["whiten"])
        summary += (f"; **+ WCCN whitening** fitted on seed 1 of the 288 architectures ({w['size']} px, "
                    f"{w['steps']} synthesis steps, {w['per-model']} images of {w['image-size']} px each)")
    return [name, summary, cost, f"{s['dev_1n']:.3f}", f"{s['dev_auc']:.3f}",
            f"{s['dev_real_1n']:.3f}", f"{s['dev_real_auc']:.3f}", f"{s['dev_real_jpeg75_1n']:.3f}",
            f"{s['dev_real_minus_spectrum']:+.3f}".replace("-", "−"), f"{s['heldout_synthetic_1n']:.3f}",
            "n/m" if ffd is None else f"{ffd:.1f}"]


def update_scoreboard(cells):
    """Replaces the row whose experiment cell is cells[0], or appends one after the table's last row."""
    with open(SCOREBOARD) as f:
        lines = f.read().split("\n")
    try:
        header = next(i for i, line in enumerate(lines) if line.startswith(HEADER_PREFIX))
    except StopIteration:
        raise ExperimentError(f"{SCOREBOARD} has no table starting with '{HEADER_PREFIX}'")
    end = header + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    rows = lines[header + 2:end]
    names = [r.split("|")[2].strip() for r in rows]
    if cells[0] in names:
        i = names.index(cells[0])
        number = rows[i].split("|")[1].strip()
        lines[header + 2 + i] = "| " + " | ".join([number] + cells) + " |"
    else:
        numbers = [int(r.split("|")[1]) for r in rows if r.split("|")[1].strip().isdigit()]
        lines.insert(end, "| " + " | ".join([str(max(numbers, default=0) + 1)] + cells) + " |")
    tmp = SCOREBOARD + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, SCOREBOARD)


def interrupt(signum, frame):
    raise KeyboardInterrupt()


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        raise ExperimentError("usage: scripts/experiment.sh experiments/NAME.json")
    config = load_config(argv[0])
    name = config["name"]
    run_dir = os.path.join("runs", name)
    os.makedirs(os.path.join(ROOT, run_dir), exist_ok=True)
    exe = binary()
    # A shared pool (several experiments on one pool) is resumed by synthesize like any other: a second
    # experiment's pool stage finds every model done and takes seconds.
    pool = config.get("pool") or os.path.join(run_dir, "pool")
    ckpt = os.path.join(run_dir, "extractor.safetensors")
    # "synthesize" may list several flag sets: each runs into the same pool (one pool of several spaces,
    # e.g. the paper's architectures and a sample of the extended ones), as stages pool, pool-2, ...
    parts = config.get("synthesize", {})
    parts = parts if isinstance(parts, list) else [parts]
    synths = [[exe, "synthesize", "--out", pool] + flags("synthesize", p) for p in parts]
    pool_stages = ["pool"] + [f"pool-{i + 2}" for i in range(len(synths) - 1)]
    train = [exe, "train", "--pool", pool, "--out", ckpt, "--resume"] + flags("train", config.get("train", {}))
    ffd = [exe, "ffd", "--real", DEV_REAL, "--synthetic", pool, "--per-model", "12", "--size", "64", "--out",
           os.path.join(run_dir, "ffd.json")]
    commands = dict(zip(pool_stages, synths), ffd=ffd, extractor=train, score=[SCORE, ckpt, name])
    state = State(os.path.join(ROOT, run_dir, "state.json"))
    check_finished(state, commands)
    with open(os.path.join(ROOT, run_dir, "config.resolved.json"), "w") as f:
        json.dump(dict(config, commands=commands), f, indent=2, sort_keys=True)

    # A SIGTERM ends the stage's child and still records the attempt's time.
    signal.signal(signal.SIGTERM, interrupt)
    score_dir = os.path.join(ROOT, run_dir, "score")
    for stage, synth in zip(pool_stages, synths):
        run_stage(state, stage, synth)
    run_stage(state, "ffd", ffd)
    run_stage(state, "extractor", train)
    run_stage(state, "score", commands["score"], env=dict(os.environ, SCORE_OUT=score_dir))
    s = scores(score_dir, os.path.join(ROOT, run_dir, "extractor.results.json"))
    stages = state.data["stages"].items()
    summary = dict(s, seconds={k: v["seconds"] for k, v in stages},
                   load={k: [v.get("load_at_start"), v.get("load_at_end")] for k, v in stages})
    with open(os.path.join(ROOT, run_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
    cells = row_cells(config, state, s, ffd=ffd_value(run_dir))
    update_scoreboard(cells)
    log(f"row written to docs/accuracy.md: | {' | '.join(cells)} |")
    if "whiten" in config:
        whiten(config, exe, run_dir, ckpt, state)


def whiten(config, exe, run_dir, ckpt, state):
    """The whitening stages: the shared seed-1 pool and its images, the fit, its score and row."""
    w = dict(WHITEN_DEFAULTS, **config["whiten"])
    shared = os.path.join("runs", "_shared", f"whiten-{w['size']}-{w['steps']}")
    os.makedirs(os.path.join(ROOT, shared), exist_ok=True)
    shared_state = State(os.path.join(ROOT, shared, "state.json"))
    pool = os.path.join(shared, "pool")
    images = os.path.join(shared, f"images-{w['image-size']}-{w['per-model']}")
    synth = [exe, "synthesize", "--out", pool, "--seeds", "2", "--size", str(w["size"]), "--steps",
             str(w["steps"])]
    run_stage(shared_state, "pool", synth)
    generate = [exe, "generate", "--pool", pool, "--out", images, "--no-inputs", "--models", "seed-1",
                "--per-model", str(w["per-model"]), "--size", str(w["image-size"])]
    run_stage(shared_state, f"images-{w['image-size']}-{w['per-model']}", generate)
    whitened = os.path.join(run_dir, "extractor-wccn.safetensors")
    fit = [exe, "whiten", images, "--extractor", ckpt, "--out", whitened, "--per-model", str(w["per-model"])]
    score = [SCORE, whitened, config["name"] + "+wccn"]
    check_finished(state, {"whiten": fit, "score-wccn": score})
    run_stage(state, "whiten", fit)
    score_dir = os.path.join(ROOT, run_dir, "score-wccn")
    run_stage(state, "score-wccn", score, env=dict(os.environ, SCORE_OUT=score_dir))
    s = scores(score_dir, os.path.join(ROOT, run_dir, "extractor.results.json"))
    with open(os.path.join(ROOT, run_dir, "summary-wccn.json"), "w") as f:
        json.dump(s, f, indent=2, sort_keys=True)
    cells = row_cells(config, state, s, whitened=True, ffd=ffd_value(run_dir))
    update_scoreboard(cells)
    log(f"row written to docs/accuracy.md: | {' | '.join(cells)} |")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ExperimentError as e:
        print(f"experiment: error: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("experiment: interrupted; re-run the same command to resume", file=sys.stderr)
        sys.exit(130)
