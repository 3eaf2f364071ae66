"""Does a new results tree reproduce a published one?  ``python -m mlpsweep compare REFERENCE RESULTS``.

Each side is a report folder (``runs.csv``, ``comparison.csv``, ``verdicts.csv``)
or a dataset's results folder that holds one in ``report/``.  The check, level
by level:

* **data**: were both trained on the same dataset (its name and a fingerprint
  of its preprocessed arrays)?  Different datasets are named as such.
* **run** (topology, seed): are ``model.npz`` and ``predictions.npy`` the same
  bytes?  Where the files lie beside the report (a dataset's results folder) they
  are hashed themselves, and a file whose bytes are not those ``runs.csv``
  records is named.  If the bytes differ, were the two made with the same
  arithmetic (mode, BLAS kernel and threads, NumPy SIMD level, versions, C
  library: ``arithmetic``)?  Different arithmetic explains different bytes; the
  same arithmetic means the settings, the data or the code changed, which fails
  the check.  Identical bytes with another accuracy in ``runs.csv`` mean an
  edited table, which fails it too.
* **topology**: do the final test accuracies agree within ±``margin`` (two one-sided
  tests, :func:`mlpsweep.verdicts.equivalent`)?  Runs of the same seeds are
  compared pair by pair (the interval of the mean paired difference), other
  seed sets as two groups (Welch).
* **study**: is every verdict the same, keyed by (study, the runs it rests on:
  all of them, or those that trained)?

Every level is checked whatever another found.  It says *reproduced bitwise*
when every run of the reference has the same bytes in the new tree and nothing
else failed, *reproduced statistically* when the bytes differ for a reason the
arithmetic explains but every topology is equivalent and every verdict the
same, and *not reproduced* otherwise (with what failed and why).  The summary is
one screen of text; ``--out`` writes it as Markdown and HTML too.  Exit status 0
reproduced (either way), 1 not.
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


def _read_csv(path: Path, **kw) -> pd.DataFrame:
    """A report table, or :class:`CompareError` naming the file when it cannot be read."""
    try:
        return pd.read_csv(path, **kw)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise CompareError(f"{path}: not a readable table ({type(exc).__name__}: {exc}); rebuild the report") from None


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: The run files a report fingerprints, where they lie in the dataset's results tree.
RUN_FILES = {
    "model_sha256": "models/{topology}/seed{seed}/model.npz",
    "predictions_sha256": "eval/{topology}/seed{seed}/predictions.npy",
}


@dataclass
class Side:
    folder: Path
    runs: pd.DataFrame
    verdicts: pd.DataFrame | None
    tree: Path | None = None  # the dataset's results folder whose run files lie beside the report
    changed: list = field(default_factory=list)  # files whose bytes are not what runs.csv says

    @classmethod
    def load(cls, path) -> Side:
        folder = report_folder(path)
        runs = _read_csv(folder / "runs.csv")
        missing = {"topology", "seed", "status", "test_accuracy"} - set(runs.columns)
        if missing:
            raise CompareError(f"{folder / 'runs.csv'}: lacks the columns {sorted(missing)}")
        verdicts = None
        if (folder / "verdicts.csv").is_file():
            verdicts = _read_csv(folder / "verdicts.csv", keep_default_na=False)
            if "on" not in verdicts.columns:  # a report from before the second verdict on the runs that trained
                verdicts["on"] = "primary"
        side = cls(folder, runs, verdicts)
        side.hash_files()
        return side

    def hash_files(self) -> None:
        """Fingerprint the run files themselves where they lie beside the report (``results/{dataset}/`` holds
        ``report/``, ``models/`` and ``eval/``; a study's report lies deeper): the check rests on the bytes, not
        on what ``runs.csv`` says of them.  A file whose bytes differ from the recorded hash is named."""
        self.tree = next(
            (p for p in self.folder.parents[:3] if (p / "models").is_dir() and (p / "eval").is_dir()), None
        )
        if self.tree is None or not set(RUN_FILES) <= set(self.runs.columns):
            return
        for i, row in self.runs.iterrows():
            for column, pattern in RUN_FILES.items():
                path = self.tree / pattern.format(topology=row["topology"], seed=row["seed"])
                if not path.is_file():
                    continue
                actual = _sha256(path)
                if actual != row[column]:
                    self.changed.append(path)
                    self.runs.at[i, column] = actual

    def run(self, topology: str, seed: int) -> dict | None:
        r = self.runs[(self.runs["topology"] == topology) & (self.runs["seed"] == seed)]
        return r.iloc[0].to_dict() if len(r) else None

    @property
    def dataset(self) -> tuple | None:
        """(name, fingerprint of its preprocessed arrays) the runs were trained on, where the report says."""
        if "dataset_sha256" not in self.runs.columns or not len(self.runs):
            return None
        return self.runs["dataset"].iloc[0], self.runs["dataset_sha256"].iloc[0]


@dataclass
class Result:
    bitwise: bool
    reproduced: bool
    runs: list = field(default_factory=list)  # (topology, seed, status, why)
    topologies: list = field(default_factory=list)  # (topology, outcome, sentence)
    studies: list = field(default_factory=list)  # (study, which runs, reference outcome, new outcome)
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)

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


#: What decides the bits, as ``arithmetic`` records it (mlpsweep.arithmetic.describe).
ARITHMETIC_KEYS = ("mode", "blas", "blas_threads", "numpy_simd", "numpy", "libc", "machine")


def _why_different(a: dict, b: dict) -> tuple[str, bool]:
    """Why two runs of the same (topology, seed) have other bytes, and whether that explains it: other arithmetic
    does; the same arithmetic means the settings, the data or the code changed."""
    x, y = _arithmetic(a), _arithmetic(b)
    if x is None or y is None:
        return "different bytes; one side did not record its arithmetic, so the cause is not known", False
    if x.get("mode") == y.get("mode") == "exact":
        return (
            "different bytes, both made with exact arithmetic, whose bytes no machine, library or thread count "
            "changes: the settings, the data or the code changed",
            False,
        )
    changed = [
        f"{k} {'+'.join(x.get(k)) if isinstance(x.get(k), list) else x.get(k)} → "
        f"{'+'.join(y.get(k)) if isinstance(y.get(k), list) else y.get(k)}"
        for k in ARITHMETIC_KEYS
        if x.get(k) != y.get(k)
    ]
    if changed:
        return "different bytes, made with different arithmetic: " + ", ".join(changed), True
    return "different bytes with the same arithmetic and versions: the settings, the data or the code changed", False


def compare(reference, results, *, margin: float = 0.01, alpha: float = 0.05, min_seeds: int = 2) -> Result:
    """Compare the results tree ``results`` with ``reference`` (see the module docstring).  Every level is
    checked whatever the others found: identical bytes do not excuse an edited table."""
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise CompareError(f"--alpha must be a level between 0 and 1, got {alpha}")
    ref, new = Side.load(reference), Side.load(results)
    res = Result(bitwise=True, reproduced=True)
    for side in (ref, new):
        for path in side.changed:
            res.problems.append(f"{path}: its bytes are not those runs.csv records (changed after the report)")
        if side.tree is None:
            res.notes.append(
                f"{side.folder}: the run files are not beside this report; its runs.csv's fingerprints "
                "are taken as they are"
            )
    if ref.dataset and new.dataset and ref.dataset != new.dataset:
        (a, x), (b, y) = ref.dataset, new.dataset
        res.problems.insert(
            0,
            f"different datasets: the reference was trained on {a} ({x[:12]}…), the new results "
            f"on {b} ({y[:12]}…); their accuracies cannot tell whether the runs reproduce",
        )
    _compare_runs(ref, new, res)
    identical_topologies = _compare_topologies(ref, new, res, margin=margin, alpha=alpha, min_seeds=min_seeds)
    _compare_verdicts(ref, new, res, everything_identical=res.bitwise and identical_topologies)
    res.reproduced = not res.problems
    res.bitwise = res.bitwise and res.reproduced
    return res


def _compare_runs(ref: Side, new: Side, res: Result) -> None:
    fingerprints = set(RUN_FILES) <= set(ref.runs.columns) & set(new.runs.columns)
    if not fingerprints:  # reports made before mlpsweep fingerprinted runs: only statistics can tell
        res.bitwise = False
    unexplained = []
    for row in ref.runs.to_dict("records"):
        other = new.run(row["topology"], row["seed"])
        if other is None:
            res.runs.append((row["topology"], row["seed"], "missing", "no such run in the new results"))
            res.bitwise = False
            continue
        same = fingerprints and all(row[c] == other[c] for c in RUN_FILES)
        res.bitwise &= bool(same)
        if same:
            res.runs.append((row["topology"], row["seed"], "identical", ""))
            if not _same_number(row["test_accuracy"], other["test_accuracy"]):
                res.problems.append(
                    f"{row['topology']} seed {row['seed']}: the same model and predictions, byte for "
                    "byte, but another test accuracy in runs.csv (a table was edited)"
                )
            continue
        why, explained = _why_different(row, other) if fingerprints else ("no fingerprints to compare", True)
        res.runs.append((row["topology"], row["seed"], "different", why))
        if not explained:
            unexplained.append(f"{row['topology']} seed {row['seed']}")
    missing = sum(1 for r in res.runs if r[2] == "missing")
    if missing:
        res.problems.append(f"{missing} run(s) of the reference are missing")
    if unexplained:
        named = ", ".join(unexplained[:3]) + (f" and {len(unexplained) - 3} more" if len(unexplained) > 3 else "")
        res.problems.append(
            f"{len(unexplained)} run(s) ({named}) have other bytes that their recorded arithmetic does not "
            "explain (the same, or exact on both sides): the settings, the data or the code changed"
        )


def _same_number(a, b) -> bool:
    return (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)) or a == b


def _compare_topologies(ref: Side, new: Side, res: Result, **test) -> bool:
    """Each topology's final test accuracy, equivalent within the margin (identical runs need no test).  Returns
    whether every topology's runs were identical."""
    identical_runs = {(t, s) for t, s, status, _ in res.runs if status == "identical"}
    all_identical = True
    for topology in dict.fromkeys(ref.runs["topology"]):
        a = ref.runs[ref.runs["topology"] == topology].sort_values("seed")
        b = new.runs[new.runs["topology"] == topology].sort_values("seed")
        if not len(b):
            res.topologies.append((topology, None, "not in the new results"))
            res.problems.append(f"topology {topology} is missing")
            all_identical = False
            continue
        paired = list(a["seed"]) == list(b["seed"])
        if (
            paired
            and all((topology, s) in identical_runs for s in a["seed"])
            and all(_same_number(x, y) for x, y in zip(a["test_accuracy"], b["test_accuracy"]))
        ):
            res.topologies.append((topology, Outcome.SUPPORTED, f"{topology}: every run identical, byte for byte"))
            continue
        all_identical = False
        v = equivalent(
            a["test_accuracy"].to_numpy(),
            b["test_accuracy"].to_numpy(),
            paired=paired,
            what=f"{topology}: test accuracy, new − reference",
            **test,
        )
        res.topologies.append((topology, v.outcome, v.sentence))
        if v.outcome is not Outcome.SUPPORTED:
            res.problems.append(f"{topology} is not shown equivalent ({v.outcome.value})")
    return all_identical


def _compare_verdicts(ref: Side, new: Side, res: Result, everything_identical: bool) -> None:
    """Each study's verdicts, by (study, which runs they rest on): the same outcome."""
    if ref.verdicts is None:
        return
    rows = new.verdicts.to_dict("records") if new.verdicts is not None else []
    new_outcomes = {(r["study"], r["on"]): r["outcome"] for r in rows}
    for r in ref.verdicts.to_dict("records"):
        got = new_outcomes.get((r["study"], r["on"]))
        res.studies.append((r["study"], r["on"], r["outcome"], got))
        if got != r["outcome"]:
            which = "" if r["on"] == "primary" else f" ({r['on']})"
            edited = " though every run is identical (verdicts.csv was edited, or other code built it)"
            res.problems.append(
                f"study {r['study']}{which}: {r['outcome']} in the reference, {got or 'absent'} now"
                + (edited if everything_identical else "")
            )


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
        for study, on, a, b in res.studies:
            which = "" if on == "primary" else f" ({on})"
            lines.append(f"  {study}{which}: {a} → {b or 'absent'}{'' if a == b else '  (changed)'}")
    lines += [f"note: {n}" for n in res.notes]
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
