"""Training results pinned to the bytes: every job of a fixed set of runs against recorded SHA-256 hashes.

For each run the hashes cover ``model.npz`` (parameters and metadata), ``predictions.npy``, ``metrics.json``
minus its timing and provenance, and ``history.csv`` minus its timing columns. A refactor that changes any
number, in any run, fails here.

The runs train in exact arithmetic (the default, :mod:`mlpsweep.nn.exact`), whose bytes depend on nothing but
the settings, seeds and data: one record holds for every machine, BLAS kernel, SIMD level and thread count,
so the test runs everywhere rather than being skipped on machines unlike the recording one. (Native
arithmetic's bytes depend on all of those; its records, one per environment, may be added the same way.)
Record again (only from a revision whose results are the reference): ``python tests/test_golden.py --record``,
and the workflow's section with ``MLPSWEEP_RECORD_GOLDEN=1 pytest tests/test_workflow.py -k stacked_jobs_give``.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mlpsweep import evaluate
from mlpsweep.nn.history import results_csv
from mlpsweep import train as train_job

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden_hashes.json"

BASE = {"epochs": 3, "batch_size": 10}
#: (name, settings, seeds, extra job options) of runs trained alone.
SOLO = [
    ("a", {"hidden": [16]}, (1, 2), {}),
    ("b", {"hidden": [12, 8]}, (1, 2), {}),
    (
        "drop-mom",
        {"hidden": [12, 8], "dropout": 0.3, "momentum": 0.5, "eta_decay": 0.9, "eta": 0.5},
        (3,),
        {},
    ),
    ("l-half", {"hidden": [16], "penalty": {"p": 0.5, "lambda": 1e-3}}, (4,), {}),
    ("l-one", {"hidden": [16], "penalty": {"p": 1.0, "lambda": 1e-3}, "batch_size": 7}, (4,), {}),
    ("l-two-mom", {"hidden": [16], "penalty": {"p": 2.0, "lambda": 1e-3}, "momentum": 0.5, "eta": 1.0}, (5,), {}),
    (
        "relu-soft",
        {
            "hidden": [20, 10],
            "activation": "relu",
            "output": "softmax",
            "cost": "log_likelihood",
            "init": "he",
            "eta": 0.1,
        },
        (6,),
        {},
    ),
    (
        "tanh-xavier-ce",
        {
            "hidden": [14],
            "activation": "tanh",
            "cost": "cross_entropy",
            "init": "xavier",
            "eta": 0.5,
        },
        (7,),
        {},
    ),
    ("linear-out", {"hidden": [10, 10, 10], "output": "linear", "eta": 0.3}, (8,), {"track_gradients": True}),
    ("rung", {"hidden": [16], "epochs": 4}, (9,), {"stop_at_epoch": 2}),
    ("diverges", {"hidden": [16], "output": "linear", "eta": 1e6}, (10,), {}),
    ("nesterov", {"hidden": [16], "eta": 0.5, "optimizer": {"name": "nesterov", "momentum": 0.8}}, (11,), {}),
    (
        "adamw",
        {
            "hidden": [12, 8],
            "activation": "relu",
            "output": "softmax",
            "cost": "log_likelihood",
            "init": "he",
            "eta": 0.003,
            "eta_decay": 0.9,
            "optimizer": {"name": "adam", "weight_decay": 0.01},
        },
        (12,),
        {},
    ),
]
#: (stack name, [(run name, settings, seed)]) of runs trained together in one job.
STACKS = [
    ("stack-a", [("a", {"hidden": [16]}, 1), ("a", {"hidden": [16]}, 2)]),
    (
        "stack-mixed",
        [
            (f"m{i}", {"hidden": [12, 8], "output": "linear", **extra}, 10 + i)
            for i, extra in enumerate(
                [
                    {"eta": 0.1, "dropout": 0.2},
                    {"eta": 0.2, "penalty": {"p": 0.5, "lambda": 1e-4}},
                    {"eta": 0.05, "momentum": 0.9, "eta_decay": 0.8},
                    {"eta": 1e6},  # diverges; the others go on as alone
                    {"eta": 0.01, "optimizer": {"name": "adam"}, "penalty": {"p": 2, "lambda": 1e-3}},
                ],
                start=1,
            )
        ],
    ),
]

#: metrics.json keys added after the record (derived from the same model, so they pin nothing new about training).
ADDED_AFTER_RECORD = ("validation",)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _history_without_timing(text: str) -> str:
    return results_csv(text)


def _metrics_without_timing(path: Path) -> str:
    """metrics.json without what the run took and what it ran on (timing and provenance), i.e. its results."""
    doc = json.loads(path.read_text())
    doc.pop("training_seconds", None)
    doc.pop("training_environment", None)
    for key in ADDED_AFTER_RECORD:
        doc.pop(key, None)
    return json.dumps(doc, sort_keys=True)


def run_hashes(model_dir: Path, data_dir: Path, eval_dir: Path) -> dict:
    evaluate.run(data_dir, model_dir, eval_dir)
    return {
        "model.npz": _sha((model_dir / "model.npz").read_bytes()),
        "history.csv": _sha(_history_without_timing((model_dir / "history.csv").read_text()).encode()),
        "predictions.npy": _sha((eval_dir / "predictions.npy").read_bytes()),
        "metrics.json": _sha(_metrics_without_timing(eval_dir / "metrics.json").encode()),
    }


# -- the only part that follows the job API --------------------------------------------------------
def train_solo(data_dir, settings, seed, out_dir, name, **options):
    train_job.run_one(data_dir, settings, seed, out_dir, name=name, **options)


def train_stack(data_dir, runs, name):
    train_job.run(data_dir, [train_job.Run(**r) for r in runs], name=name)


# ---------------------------------------------------------------------------------------------------


def compute(root: Path) -> dict:
    from datagen import preprocessed

    data_dir = preprocessed(root, n_train=420, n_test=90, validation_size=60, seed=3)
    out: dict = {}
    for name, settings, seeds, options in SOLO:
        for seed in seeds:
            model_dir = root / "models" / name / f"seed{seed}"
            train_solo(data_dir, {**BASE, **settings}, seed, model_dir, name, **options)
            out[f"{name}/seed{seed}"] = run_hashes(model_dir, data_dir, root / "eval" / name / f"seed{seed}")
    for stack, runs in STACKS:
        folder = root / "stacks" / stack
        train_stack(
            data_dir,
            [
                {"name": n, "seed": s, "settings": {**BASE, **st}, "out_dir": str(folder / n / f"seed{s}")}
                for n, st, s in runs
            ],
            stack,
        )
        for n, _, s in runs:
            out[f"{stack}/{n}/seed{s}"] = run_hashes(
                folder / n / f"seed{s}", data_dir, folder / "eval" / n / f"seed{s}"
            )
    return out


def workflow_hashes(work: Path, runs) -> dict:
    """The hashes of a finished workflow's runs (``runs``: (topology, seed) pairs), as :func:`run_hashes` takes them."""
    out = {}
    for topo, seed in runs:
        model, ev = work / f"results/tiny/models/{topo}/seed{seed}", work / f"results/tiny/eval/{topo}/seed{seed}"
        out[f"{topo}/seed{seed}"] = {
            "model.npz": _sha((model / "model.npz").read_bytes()),
            "history.csv": _sha(_history_without_timing((model / "history.csv").read_text()).encode()),
            "predictions.npy": _sha((ev / "predictions.npy").read_bytes()),
            "metrics.json": _sha(_metrics_without_timing(ev / "metrics.json").encode()),
        }
    return out


