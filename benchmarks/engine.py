"""Seconds of SGD per epoch, this tree against another revision and a plain NumPy loop, in interleaved rounds.

Each measurement is a fresh process that imports mlpsweep from one tree's ``src/``, makes MNIST-shaped data
(50,000 × 784 float32, 10 classes; not timed), trains [784,30,10] with one BLAS thread for ``--epochs`` epochs
without monitoring and reports the history's ``seconds`` (the SGD steps alone) of the fastest epoch.  The peer
for SGD on one run is the loop a NumPy user writes (``train_speed.plain_numpy_epoch``: fancy-indexed batches,
``@`` products), timed the same way.  Rounds alternate the trees, so a slow spell of the machine hits all; the
best round of each cell is kept.  The table says which OpenBLAS kernel ran (threadpoolctl); ``--json`` writes
the cells for the documentation.

    git worktree add /tmp/base <rev>
    python benchmarks/engine.py --baseline /tmp/base --rounds 5 --fashion --json speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
FASHION = "/usr/share/datasets/fashion-mnist/"

#: Both children's start: their imports, the arguments and the rows (not timed).
DATA = r"""
import json, sys, time
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
args = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
if args["data"]:  # Fashion-MNIST's first 50,000 training rows (Debian's dataset-fashion-mnist)
    from mlpsweep.data.idx import read_images, read_labels
    x = (read_images(args["data"] + "train-images-idx3-ubyte.gz").reshape(60000, 784)[:50000] / np.float32(255))
    x = x.astype(np.float32)
    y = read_labels(args["data"] + "train-labels-idx1-ubyte.gz")[:50000].astype(np.int64)
