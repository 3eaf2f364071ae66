"""Does a new results tree reproduce a published one?  ``python -m mlpsweep compare REFERENCE RESULTS``.

Each side is a report folder (``runs.csv``, ``comparison.csv``, ``verdicts.csv``)
or a dataset's results folder that holds one in ``report/``.  The check, level
by level:

* **run** (topology, seed): are ``model.npz`` and ``predictions.npy`` the same
  bytes (``runs.csv`` fingerprints them)?  If not, were the two made with the
  same arithmetic (mode, BLAS kernel, NumPy SIMD level, versions: ``arithmetic``)?
  Different arithmetic explains different bytes; the same arithmetic means the
  settings, the data or the code changed.
* **topology**: do the final test accuracies agree within ±``margin`` (two one-sided
  tests, :func:`mlpsweep.verdicts.equivalent`)?  Runs of the same seeds are
  compared pair by pair (the interval of the mean paired difference), other
  seed sets as two groups (Welch).
* **study**: is the verdict the same?

It says *reproduced bitwise* when every run of the reference has the same bytes
in the new tree, *reproduced statistically* when not but every topology is
equivalent and every verdict the same, and *not reproduced* otherwise (with what
failed and why).  The summary is one screen of text; ``--out`` writes it as
Markdown and HTML too.  Exit status 0 reproduced (either way), 1 not.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .atomic import write_text
from .verdicts import Outcome, equivalent

TABLES = ("runs.csv", "comparison.csv")


class CompareError(ValueError):
    """A folder that holds no report to compare (the message names it)."""


def report_folder(path) -> Path:
    """The report folder of ``path``: itself, or its ``report/`` (a dataset's results folder)."""
    path = Path(path)
    for folder in (path, path / "report"):
        if all((folder / t).is_file() for t in TABLES):
            return folder
    raise CompareError(
        f"{path}: no report here (neither it nor {path / 'report'} holds {' and '.join(TABLES)}); "
        "give a report folder or a dataset's results folder"
    )


@dataclass
class Side:
    folder: Path
    runs: pd.DataFrame
    verdicts: pd.DataFrame | None

    @classmethod
    def load(cls, path) -> Side:
        folder = report_folder(path)
        runs = pd.read_csv(folder / "runs.csv")
        missing = {"topology", "seed", "status", "test_accuracy"} - set(runs.columns)
        if missing:
            raise CompareError(f"{folder / 'runs.csv'}: lacks the columns {sorted(missing)}")
        verdicts = (
            pd.read_csv(folder / "verdicts.csv", keep_default_na=False) if (folder / "verdicts.csv").is_file() else None
        )
        return cls(folder, runs, verdicts)

    def run(self, topology: str, seed: int) -> dict | None:
        r = self.runs[(self.runs["topology"] == topology) & (self.runs["seed"] == seed)]
        return r.iloc[0].to_dict() if len(r) else None


@dataclass
class Result:
    bitwise: bool
    reproduced: bool
    runs: list = field(default_factory=list)  # (topology, seed, status, why)
    topologies: list = field(default_factory=list)  # (topology, outcome, sentence)
    studies: list = field(default_factory=list)  # (study, reference outcome, new outcome)
    problems: list = field(default_factory=list)

    @property
    def headline(self) -> str:
        if self.bitwise:
            return "REPRODUCED bitwise: every run has the same model and predictions, byte for byte."
        if self.reproduced:
            return (
                "REPRODUCED statistically: not the same bytes, but every topology's accuracy agrees within the "
                "margin and every study reaches the same verdict."
            )
        return "NOT REPRODUCED: " + "; ".join(self.problems) + "."


def _arithmetic(row: dict) -> dict | None:
    text = row.get("arithmetic")
    if not isinstance(text, str) or text in ("", "null"):
        return None
    return json.loads(text)


def _why_different(a: dict, b: dict) -> str:
    """Why two runs of the same (topology, seed) have other bytes: their arithmetic, or something else."""
    x, y = _arithmetic(a), _arithmetic(b)
    if x is None or y is None:
        return "different bytes; one side did not record its arithmetic, so the cause is not known"
    changed = [
        f"{k} {'+'.join(x[k]) if isinstance(x[k], list) else x[k]} → "
        f"{'+'.join(y[k]) if isinstance(y[k], list) else y[k]}"
        for k in ("mode", "blas", "numpy_simd", "numpy", "machine")
        if x.get(k) != y.get(k)
    ]
    if changed:
        return "different bytes, made with different arithmetic: " + ", ".join(changed)
    return "different bytes with the same arithmetic and versions: the settings, the data or the code changed"


def compare(reference, results, *, margin: float = 0.01, alpha: float = 0.05, min_seeds: int = 2) -> Result:
    """Compare the results tree ``results`` with ``reference`` (see the module docstring)."""
    ref, new = Side.load(reference), Side.load(results)
    res = Result(bitwise=True, reproduced=True)
    fingerprints = {"model_sha256", "predictions_sha256"} <= set(ref.runs.columns) & set(new.runs.columns)
    if not fingerprints:  # reports made before mlpsweep fingerprinted runs: only statistics can tell
        res.bitwise = False
    for row in ref.runs.to_dict("records"):
        other = new.run(row["topology"], row["seed"])
        if other is None:
            res.runs.append((row["topology"], row["seed"], "missing", "no such run in the new results"))
            res.bitwise = False
            continue
        same = fingerprints and all(row[c] == other[c] for c in ("model_sha256", "predictions_sha256"))
        res.bitwise &= bool(same)
        res.runs.append(
            (
                row["topology"],
                row["seed"],
                "identical" if same else "different",
                "" if same else (_why_different(row, other) if fingerprints else "no fingerprints to compare"),
            )
        )
    missing = sum(1 for r in res.runs if r[2] == "missing")
    if missing:
        res.problems.append(f"{missing} run(s) of the reference are missing")
    for topology in dict.fromkeys(ref.runs["topology"]):
        a = ref.runs[ref.runs["topology"] == topology].sort_values("seed")
        b = new.runs[new.runs["topology"] == topology].sort_values("seed")
        if not len(b):
            res.topologies.append((topology, None, "not in the new results"))
            res.problems.append(f"topology {topology} is missing")
            continue
        paired = list(a["seed"]) == list(b["seed"])
        v = equivalent(
            a["test_accuracy"].to_numpy(),
            b["test_accuracy"].to_numpy(),
            margin=margin,
            alpha=alpha,
            min_seeds=min_seeds,
            paired=paired,
            what=f"{topology}: test accuracy, new − reference",
        )
        res.topologies.append((topology, v.outcome, v.sentence))
        if v.outcome is not Outcome.SUPPORTED and not res.bitwise:
            res.problems.append(f"{topology} is not shown equivalent ({v.outcome.value})")
    if ref.verdicts is not None:
        new_outcomes = dict(zip(new.verdicts["study"], new.verdicts["outcome"])) if new.verdicts is not None else {}
        for study, outcome in zip(ref.verdicts["study"], ref.verdicts["outcome"]):
            got = new_outcomes.get(study)
            res.studies.append((study, outcome, got))
            if got != outcome:
                res.problems.append(f"study {study}: {outcome} in the reference, {got or 'absent'} now")
    res.reproduced = res.bitwise or not res.problems
    if res.bitwise:
        res.problems = []
    return res


def summary(res: Result, reference, results) -> str:
    """The one-screen text summary."""
    lines = [res.headline, f"reference: {reference}", f"results:   {results}", ""]
    identical = sum(r[2] == "identical" for r in res.runs)
    lines.append(f"runs: {identical} of {len(res.runs)} identical byte for byte")
    reasons: dict = {}
    for topology, seed, status, why in res.runs:
        if status != "identical":
            reasons.setdefault(why, []).append(f"{topology} seed {seed}")
    for why, which in reasons.items():  # one line per reason, naming a few of its runs
        named = ", ".join(which[:3]) + (f" and {len(which) - 3} more" if len(which) > 3 else "")
        lines.append(f"  {len(which)} run(s) ({named}): {why}")
    lines.append("topologies (final test accuracy, equivalence within the margin):")
    for topology, outcome, sentence in res.topologies:
        tag = (
            "equivalent"
            if outcome is Outcome.SUPPORTED
            else ("not equivalent" if outcome is Outcome.CONTRADICTED else "undecided" if outcome else "missing")
        )
        lines.append(f"  {tag}: {sentence}")
    if res.studies:
        lines.append("studies (verdicts):")
        for study, a, b in res.studies:
            lines.append(f"  {study}: {a} → {b or 'absent'}{'' if a == b else '  (changed)'}")
    return "\n".join(lines) + "\n"


def write_pages(res: Result, text: str, out_dir) -> None:
    """``compare.md`` and ``compare.html`` in ``out_dir``."""
    out_dir = Path(out_dir)
    write_text(out_dir / "compare.md", "# Reproduction check\n\n```text\n" + text + "```\n")
    body = html.escape(text)
    colour = "#1a7f37" if res.reproduced else "#b42318"
    write_text(
        out_dir / "compare.html",
        "<!doctype html><html><head><meta charset='utf-8'><title>Reproduction check</title></head><body>"
        f"<h1 style='color:{colour}'>{html.escape(res.headline)}</h1><pre>{body}</pre></body></html>\n",
    )


def run(reference, results, *, margin_pp: float = 1.0, alpha: float = 0.05, out=None) -> int:
    """The command: print the summary, write the pages to ``out`` if given; 0 reproduced, 1 not."""
    if not (math.isfinite(margin_pp) and margin_pp > 0):
        raise CompareError(f"--margin-pp must be a positive number of percentage points, got {margin_pp}")
    res = compare(reference, results, margin=margin_pp / 100, alpha=alpha)
    text = summary(res, reference, results)
    print(text, end="")
    if out is not None:
        write_pages(res, text, out)
    return 0 if res.reproduced else 1
