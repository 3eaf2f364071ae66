"""Does the report job of a huge sweep start and finish?  ``python benchmarks/report_scale.py [--runs 5000]``

Makes a tiny dataset, trains and evaluates one real run, copies its files to
``--runs`` runs of a sweep (points × 2 seeds, each metrics file renamed to its
point and seed), writes the ``inputs.json`` the workflow would write, and times
``python -m mlpsweep report --inputs …`` with its peak memory.  The command
line stays a few dozen bytes whatever the number of runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from datagen import make_arrays, write_dataset  # noqa: E402

from mlpsweep import evaluate, train  # noqa: E402
from mlpsweep.plan import plan  # noqa: E402
from mlpsweep.data.datasets import DatasetSpec  # noqa: E402
from mlpsweep.data.preprocess import preprocess  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5000)
    args = ap.parse_args()
    points = args.runs // 2
    root = Path(tempfile.mkdtemp(prefix="report-scale-"))
    definition = write_dataset(root / "raw", make_arrays(n_train=300, n_test=100, seed=1))
    preprocess(DatasetSpec.from_dict("tiny", definition), root / "raw", root / "data", validation_size=50)
    config = {
        "datasets": ["mnist"],
        "seeds": [1, 2],
        "studies": ["big"],
        "topologies": {"s": {"hidden": [8], "epochs": 2}},
        "study_definitions": {
            "big": {
                "kind": "sweep",
                "base": "s",
                "seeds": [1, 2],
                "max_runs": 10**6,
                "random": {
                    "n": points,
                    "seed": 1,
                    "space": {
                        "eta": {"loguniform": [0.01, 10]},
                        "dropout": {"uniform": [0.0, 0.5]},
                        "penalty.lambda": {"loguniform": [1e-7, 1e-3]},
                    },
                },
            }
        },
    }
    started = time.perf_counter()
    p = plan(config)
    planned = time.perf_counter() - started
    names = list(p.study_defs["big"]["points"])
    one = root / "one"
    train.run_one(root / "data", p.topology(names[0]), 1, one / "model")
    evaluate.run(root / "data", one / "model", one / "eval")
    metrics = json.loads((one / "eval/metrics.json").read_text())
    runs = []
    for i, name in enumerate(names):
        for seed in (1, 2):
            d = root / "runs" / name / f"seed{seed}"
            d.mkdir(parents=True)
            for f in ("history.csv", "model.npz"):
                shutil.copy(one / "model" / f, d / f)
            shutil.copy(one / "eval/predictions.npy", d / "predictions.npy")
            m = {**metrics, "topology": name, "seed": seed}
            m["best_validation_epoch"] = {
                **m["best_validation_epoch"],
                "val_accuracy": 0.5 + 0.4 * ((i * 7919) % points) / points,
            }
            (d / "metrics.json").write_text(json.dumps(m))
            runs.append(
                {
                    "metrics": str(d / "metrics.json"),
                    "history": str(d / "history.csv"),
                    "predictions": str(d / "predictions.npy"),
                    "model": str(d / "model.npz"),
                }
            )
    inputs = root / "inputs.json"
    inputs.write_text(
        json.dumps(
            {
                "dataset": "tiny",
                "data": str(root / "data"),
                "out_dir": str(root / "report"),
                "runs": runs,
                "order": names,
                "studies": p.studies_list(),
                "study_files": {},
                "config": p.config,
            }
        )
    )
    cmd = [sys.executable, "-m", "mlpsweep", "-q", "report", "--inputs", str(inputs)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    html = (root / "report/report.html").stat().st_size / 1e6
    print(
        f"{len(runs)} runs ({points} points × 2 seeds): plan {planned:.2f} s; report job {wall:.1f} s, "
        f"peak RSS {rss:.0f} MB, report.html {html:.1f} MB; command line {len(' '.join(cmd))} bytes; "
        f"inputs.json {inputs.stat().st_size / 1e6:.1f} MB"
    )
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
