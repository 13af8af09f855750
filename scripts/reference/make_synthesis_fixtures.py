#!/usr/bin/env python3
"""Write the synthetic-architecture fixture: parameter counts and parameter names of every architecture.

Pinned and deterministic: torch==2.13.0+cpu (see requirements.txt). Run from anywhere:

    python3 scripts/reference/make_synthesis_fixtures.py   # writes Tests/Fixtures/reference/synthetic_architectures.json

The models come from ../shared/reference/torch_workloads.py (relative to the repository root): for each of
the 288 ids, the number of trainable parameters, the state-dict tensor names with shapes (parameters and
buffers), and the output shape for a 1×3×16×16 input.
"""
import itertools
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "..", "shared", "reference"))
from torch_workloads import synthetic_model  # noqa: E402


def main():
    torch.manual_seed(0)
    out = {"torch": torch.__version__.split("+")[0], "script": "scripts/reference/make_synthesis_fixtures.py",
           "architectures": {}}
    for t in itertools.product(range(2), range(2), range(2), range(3), range(4), range(3)):
        arch = "".join(map(str, t))
        m = synthetic_model(arch).eval()
        with torch.no_grad():
            y = m(torch.zeros(1, 3, 16, 16))
        out["architectures"][arch] = {
            "parameters": sum(p.numel() for p in m.parameters()),
            "state": {k: list(v.shape) for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")},
            "output": list(y.shape),
        }
    path = os.path.join(ROOT, "Tests", "Fixtures", "reference", "synthetic_architectures.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", path, len(out["architectures"]), "architectures")


if __name__ == "__main__":
    main()