def recorded(section: str = "runs") -> dict | None:
    """The recorded hashes of ``section`` for this arithmetic environment, or None if none was recorded."""
    here = environment()
    return next((rec[section] for rec in json.loads(GOLDEN.read_text())["records"] if rec["environment"] == here), None)


def environment() -> dict:
    """What decides the bits: nothing but the mode in exact arithmetic; otherwise NumPy's version and SIMD level,
    OpenBLAS's version and kernel."""
    from mlpsweep import arithmetic

    if arithmetic.current() == "exact":
        return {"mode": "exact"}
    from numpy._core._multiarray_umath import __cpu_features__
    from threadpoolctl import threadpool_info

    # NumPy's own BLAS (SciPy, once imported by another test, loads an OpenBLAS of its own)
    blas = sorted(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas" and "numpy" in (i.get("filepath") or "")
    )
    simd = [f for f in ("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR") if __cpu_features__.get(f)]
    return {"numpy": np.__version__, "blas": blas, "simd": simd}


def test_every_result_equals_the_recorded_bytes(tmp_path):
    want = recorded()
    if want is None:
        pytest.skip(
            f"no hashes recorded for this arithmetic ({environment()}): results depend on the BLAS "
            "kernel, the SIMD level and the versions"
        )
    got = compute(tmp_path)
    assert sorted(got) == sorted(want)
    changed = {run: [f for f in files if got[run][f] != files[f]] for run, files in want.items()}
    assert not {k: v for k, v in changed.items() if v}, "results changed"
    for seed in (1, 2):  # a stack of seeds 1 and 2 of topology a writes what two solo jobs write
        assert got[f"stack-a/a/seed{seed}"] == got[f"a/seed{seed}"]


def record(runs: dict, workflow: dict | None = None) -> None:
    """Add (or replace) this environment's record in ``golden_hashes.json``."""
    doc = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {"records": []}
    here = environment()
    old = next((r for r in doc["records"] if r["environment"] == here), None)
    rec = {"environment": here, "runs": runs, "workflow": workflow or (old or {}).get("workflow", {})}
    doc["records"] = [r for r in doc["records"] if r["environment"] != here] + [rec]
    GOLDEN.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__" and "--record" in sys.argv:
    import tempfile

    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory() as tmp:
        record(compute(Path(tmp)))
    print(f"recorded {environment()} in {GOLDEN}")
