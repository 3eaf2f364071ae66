"""Gather every run's metrics (and benchmark timings) into one table of runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd


def fingerprint(path) -> str:
    """The SHA-256 of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def add_fingerprints(runs: pd.DataFrame, files: dict, metrics: dict) -> None:
    """Give every run (row) the SHA-256 of its ``model.npz`` and ``predictions.npy`` and the arithmetic it was
    trained with, so that another results tree can be compared with this one run by run
    (:mod:`mlpsweep.compare`)."""
    keys = list(zip(runs["topology"], runs["seed"]))
    runs["model_sha256"] = [fingerprint(files[k][0]) for k in keys]
    runs["predictions_sha256"] = [fingerprint(files[k][1]) for k in keys]
    runs["arithmetic"] = [
        json.dumps((metrics[k].get("training_environment") or {}).get("arithmetic"), sort_keys=True) for k in keys
    ]


def read_runs(metrics_paths, benchmark_paths=()) -> pd.DataFrame:
    """One row per (topology, seed) from metrics.json files and, aligned with them, the training jobs'
    benchmark TSVs (None where a run has none).

    A job that trained several runs as a stack has one benchmark file for all of
    them: each of its runs gets ``wall_seconds`` = the job's wall time divided by
    ``runs_in_job``, and the job's peak memory.
    """
    benchmark_paths = list(benchmark_paths) or [None] * len(metrics_paths)
    if len(benchmark_paths) != len(metrics_paths):
        raise ValueError("one benchmark path (or None) per metrics file")
    shared = Counter(str(p) for p in benchmark_paths if p)
    bench = {}
    for path in shared:
        table = pd.read_csv(path, sep="\t")
        bench[path] = table.iloc[-1].to_dict() if len(table) else {}
    rows = []
    for path in metrics_paths:
        m = json.loads(Path(path).read_text(encoding="utf-8"))
        ok = m["status"] == "ok"
        rows.append(
            {
                "topology": m["topology"],
                "seed": m["seed"],
                "sizes": str(m["sizes"]).replace(" ", ""),
                "n_params": m["n_params"],
                "status": m["status"],
                "diverged_epoch": m.get("diverged_epoch"),
                "test_accuracy": m["test"]["accuracy"] if ok else np.nan,
                "test_cost": m["test"]["cost"] if ok else np.nan,
                "best_val_epoch": m["best_validation_epoch"]["epoch"] if ok else np.nan,
                "test_accuracy_at_best_val": m["best_validation_epoch"]["test_accuracy"] if ok else np.nan,
                "train_seconds": m["training_seconds"]["total"],
            }
        )
    runs = pd.DataFrame(rows)
    if bench:
        recs = [bench.get(str(p), {}) if p else {} for p in benchmark_paths]
        n = [shared[str(p)] if p else np.nan for p in benchmark_paths]
        runs["runs_in_job"] = n
        runs["wall_seconds"] = [r.get("s", np.nan) / k if r else np.nan for r, k in zip(recs, n)]
        runs["max_rss_mb"] = [r.get("max_rss", np.nan) if r else np.nan for r in recs]
    return runs.sort_values(["topology", "seed"], kind="stable").reset_index(drop=True)


def trained(runs: pd.DataFrame) -> pd.Series:
    """Which runs trained: finished and not stuck (a run whose stuck flag is unknown or absent counts)."""
    ok = runs["status"] == "ok"
    return ok & ~runs["stuck"].fillna(False).astype(bool) if "stuck" in runs else ok


def mark_low(runs: pd.DataFrame, below_pp: float) -> None:
    """Give every run ``low``: finished, not stuck, and its test accuracy more than ``below_pp`` points below
    the median of its topology's finished, non-stuck runs (a partial failure, counted as trained; never with
    ``below_pp`` 0)."""
    trained_runs = trained(runs)
    median = runs["test_accuracy"].where(trained_runs).groupby(runs["topology"]).transform("median")
    runs["low"] = trained_runs & (below_pp > 0) & (runs["test_accuracy"] < median - below_pp / 100)


def mark_stuck(runs: pd.DataFrame, metrics: dict, share: float) -> None:
    """Give every run ``dead_classes`` (class indices it (almost) never predicts on validation, space-separated;
    empty when none, NA when it cannot be told: diverged, or evaluated before mlpsweep counted) and ``stuck``."""
    from .sections import dead_classes

    dead = [dead_classes(metrics[k], share) for k in zip(runs["topology"], runs["seed"])]
    runs["dead_classes"] = [None if d is None else " ".join(map(str, d)) for d in dead]
    runs["stuck"] = pd.array([None if d is None else bool(d) for d in dead], dtype="boolean")