else:
    x = rng.random((50_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 50_000)
"""

CHILD = (
    DATA
    + r"""
from mlpsweep.nn import Network, train_stack
from mlpsweep.settings import resolve
settings = resolve({"batch_size": args["K"], "epochs": args["epochs"], **args["settings"]})
with threadpool_limits(1):
    def build(s):
        try:  # the arithmetic handed to the network (#39); older revisions read $MLPSWEEP_ARITHMETIC
            return Network.from_config([784, 30, 10], settings.to_dict(), rng=np.random.default_rng(s),
                                       arithmetic=args["mode"])
        except TypeError:
            return Network.from_config([784, 30, 10], settings.to_dict(), rng=np.random.default_rng(s))
    nets = [build(s) for s in range(args["S"])]
    hists = train_stack(nets, x, y, [settings] * args["S"], [np.random.default_rng(s) for s in range(args["S"])],
                        monitor_rows=1)
    kernel = [i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"]
print(json.dumps({"seconds": min(r["seconds"] for r in hists[0].records) * args["S"], "kernel": kernel}))
"""
)

PLAIN = (
    DATA
    + r"""
sys.path.insert(0, sys.argv[2])
from train_speed import plain_numpy_epoch
targets = np.eye(10, dtype=np.float32)[y]
init = np.random.default_rng(1)  # N(0, 1) weights and biases, as the lecture's
state = {"rng": np.random.default_rng(0),
         "params": [init.standard_normal(s).astype(np.float32) for s in ((30, 784), (30,), (10, 30), (10,))]}
with threadpool_limits(1):
    best = min(plain_numpy_epoch(x, targets, args["K"], state) for _ in range(args["epochs"]))
    kernel = [i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"]
print(json.dumps({"seconds": best, "kernel": kernel}))
"""
)

CASES = [("sgd", {}), ("momentum", {"momentum": 0.9}), ("adam", {"optimizer": {"name": "adam"}, "eta": 0.001})]


def measure(tree: Path, K: int, S: int, settings: dict, epochs: int, mode: str, data: str = "") -> dict | None:
    """One cell in a fresh process: ``mode`` an arithmetic, or ``plain`` for the NumPy loop (SGD, one run)."""
    if mode == "plain" and (S != 1 or settings):
        return None
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "MLPSWEEP_ARITHMETIC": "native" if mode == "plain" else mode}
    args = {"K": K, "S": S, "settings": settings, "epochs": epochs, "mode": mode, "data": data}
    code = [PLAIN, json.dumps(args), str(HERE / "benchmarks")] if mode == "plain" else [CHILD, json.dumps(args)]
    proc = subprocess.run(
        [sys.executable, "-c", *code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
    )
    if proc.returncode != 0:
        return None  # e.g. a setting the other revision does not know
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="another revision's checkout (a git worktree)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--stack", type=int, default=3, help="runs of the stacked column")
    ap.add_argument("--modes", default="exact,native", help="arithmetics, comma-separated")
    ap.add_argument("--optimizers", default=",".join(name for name, _ in CASES), help="comma-separated")
    ap.add_argument("--batch-sizes", default="10,128", help="comma-separated")
    ap.add_argument("--fashion", action="store_true", help="Fashion-MNIST's rows (dataset-fashion-mnist), not noise")
    ap.add_argument("--json", type=Path, help="also write the cells here")
    a = ap.parse_args()
    base = {"baseline": a.baseline.resolve()} if a.baseline else {}
    trees = {f"this tree {m}": (HERE, m) for m in a.modes.split(",")}
    trees |= {f"baseline {m}": (t, m) for m in a.modes.split(",") for t in base.values()}
    trees["plain NumPy loop"] = (HERE, "plain")
    chosen = a.optimizers.split(",")
    sizes = [int(k) for k in a.batch_sizes.split(",")]
    cells = [(name, settings, K, S) for name, settings in CASES if name in chosen for K in sizes for S in (1, a.stack)]
    best: dict = {}
    kernel = None
    for _ in range(a.rounds):
        for cell in cells:
            for label, (tree, mode) in trees.items():
                got = measure(tree, cell[2], cell[3], cell[1], a.epochs, mode, FASHION if a.fashion else "")
                if got is not None:
                    kernel = got["kernel"]
                    key = (*cell[:1], cell[2], cell[3], label)
                    best[key] = min(best.get(key, float("inf")), got["seconds"])
    print(
        f"OpenBLAS kernel: {', '.join(map(str, kernel or []))}; OPENBLAS_CORETYPE="
        f"{os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; best of {a.rounds} interleaved rounds; SGD seconds "
        f"per epoch of all runs of the job ([784,30,10] float32, 50,000 {'Fashion-MNIST' if a.fashion else 'random'} "
        "rows, one BLAS thread)\n"
    )
    ours = [label for label in trees if label.startswith("this tree")]
    head = "| optimizer | K | runs | " + " | ".join(trees) + (" | this tree ÷ baseline native |" if base else "")
    print(head + " plain loop ÷ this tree native |")
    print("|" + "---|" * (4 + len(trees) + bool(base)))
    for name, _, K, S in cells:
        vals = [best.get((name, K, S, label)) for label in trees]
        row = f"| {name} | {K} | {S} | " + " | ".join("—" if v is None else f"{v:.3f}" for v in vals)
        if base:  # each of this tree's columns against the baseline's native
            ref = best.get((name, K, S, "baseline native"))
            row += " | " + " ".join(f"{best.get((name, K, S, o), 0) / ref:.2f}×" if ref else "—" for o in ours)
        plain, native = best.get((name, K, S, "plain NumPy loop")), best.get((name, K, S, "this tree native"))
        print(row + " | " + (f"{plain / native:.2f}×" if plain and native else "—") + " |")
    if a.json:
        cells_out = [
            {"optimizer": n, "K": K, "runs": S, "column": label, "seconds": v}
            for (n, K, S, label), v in sorted(best.items())
        ]
        meta = {"kernel": kernel, "rounds": a.rounds, "data": "fashion-mnist" if a.fashion else "random"}
        a.json.write_text(json.dumps({**meta, "cells": cells_out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
