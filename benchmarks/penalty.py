"""Speed of the Lp penalties: one SGD epoch with p = 2, 1 and ½ against the plain lecture step.

[784,30,10] float32, K = 10, 50,000 rows of MNIST-shaped data, one BLAS thread; the SGD steps of an
epoch only (monitoring excluded).  Every tree given (``--tree PATH``: a checkout, e.g. a temporary
``git worktree`` of an earlier revision; default: this one) is measured in its own subprocess, the trees
interleaved over ``--rounds`` rounds and the best time of each kept, so a slow spell of the machine hits
every column alike.  Prints a Markdown table: seconds per epoch and the ratio to the plain step of the
same tree.

    python benchmarks/penalty.py
    git worktree add /tmp/base HEAD~1 && python benchmarks/penalty.py --tree . --tree /tmp/base
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = 1.5  # the speed issue: an epoch with p = 1 or p = ½ at most 1.5× a plain one
CASES = [
    ("plain", {"p": 2, "lambda": 0}),
    ("p = 2", {"p": 2, "lambda": 1e-4}),
    ("p = 1", {"p": 1, "lambda": 1e-4}),
    ("p = ½", {"p": 0.5, "lambda": 1e-4}),
]

MEASURE = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
from mlpsweep.nn import Network
from mlpsweep.nn.network import one_hot
try:  # this tree: the step of nn/step.py, whose update rule owns eta
    from mlpsweep.nn.step import Steps
    EPOCH = 1
except ImportError:  # an earlier revision: eta folded into backpropagation
    from mlpsweep.nn.sgd import _Steps as Steps
    EPOCH = [3.0]
from mlpsweep.settings import resolve

rng = np.random.default_rng(0)
x = rng.random((50000, 784), dtype=np.float32)
t = one_hot(rng.integers(0, 10, 50000), 10, np.float32)
out = {}
with threadpool_limits(1), np.errstate(divide="ignore", over="ignore", invalid="ignore"):
    for name, pen in json.loads(sys.argv[1]):
        st = resolve({"hidden": [30], "penalty": pen, "epochs": 1})
        net = Network([784, 30, 10], rng=np.random.default_rng(1), dtype="float32")
        steps = Steps([net], [st], [np.random.default_rng(2)], x, t, False)
        t0 = time.perf_counter()
        steps.epoch(EPOCH, np.array([True]))
        out[name] = time.perf_counter() - t0
        steps.release()
    # the p = 1/2 step's own parts over an epoch's steps: the threshold t = c/sqrt|w| (three passes over the
    # weights) and the shrinkage after the data step (four passes)
    from mlpsweep.nn.penalties import LpPenalty
    if hasattr(LpPenalty, "shrink"):
        pen = LpPenalty(0.5, 1e-4)
        w = Network([784, 30, 10], rng=np.random.default_rng(1), dtype="float32").params[: 784 * 30 + 30 * 10].copy()
        tb, scratch, eta = np.empty_like(w), np.empty_like(w), np.array(3.0, dtype=np.float32)
        parts = (("threshold", lambda: pen.threshold(w, eta, out=tb)), ("shrink", lambda: pen.shrink(w, tb, scratch)))
        for name, part in parts:
            t0 = time.perf_counter()
            for _ in range(50000 // 10):
                part()
            out[name] = time.perf_counter() - t0
print(json.dumps(out))
"""


def measure(tree: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, json.dumps(CASES)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, action="append", help="a checkout to measure (repeatable; default: this one)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    trees = [t.resolve() for t in (args.tree or [REPO])]
    best: dict = {t: {} for t in trees}
    for _ in range(args.rounds):
        for tree in trees:
            for name, s in measure(tree).items():
                best[tree][name] = min(s, best[tree].get(name, float("inf")))
    kernels = (
        "OpenBLAS's own choice"
        if "OPENBLAS_CORETYPE" not in os.environ
        else f"OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']}"
    )
    print(f"SGD epoch, [784,30,10] float32, K = 10, 50,000 rows, 1 BLAS thread ({kernels}); best of {args.rounds}\n")
    print("| tree | " + " | ".join(name for name, _ in CASES) + " |")
    print("|---|" + "---:|" * len(CASES))
    for tree in trees:
        b = best[tree]
        cells = [f"{b[n]:.3f} s" + ("" if n == "plain" else f" ({b[n] / b['plain']:.2f}×)") for n, _ in CASES]
        print(f"| {tree} | " + " | ".join(cells) + " |")
    b = best[trees[0]]
    print(f"\nTarget (the speed issue): p = 1 and p = ½ at most {TARGET}× the plain epoch, in {trees[0]}:")
    for name in ("p = 1", "p = ½"):
        ratio = b[name] / b["plain"]
        print(f"- {name}: {ratio:.2f}× — " + ("met" if ratio <= TARGET else "NOT met"))
    budget = (TARGET - 1) * b["plain"]
    print(
        f"- {TARGET}× leaves {budget:.3f} s per epoch for everything a penalty adds; the p = ½ step's passes over "
        f"the 23,820 weights, 5,000 steps, timed alone: the threshold (|w|, √, c/·) {b['threshold']:.3f} s, the "
        f"data step and shrinkage (five passes, which replace the plain step's one) {b['shrink']:.3f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
