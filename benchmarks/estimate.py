"""The resource estimate (mlpsweep.estimate) against measurement: peak memory and wall time of real jobs.

Preprocesses Fashion-MNIST from Debian's folder (or takes ``--data``, a preprocessed folder), then runs
training jobs of different sizes through ``python -m mlpsweep train`` — as the workflow does, with the
default monitoring — and measures each job's peak RSS (``wait4``) and wall time, next to the estimate for
the same work and the ratio.  The targets (issue 24): memory within ±30 %, time within 2×.

    python benchmarks/estimate.py
    python benchmarks/estimate.py --data results/fashion-mnist/data
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from mlpsweep import estimate  # noqa: E402
from mlpsweep.config import schema_default  # noqa: E402
from mlpsweep.data import preprocess  # noqa: E402
from mlpsweep.settings import resolve  # noqa: E402

#: (label, settings, runs in the job)
JOBS = [
    ("[784,30,10], K = 10, 5 epochs", {"hidden": [30], "epochs": 5}, 1),
    ("[784,30,10] × 3 stacked, K = 10, 5 epochs", {"hidden": [30], "epochs": 5}, 3),
    (
        "[784,800,10] ReLU, K = 64, 3 epochs",
        {
            "hidden": [800],
            "activation": "relu",
            "output": "softmax",
            "cost": "log_likelihood",
            "init": "he",
            "eta": 0.02,
            "batch_size": 64,
            "epochs": 3,
            "momentum": 0.9,
        },
        1,
    ),
    ("[784,30,10], K = 1, 1 epoch", {"hidden": [30], "batch_size": 1, "eta": 0.5, "epochs": 1}, 1),
    ("[784,100,10] float64, K = 10, 3 epochs", {"hidden": [100], "dtype": "float64", "epochs": 3}, 1),
]


def prepared(root: Path) -> Path:
    work = root / "prep"
    (work / "config").mkdir(parents=True)
    (work / "config" / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "datasets": ["fashion-mnist"],
                "dataset_definitions": {"fashion-mnist": {"sources": ["/usr/share/datasets/fashion-mnist"]}},
            }
        )
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(work),
            "--cores",
            "2",
            "--quiet",
            "all",
            "--until",
            "preprocess",
        ],
        check=True,
        capture_output=True,
    )
    return work / "results" / "fashion-mnist" / "data"


def measure(data: Path, settings: dict, runs: int, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one training job."""
    spec = [{"name": f"r{i}", "seed": i + 1, "settings": settings, "out_dir": str(out / f"r{i}")} for i in range(runs)]
    cmd = [sys.executable, "-m", "mlpsweep", "-q", "train", "--data", str(data), "--runs", json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status:
        sys.exit(f"{cmd} failed")
    return wall, usage.ru_maxrss / 1024 * 1.048576  # KiB → MB


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a preprocessed dataset folder (default: Fashion-MNIST, prepared here)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlpsweep-estimate-") as tmp:
        data = args.data or prepared(Path(tmp))
        ds = preprocess.load(data)
        rows = []
        for i, (label, settings, runs) in enumerate(JOBS):
            st = resolve(settings)
            w = estimate.Work.of(
                st,
                features=ds.features,
                classes=ds.classes,
                rows=ds.x_train.shape[0],
                held_out_rows=len(ds.y_val) + len(ds.y_test),
                runs=runs,
                monitor_rows=schema_default("training.monitor_rows"),
            )
            wall, rss = measure(data, settings, runs, Path(tmp) / f"job{i}")
            rows.append((label, rss, estimate.memory_mb(w), wall, estimate.seconds(w)))
    kernels = os.environ.get("OPENBLAS_CORETYPE") or "OpenBLAS's own choice"
    print(f"Training jobs on Fashion-MNIST (50,000 rows), 1 BLAS thread, {kernels}; estimate = mlpsweep.estimate\n")
    print("| job | peak RSS | estimate | ratio | wall time | estimate | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, rss, mem, wall, sec in rows:
        print(
            f"| {label} | {rss:.0f} MB | {mem:.0f} MB | {mem / rss:.2f} | {wall:.1f} s | {sec:.1f} s "
            f"| {sec / wall:.2f} |"
        )
    ok_mem = all(0.7 <= mem / rss <= 1.3 for _, rss, mem, _, _ in rows)
    ok_time = all(0.5 <= sec / wall <= 2.0 for _, _, _, wall, sec in rows)
    print(f"\n- {'met' if ok_mem else 'NOT met'}: memory within ±30 % of the measurement for every job")
    print(f"- {'met' if ok_time else 'NOT met'}: time within 2× of the measurement for every job")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
