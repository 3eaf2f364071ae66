"""What a study's part of the report is (:class:`Section`) and what it reads (:class:`Data`).

The study kinds (:mod:`mlpsweep.studies`) build sections from these; the
report (:mod:`.build`) gathers the data once and lays the sections out, given
the kinds by its caller, so this package never imports the study kinds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..verdicts import Verdict


@dataclass
class Section:
    """One study's part of the report."""

    name: str
    kind: str
    title: str
    claim: str
    description: str
    header: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # plot file stem -> caption
    findings: list = field(default_factory=list)
    verdict: Verdict | None = None  # the primary verdict (the one the report's summary shows)
    thresholds: dict = field(default_factory=dict)  # declared numbers the verdict used, as shown
    more_verdicts: list = field(default_factory=list)  # [(what it is decided on, Verdict)] beside the primary one
    verdict_on: str = ""  # what the primary verdict is decided on, shown when there are more
    verdict_brief: str = ""  # one line for the primary verdict when its parts are shown as a table
    parts_header: list = field(default_factory=list)  # the verdict's parts, one row per comparison and part
    parts_rows: list = field(default_factory=list)


@dataclass
class Data:
    """What the sections read (gathered once by the report job)."""

    runs: Any  # pandas frame, one row per run (report.comparison.read_runs)
    hist: Any  # pandas frame, one row per run and epoch
    metrics: dict  # (topology, seed) -> metrics.json
    labels: dict  # topology -> display label
    study_files: dict  # study -> [paths of its extra measurements]
    plot_dir: Path
    dataset: str
    reference: dict  # reference.yaml (published results and targets, with sources)


def settings_of(metrics: dict, topology: str) -> dict | None:
    """The settings of a topology's runs, from {(topology, seed): metrics.json}."""
    return next((m["settings"] for k, m in metrics.items() if k[0] == topology), None)


def dead_classes(metrics: dict, share: float) -> list[int] | None:
    """The classes a finished run (almost) never predicts on the validation set: fewer predictions than ``share``
    of the class's validation images (config ``verdicts.stuck_below``).  A run with such a class is *stuck*.
    None where it cannot be told: a diverged run, or metrics written before mlpsweep counted predictions."""
    v = metrics.get("validation")
    if metrics.get("status") != "ok" or not v:
        return None
    return [c for c, (n, k) in enumerate(zip(v["images_per_class"], v["predicted_per_class"])) if n and k < share * n]


def sampled_note(metrics: dict) -> str:
    """A sentence for figures of per-epoch training numbers when the runs recorded them on a sample of the
    training rows (``training.monitor_rows``); empty when every run used every row."""
    sizes = {
        (m.get("training_environment") or {}).get("monitoring", {}).get("train_rows")
        for m in metrics.values()
        if ((m.get("training_environment") or {}).get("monitoring") or {}).get("train_rows_sampled")
    }
    if not sizes:
        return ""
    n = ", ".join(f"{s:,}" for s in sorted(sizes))
    return (
        f" The training cost and accuracy per epoch are those of a fixed sample of {n} training rows "
        "(training.monitor_rows), the same rows every epoch; validation numbers use every row."
    )
