"""Does a new results tree reproduce a published one?  ``python -m mlpsweep compare REFERENCE RESULTS``.

Each side is a dataset's results folder (``results/{dataset}/``, or its ``report/``).  Nothing is taken from a
report's tables on trust: each tree is first **certified** (:mod:`mlpsweep.certify`) — its run files present,
its accuracies recomputed from its predictions and the test labels, an exact run evaluated again from its
model, its report built again and compared byte for byte, every stray file named.  Then, level by level:

* **data**: the fingerprints of the arrays both trees were evaluated on, recomputed, must agree.
* **run** (topology, seed): the same ``model.npz`` and ``predictions.npy`` bytes, and the same history (its
  timing columns aside)?  Other bytes are explained only between two trees that both computed in native
  arithmetic (a BLAS kernel, a thread count, a SIMD level round otherwise); a tree that claims exact arithmetic
  has one right answer, so other bytes there mean the settings, the data or the code changed.
* **topology**: between native trees, do the final test accuracies (recomputed) agree within ±``margin`` (two
  one-sided tests, :func:`mlpsweep.verdicts.equivalent`)?
* **study**: is every verdict of the rebuilt reports the same?

It says *reproduced bitwise* when both trees are certified and every run of the reference has the same bytes,
*reproduced statistically* when both are certified native trees whose topologies are equivalent and whose
verdicts agree, and *not reproduced* otherwise (with what failed and why).  ``--out`` writes the summary as
Markdown and HTML too.  Exit status 0 reproduced (either way), 1 not.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

from .atomic import write_text
from .certify import CertifyError, Tree, certify, tree_of
from .verdicts import Outcome, equivalent


class CompareError(ValueError):
    """A folder that holds no report to compare (the message names it)."""


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


def _side(tree: Tree, label: str, res: Result) -> None:
    res.problems += [f"{label}: {p}" for p in tree.problems]
    res.notes += [f"{label}: {n}" for n in dict.fromkeys(tree.notes)]


def compare(reference, results, *, margin: float = 0.01, alpha: float = 0.05, min_seeds: int = 2) -> Result:
    """Compare the results tree ``results`` with ``reference`` (see the module docstring).  Every level is
    checked whatever the others found."""
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise CompareError(f"--alpha must be a level between 0 and 1, got {alpha}")
    try:
        new_root, _ = tree_of(results)
        new = certify(new_root)
        ref = certify(reference, data_dir=new_root / "data")
    except CertifyError as exc:
        raise CompareError(str(exc)) from None
    res = Result(bitwise=True, reproduced=True)
    _side(ref, "reference", res)
    _side(new, "results", res)
    if ref.fingerprint and new.fingerprint and ref.fingerprint != new.fingerprint:
        res.problems.insert(
            0,
            f"different datasets: the reference's arrays ({ref.fingerprint[:12]}…) are not the new results' "
            f"({new.fingerprint[:12]}…); their accuracies cannot tell whether the runs reproduce",
        )
    native = ref.modes == new.modes == {"native"}
    _compare_runs(ref, new, res, native)
    identical = _compare_topologies(ref, new, res, native, margin=margin, alpha=alpha, min_seeds=min_seeds)
    _compare_verdicts(ref, new, res, everything_identical=res.bitwise and identical)
    res.reproduced = not res.problems
    res.bitwise = res.bitwise and res.reproduced
    return res


def _compare_runs(ref: Tree, new: Tree, res: Result, native: bool) -> None:
    unexplained = []
    for key, a in ref.runs.items():
        b = new.runs.get(key)
        if b is None:
            res.runs.append((*key, "missing", "no such run in the new results"))
            res.bitwise = False
            continue
        same = (a.model_sha256, a.predictions_sha256) == (b.model_sha256, b.predictions_sha256)
        if same and a.history == b.history:
            res.runs.append((*key, "identical", ""))
            continue
        res.bitwise = False
        if same:
            res.runs.append((*key, "different", "the same model and predictions, another history.csv"))
            res.problems.append(f"{key[0]} seed {key[1]}: the same model and predictions but another history")
        elif native:
            res.runs.append((*key, "different", "different bytes, both trees computed in native arithmetic"))
        else:
            res.runs.append((*key, "different", _why_different(a.mode, b.mode)))
            unexplained.append(f"{key[0]} seed {key[1]}")
    missing = sum(1 for r in res.runs if r[2] == "missing")
    if missing:
        res.problems.append(f"{missing} run(s) of the reference are missing")
    if unexplained:
        named = ", ".join(unexplained[:3]) + (f" and {len(unexplained) - 3} more" if len(unexplained) > 3 else "")
        res.problems.append(
            f"{len(unexplained)} run(s) ({named}) have other bytes, and a tree that claims exact arithmetic has one "
            "right answer: the settings, the data or the code changed"
        )


def _why_different(a: str | None, b: str | None) -> str:
    if a == b == "exact":
        return (
            "different bytes, both made with exact arithmetic, whose bytes no machine, library or thread count "
            "changes: the settings, the data or the code changed"
        )
    return (
        f"different bytes, {a} arithmetic in the reference and {b} in the results: only two native trees may "
        "differ by rounding"
    )


def _accuracies(tree: Tree, topology: str):
    t = tree.table
    return t[t["topology"].astype(str) == topology].sort_values("seed") if t is not None else None


def _compare_topologies(ref: Tree, new: Tree, res: Result, native: bool, **test) -> bool:
    """Each topology's final test accuracy (as the rebuilt reports recompute it), equivalent within the margin
    between native trees (identical runs need no test).  Returns whether every topology's runs were identical."""
    identical_runs = {(t, s) for t, s, status, _ in res.runs if status == "identical"}
    all_identical = True
    for topology in dict.fromkeys(t for t, _ in ref.runs):
        seeds = [s for t, s in ref.runs if t == topology]
        if all((topology, s) in identical_runs for s in seeds):
            res.topologies.append((topology, Outcome.SUPPORTED, f"{topology}: every run identical, byte for byte"))
            continue
        all_identical = False
        a, b = _accuracies(ref, topology), _accuracies(new, topology)
        if not native or a is None or b is None or not len(b):
            res.topologies.append((topology, None, f"{topology}: not identical, and not comparable statistically"))
            continue
        v = equivalent(
            a["test_accuracy"].to_numpy(),
            b["test_accuracy"].to_numpy(),
            paired=list(a["seed"]) == list(b["seed"]),
            what=f"{topology}: test accuracy, new − reference",
            **test,
        )
        res.topologies.append((topology, v.outcome, v.sentence))
        if v.outcome is not Outcome.SUPPORTED:
            res.problems.append(f"{topology} is not shown equivalent ({v.outcome.value})")
    return all_identical


