"""The report job's inputs as one JSON file (``inputs.json``), not a command line.

A sweep of thousands of runs would put megabytes of paths on the report's
command line; instead the workflow writes every file the report reads and the
settings it needs into ``inputs.json`` and runs ``python -m mlpsweep report
--inputs inputs.json``.  The same file can be written by hand to build a
report without Snakemake.  Keys: ``dataset``, ``data`` (preprocessed folder),
``out_dir``, ``runs`` (one object per run: ``metrics``, ``history``,
``predictions``, ``model``, ``benchmark``), ``order``, ``studies``,
``study_files``, ``config`` (the validated config), ``workflow_dir`` and
``stages`` (study -> the decision file it ended with, of every staged study:
a sequential study's last look, a successive-halving sweep's last pick).
"""

from __future__ import annotations

import json
from pathlib import Path

RUN_FILES = ("metrics", "history", "predictions", "model", "benchmark")


def write_report_inputs(path, dataset: str, input, params) -> None:
    """Write ``inputs.json`` from a report job's ``input`` and ``params`` (called by the workflow)."""
    from ..atomic import write_text

    names = ("metrics", "histories", "predictions", "models", "benchmarks")  # RUN_FILES' inputs, in order
    columns = [list(getattr(input, n)) + list(getattr(input, f"sequential_{n}", [])) for n in names]
    # a run of a sequential study may also belong to a fixed one: once
    runs = list({files[0]: dict(zip(RUN_FILES, files)) for files in zip(*columns)}.values())
    doc = {
        "dataset": dataset,
        "data": params.data,
        "out_dir": params.out,
        "runs": runs,
        "order": list(params.order),
        "studies": params.studies,
        "study_files": params.study_files,
        "config": params.config,
        "workflow_dir": params.workflow_dir,
        "stages": dict(zip(params.staged, getattr(input, "stages", []))),
    }
    write_text(path, json.dumps(doc, sort_keys=True, indent=1) + "\n")


def read_report_inputs(path) -> dict:
    """``inputs.json`` checked for the keys the report needs (ValueError naming what is missing)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read the report's inputs ({exc})") from None
    missing = [k for k in ("dataset", "data", "out_dir", "runs", "config") if k not in doc]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)} (see mlpsweep.report.inputs)")
    for i, run in enumerate(doc["runs"]):
        lacking = [k for k in RUN_FILES[:4] if k not in run]
        if lacking:
            raise ValueError(f"{path}: runs[{i}] has no {', '.join(lacking)}")
    return doc
