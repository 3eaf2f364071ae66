"""Gather every run's metrics (and benchmark timings) into one table of runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def read_runs(metrics_paths, benchmark_paths=()) -> pd.DataFrame:
    """One row per (topology, seed) from metrics.json files (and benchmark TSVs)."""
    bench = {}
    for path in benchmark_paths:
        path = Path(path)
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
        for path, rec in bench.items():
            # benchmarks/…/{topology}/seed{seed}.tsv
            topo, seed = path.parent.name, int(path.stem.removeprefix("seed"))
            mask = (runs["topology"] == topo) & (runs["seed"] == seed)
            runs.loc[mask, "wall_seconds"] = rec.get("s")
            runs.loc[mask, "max_rss_mb"] = rec.get("max_rss")
    return runs.sort_values(["topology", "seed"], kind="stable").reset_index(drop=True)

