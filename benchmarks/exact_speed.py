"""What exact arithmetic costs against native, measured in interleaved rounds (a slow spell of the machine
hits both modes).

    python benchmarks/exact_speed.py [--rounds 3] [--workflow] [--workflow-rounds 1] [--epochs 30] [--baseline TREE]

1. SGD seconds per epoch of [784,30,10] on Fashion-MNIST's 50,000 training rows (Debian's
   dataset-fashion-mnist), one BLAS thread, K = 10 and K = 128, one run and a stack of five: the history's
   ``seconds`` (the steps alone) of the faster of two epochs, the best round of each cell, and exact mode's
   fallbacks per epoch.
2. ``--workflow``: the default run's wall time, ``snakemake --cores 2 --configfile
   config/fashion-mnist-local.yaml --config reproducibility=MODE`` (``--epochs`` shortens it), each round in
   a fresh folder, the modes alternating; ``--baseline`` adds another revision's native default run.

Every table says which OpenBLAS kernel ran (threadpoolctl).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TREE = Path(__file__).resolve().parents[1]
FASHION = "/usr/share/datasets/fashion-mnist/"

CHILD = r"""
import json, sys
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits
from mlpsweep.data.idx import read_images, read_labels
from mlpsweep.nn import Network, train_stack
from mlpsweep.settings import resolve
args = json.loads(sys.argv[1])
x = (read_images(args["data"] + "train-images-idx3-ubyte.gz").reshape(60000, 784)[:50000] / np.float32(255))
x = x.astype(np.float32)
y = read_labels(args["data"] + "train-labels-idx1-ubyte.gz")[:50000].astype(np.int64)
S = args["S"]
st = resolve({"batch_size": args["K"], "epochs": 2, "hidden": [30]})
with threadpool_limits(1):
    nets = [Network.from_config([784, 30, 10], st.to_dict(), rng=np.random.default_rng(s), arithmetic=args["mode"])
            for s in range(S)]
    h = train_stack(nets, x, y, [st] * S, [np.random.default_rng(s) for s in range(S)], monitor_rows=1)
    kernel = [i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"]
best = min(range(2), key=lambda e: h[0].records[e]["seconds"])
print(json.dumps({"seconds": h[0].records[best]["seconds"] * S, "fallbacks": h[0].records[best]["exact_fallbacks"],
                  "kernel": kernel}))
"""


def epoch(mode: str, K: int, S: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(TREE / "src"), "MLPSWEEP_ARITHMETIC": mode}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps({"K": K, "S": S, "data": FASHION, "mode": mode})],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def workflow(mode: str, epochs: int, tree: Path = TREE) -> float:
    """The default run's wall time in a fresh folder holding ``tree``'s workflow and code (its compiled kernels'
    cache included: a machine pays their compilation once)."""
    with tempfile.TemporaryDirectory() as tmp:
        for item in ("Snakefile", "workflow", "config", "src", "pyproject.toml"):
            src = tree / item
            (shutil.copytree if src.is_dir() else shutil.copy)(src, Path(tmp) / item)
        cmd = ["snakemake", "--cores", "2", "--configfile", "config/fashion-mnist-local.yaml", "--config"]
        cmd += [f"reproducibility={mode}"] + ([f"defaults={{epochs: {epochs}}}"] if epochs != 30 else [])
        env = {**os.environ, "PYTHONPATH": str(Path(tmp) / "src")}
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=tmp, env=env, check=True, capture_output=True)
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workflow", action="store_true")
    parser.add_argument("--workflow-rounds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--baseline", type=Path, help="another revision's checkout: its native default run too")
    args = parser.parse_args()
    cells = [(10, 1), (10, 5), (128, 1)]
    best: dict = {}
    for r in range(args.rounds):
        for K, S in cells:
            for mode in ("native", "exact") if r % 2 == 0 else ("exact", "native"):
                got = epoch(mode, K, S)
                key = (K, S, mode)
                if key not in best or got["seconds"] < best[key]["seconds"]:
                    best[key] = got
                print(f"round {r + 1}: K={K} S={S} {mode}: {got['seconds']:.3f} s", file=sys.stderr)
    kernel = best[cells[0] + ("native",)]["kernel"]
    print(
        f"SGD seconds per epoch, [784,30,10], 50,000 Fashion-MNIST rows, 1 BLAS thread ({', '.join(kernel)}), "
        f"best of {args.rounds} interleaved rounds:\n"
    )
    print("| K | runs in the job | native | exact | exact / native | exact fallbacks per epoch (first run) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for K, S in cells:
        n, e = best[(K, S, "native")], best[(K, S, "exact")]
        print(
            f"| {K} | {S} | {n['seconds']:.3f} s | {e['seconds']:.3f} s | {e['seconds'] / n['seconds']:.2f}× "
            f"| {e['fallbacks']:,} |"
        )
    if args.workflow:
        runs = [("native", TREE), ("exact", TREE)] + ([("baseline native", args.baseline)] if args.baseline else [])
        walls: dict = {label: [] for label, _ in runs}
        for r in range(args.workflow_rounds):
            for label, tree in runs if r % 2 == 0 else runs[::-1]:
                walls[label].append(workflow(label.split()[-1], args.epochs, tree))
                print(f"workflow round {r + 1} {label}: {walls[label][-1]:.1f} s", file=sys.stderr)
        n, e = min(walls["native"]), min(walls["exact"])
        line = (
            f"\nThe default run ({args.epochs} epochs), wall time with --cores 2, best of {args.workflow_rounds} "
            f"interleaved round(s): native {n:.1f} s, exact {e:.1f} s: {e / n:.2f}×"
        )
        if args.baseline:
            b = min(walls["baseline native"])
            line += f"; the baseline's native {b:.1f} s: exact {e / b:.2f}×, native {n / b:.2f}× of it"
        print(line)


if __name__ == "__main__":
    main()
