"""Gather every run's metrics into one table per topology.

One row per topology: its layer sizes, number of parameters, how many seeds
ran and how many diverged, and the test accuracy (final epoch) as mean and
standard deviation over the seeds that finished.  Diverged runs are listed,
not averaged.
"""

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


def summarize(runs: pd.DataFrame, order=None) -> pd.DataFrame:
    """One row per topology: mean ± std of the test accuracy over finished seeds."""
    rows = []
    names = order or list(dict.fromkeys(runs["topology"]))
    for name in names:
        r = runs[runs["topology"] == name]
        ok = r[r["status"] == "ok"]
        acc = ok["test_accuracy"].to_numpy()
        diverged = r[r["status"] != "ok"]
        rows.append(
            {
                "topology": name,
                "sizes": r["sizes"].iloc[0],
                "n_params": int(r["n_params"].iloc[0]),
                "seeds": int(len(r)),
                "finished": int(len(ok)),
                "diverged": int(len(diverged)),
                "diverged_at": ", ".join(f"seed {s}: epoch {int(e)}" for s, e in zip(diverged["seed"], diverged["diverged_epoch"])),
                "test_accuracy_mean": float(acc.mean()) if acc.size else np.nan,
                "test_accuracy_std": float(acc.std(ddof=1)) if acc.size > 1 else np.nan,
                "test_accuracy_min": float(acc.min()) if acc.size else np.nan,
                "test_accuracy_max": float(acc.max()) if acc.size else np.nan,
                "train_seconds_mean": float(r["train_seconds"].mean()),
            }
        )
    return pd.DataFrame(rows)


def _pct(x, digits=2) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{100 * x:.{digits}f}"


def markdown_table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def summary_markdown(summary: pd.DataFrame) -> str:
    rows = []
    for _, s in summary.iterrows():
        acc = "diverged" if s["finished"] == 0 else f"{_pct(s['test_accuracy_mean'])} ± {_pct(s['test_accuracy_std'])}"
        note = f"{s['diverged']} diverged ({s['diverged_at']})" if s["diverged"] else ""
        rows.append([s["topology"], s["sizes"], f"{s['n_params']:,}", f"{s['finished']}/{s['seeds']}", acc,
                     f"{_pct(s['test_accuracy_min'])}–{_pct(s['test_accuracy_max'])}", f"{s['train_seconds_mean']:.1f}", note])
    header = ["topology", "layer sizes", "parameters", "seeds", "test accuracy % (final epoch, mean ± std)",
              "range %", "training s", "note"]
    return markdown_table(header, rows)
