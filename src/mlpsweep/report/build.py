"""The report job: every run of one dataset into comparison tables."""

from __future__ import annotations

import logging
from pathlib import Path

from ..atomic import write_text
from . import comparison

log = logging.getLogger("mlpsweep.report")


def build(dataset: str, metrics, benchmarks, out_dir, order=None) -> None:
    out_dir = Path(out_dir)
    runs = comparison.read_runs(metrics, benchmarks)
    summary = comparison.summarize(runs, order)
    write_text(out_dir / "runs.csv", runs.to_csv(index=False))
    write_text(out_dir / "comparison.csv", summary.to_csv(index=False))
    md = [f"# {dataset}: accuracy by topology\n", comparison.summary_markdown(summary)]
    write_text(out_dir / "comparison.md", "\n".join(md))
    log.info("%s: %d runs of %d topologies summarised in %s", dataset, len(runs), len(summary), out_dir)