def _compare_verdicts(ref: Tree, new: Tree, res: Result, everything_identical: bool) -> None:
    """Each study's verdicts in the rebuilt reports, by (study, which runs they rest on): the same outcome."""
    if ref.verdicts is None:
        return
    rows = new.verdicts.to_dict("records") if new.verdicts is not None else []
    new_outcomes = {(r["study"], r["on"]): r["outcome"] for r in rows}
    for r in ref.verdicts.to_dict("records"):
        got = new_outcomes.get((r["study"], r["on"]))
        res.studies.append((r["study"], r["on"], r["outcome"], got))
        if got != r["outcome"]:
            which = "" if r["on"] == "primary" else f" ({r['on']})"
            res.problems.append(f"study {r['study']}{which}: {r['outcome']} in the reference, {got or 'absent'} now")


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


PAGES = ("compare.md", "compare.html")


def check_out(out_dir) -> None:
    """Refuse an ``--out`` that is a file, or that holds a ``compare.md``/``compare.html`` this command did not
    write (before anything is compared)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CompareError(f"--out {out_dir} is a file; give a folder for {' and '.join(PAGES)}")
    for name in PAGES:
        page = out_dir / name
        if page.exists() and "Reproduction check" not in page.read_text(encoding="utf-8", errors="replace")[:400]:
            raise CompareError(f"--out {out_dir}: {page} exists and is not a page this command wrote; move it away")


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
    if not (math.isfinite(margin_pp) and 0 < margin_pp <= 100):
        raise CompareError(f"--margin-pp must be a number of percentage points in (0, 100], got {margin_pp}")
    if out is not None:
        check_out(out)
    res = compare(reference, results, margin=margin_pp / 100, alpha=alpha)
    text = summary(res, reference, results)
    print(text, end="")
    if out is not None:
        write_pages(res, text, out)
    return 0 if res.reproduced else 1
