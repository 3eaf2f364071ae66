"""Kind ``compare``: topologies side by side on final test accuracy over seeds.

Two claims can be read from such a group (config key ``expect``):

``deeper_not_better``   "a deeper network is not automatically better": every
                        deeper topology against the shallowest one, by
                        non-superiority with the margin ``margin_pp``.  Supported
                        when every deeper net's (1 − 2α) upper end is below the
                        margin; contradicted when some deeper net is better by
                        more than the margin (one-sided tests, Holm over
                        the deeper nets); otherwise inconclusive.
``alternatives_better`` "some alternative beats the first topology (the lecture's
                        recipe)": each alternative by superiority with the
                        margin.  Supported when at least one alternative's
                        one-sided test rejects after Holm; contradicted when every
                        alternative's upper end is below the margin; otherwise
                        inconclusive.

Each claim has two parts (:data:`PARTS`), and the primary verdict — what a
user of the recipe gets — needs both: the runs that *trained* (stuck runs, a
class (almost) never predicted on validation, and diverged ones left out),
compared by the difference of their 25 % trimmed means (Yuen's test,
:data:`mlpsweep.verdicts.TRIM`: runs that fail partly and one-sided skew do
not move it past α), and how often runs *fail* to train, by an exact
unconditional test of the two rates.  The report gives each part's verdict too.

With ``replication`` the study is sequential (:mod:`mlpsweep.sequential`):
its ``look`` job decides the primary verdict at each look's nominal level and
says whether to stop; the report decides at the level of the look it stopped
at, on the seeds it had then, and says how many looks and runs it took.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import verdicts as v
from ..sequential import Design
from ..verdicts import Outcome, Verdict
from ..report.sections import dead_classes
from .base import (
    ACC_HEADER,
    Data,
    Section,
    StageNotPlanned,
    StudyKind,
    accuracy_rows,
    runs_of,
    thresholds,
)


@dataclass(frozen=True)
class Arm:
    """One topology's runs as a verdict reads them: the test accuracies of the runs that trained, and how many
    of its judged runs failed to train (stuck or diverged; None where failures are not looked for)."""

    name: str
    trained: np.ndarray
    depth: int = 0
    failed: int | None = None
    runs: int = 0

    @classmethod
    def of(cls, item, with_depth: bool) -> "Arm":
        """An :class:`Arm` from one, or from a tuple (name[, depth], accuracies[, failed, runs])."""
        if isinstance(item, Arm):
            return item
        name, *rest = item
        depth = rest.pop(0) if with_depth else 0
        acc = np.asarray(rest.pop(0), dtype=np.float64)
        failed, runs = (rest + [None, 0])[:2]
        return cls(name, acc, depth, failed, runs)


#: The parts of a primary verdict: the runs that trained, and how often runs fail to train.
PARTS = ("trained", "failures")
TRAINED_PART = "the runs that trained (stuck and diverged runs left out)"
FAILURE_PART = "how often runs fail to train (stuck or diverged)"
TRAINED_PART_SHORT, FAILURE_PART_SHORT = "1 · runs that trained", "2 · failing to train"
#: What part 1's difference is about, in one sentence (the report's and config/README.md's).
ESTIMAND = (
    f"Part 1 compares the {100 * v.TRIM:g} % trimmed means of the runs that trained: each topology's test "
    f"accuracies without their lowest and highest {100 * v.TRIM:g} % — what a typical trained run reaches, which "
    "runs that fail partly (a few points low) move little."
)


def _parts(arms, parts, failure_margin) -> tuple[bool, bool]:
    """Which parts a decision uses: the failure part only with a margin and counts on every side."""
    rates = "failures" in parts and failure_margin is not None and all(a.failed is not None for a in arms)
    return "trained" in parts, rates


def decide_deeper_not_better(
    groups,
    *,
    margin: float,
    alpha: float,
    min_seeds: int,
    power: float = 0.8,
    plan_alpha: float | None = None,
    failure_margin: float | None = None,
    df: str = "min",
    trim: float = v.TRIM,
    parts: tuple = PARTS,
) -> Verdict:
    """“No deeper network is better than the shallowest” for a user of the recipe.  ``groups``: (topology,
    depth, accuracies of the runs that trained[, failed runs, judged runs]) or :class:`Arm`, in the study's
    order.  For every deeper net B against the shallowest A the claim has two parts (``parts``):

    * trained: B's trained runs are not better than A's by ``margin`` or more: the difference of their
      ``trim``-trimmed means (:data:`verdicts.TRIM`), Yuen's statistic on min(h_A, h_B) − 1 degrees of
      freedom (``df``; :func:`verdicts.not_better`);
    * failures: B does not fail to train less often than A by ``failure_margin`` or more (exact unconditional
      test of the two rates, :func:`verdicts.failures_claim`) — only with a failure margin and counts.

    Supported when every part of every deeper net is supported at α (an intersection–union test: Berger 1982,
    no correction needed); contradicted when some part's opposite is shown after Holm over all the parts'
    one-sided p-values; otherwise inconclusive."""
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    arms = [Arm.of(g, True) for g in groups]
    depths = sorted({a.depth for a in arms})
    if len(depths) < 2:
        return Verdict(
            Outcome.INCONCLUSIVE, "inconclusive: the study ran only one depth, so depth cannot be judged.", {}, th
        )
    use_trained, use_rates = _parts(arms, parts, failure_margin)
    if use_rates:
        th["failure_margin_pp"] = 100 * failure_margin
    shallow = next(a for a in arms if a.depth == depths[0])
    deeper = [a for a in arms if a.depth > depths[0]]
    k = len(deeper) * (use_trained + use_rates)
    trained = dict(
        margin=margin, alpha=alpha, min_seeds=min_seeds, power=power, plan_alpha=plan_alpha, df=df, trim=trim
    )
    unit = "seed that trained" if all(x.failed is not None for x in arms) else "finished seed"
    checks = []  # (kind, arm, verdict, one-sided p of its opposite)
    for a in deeper:
        what = f"{a.name} − {shallow.name}"
        if use_trained:
            part = v.not_better(shallow.trained, a.trained, what=what, holm_k=k, unit=unit, **trained)
            d = v.difference(shallow.trained, a.trained, alpha, power, df, trim)
            checks.append(("trained", a, part, v.one_sided_p(d, margin, greater=True)))
        if use_rates:
            part = v.failures_claim(
                shallow.failed, shallow.runs, a.failed, a.runs, margin=failure_margin, alpha=alpha, sign=-1, what=what
            )
            checks.append(("failures", a, part, part.numbers.get("p_contradict", math.nan)))
    rejected = v.holm([c[3] for c in checks], alpha)
    shown = [r and c[2].outcome is Outcome.CONTRADICTED for c, r in zip(checks, rejected)]
    nums = {"comparisons": [], "failures": []}
    for (kind, a, part, p), r, x in zip(checks, rejected, shown):
        # the comparison's own outcome in the primary verdict: contradicted only where Holm shows it
        own = part.outcome if part.outcome is not Outcome.CONTRADICTED or x else Outcome.INCONCLUSIVE
        row = {**part.numbers, "holm_rejected": r, "topology": a.name, "base": shallow.name, "outcome": own.value}
        if kind == "trained":
            nums["comparisons"].append({**row, "p_better_than_margin": p})
        else:
            nums["failures"].append(row)
    names = {"trained": "part 1 (the runs that trained)", "failures": "part 2 (how often runs fail to train)"}

    def part_outcome(kind: str) -> Outcome:
        mine = [(c, x) for c, x in zip(checks, shown) if c[0] == kind]
        if any(x for _, x in mine):
            return Outcome.CONTRADICTED
        return Outcome.SUPPORTED if all(c[2].outcome is Outcome.SUPPORTED for c, _ in mine) else Outcome.INCONCLUSIVE

    both = use_trained and use_rates
    summary = "; ".join(f"{names[kind]}: {part_outcome(kind).value}" for kind in PARTS) + " — both must hold. "
    summary = summary[:1].upper() + summary[1:] if both else ""
    if any(shown):
        words = {
            "trained": "its trained runs are better by more than the margin",
            "failures": "it fails to train less often by more than the failure margin",
        }
        which = "; ".join(f"{c[1].name}: {words[c[0]]}" for c, x in zip(checks, shown) if x)
        text = " ".join(c[2].sentence for c, x in zip(checks, shown) if x)
        return Verdict(
            Outcome.CONTRADICTED,
            f"a deeper network is better than the shallowest — {which} (Holm over {k} tests). {summary}{text}",
            nums,
            th,
        )
    claim = {
        (True, True): "no deeper network is better than the shallowest for a user of the recipe: none has trained "
        "runs better by the margin or fails to train less often by the failure margin (each part at α, an "
        "intersection–union test)",
        (True, False): "no deeper network is better than the shallowest by the margin or more",
        (False, True): "no deeper network fails to train less often than the shallowest by the failure margin or more",
    }.get((use_trained, use_rates), "")
    if checks and all(c[2].outcome is Outcome.SUPPORTED for c in checks):
        return Verdict(Outcome.SUPPORTED, f"{claim}. {' '.join(c[2].sentence for c in checks)}", nums, th)
    question = {
        (True, True): "a deeper network is better for a user of the recipe",
        (True, False): "depth helps by the margin",
        (False, True): "a deeper network fails to train less often by the failure margin",
    }.get((use_trained, use_rates), "depth helps")
    open_ = " ".join(c[2].sentence for c in checks if c[2].outcome is not Outcome.SUPPORTED)
    return Verdict(Outcome.INCONCLUSIVE, f"the data cannot tell whether {question}. {summary}{open_}", nums, th)


def decide_alternatives_better(
    base,
    alternatives,
    *,
    margin: float,
    alpha: float,
    min_seeds: int,
    power: float = 0.8,
    plan_alpha: float | None = None,
    failure_margin: float | None = None,
    df: str = "min",
    trim: float = v.TRIM,
    parts: tuple = PARTS,
) -> Verdict:
    """ "Some alternative is better than the first topology" for a user.  ``base``: (topology, accuracies of the
    runs that trained[, failed, judged runs]) or :class:`Arm`; ``alternatives``: a list of the same.  An
    alternative B is better than the base A when both parts (``parts``) hold:

    * trained: B's trained runs beat A's by more than ``margin`` (their trimmed means, Yuen,
      :func:`verdicts.better`);
    * failures: B does not fail to train more often than A by ``failure_margin`` or more (exact unconditional
      test, :func:`verdicts.failures_claim`) — only with a failure margin and counts.

    Supported when some alternative's intersection–union p-value (the larger of its parts') is rejected by
    Holm over the alternatives; contradicted when every alternative has a part whose opposite is shown at
    α / (its number of parts) (Bonferroni over the parts of a union); otherwise inconclusive."""
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    if not alternatives:
        return Verdict(Outcome.INCONCLUSIVE, "inconclusive: the study has no alternative to compare.", {}, th)
    a0 = Arm.of(base, False)
    alts = [Arm.of(x, False) for x in alternatives]
    use_trained, use_rates = _parts([a0, *alts], parts, failure_margin)
    if use_rates:
        th["failure_margin_pp"] = 100 * failure_margin
    n_parts = use_trained + use_rates
    trained = dict(
        margin=margin, alpha=alpha, min_seeds=min_seeds, power=power, plan_alpha=plan_alpha, df=df, trim=trim
    )
    unit = "seed that trained" if all(x.failed is not None for x in [a0, *alts]) else "finished seed"
    rows, p_support, excluded, sentences = [], [], [], []
    for b in alts:
        what = f"{b.name} − {a0.name}"
        sup, con, row = [], [], {"topology": b.name}
        if use_trained:
            part = v.better(a0.trained, b.trained, what=what, holm_k=len(alts), unit=unit, **trained)
            d = v.difference(a0.trained, b.trained, alpha, power, df, trim)
            sup.append(part.numbers["p_one_sided"])
            con.append(v.one_sided_p(d, margin, greater=False))
            row.update(part.numbers, outcome=part.outcome.value, base=a0.name)
            sentences.append(part.sentence)
        if use_rates:
            part = v.failures_claim(
                a0.failed, a0.runs, b.failed, b.runs, margin=failure_margin, alpha=alpha, sign=1, what=what
            )
            sup.append(part.numbers["p_support"])
            con.append(part.numbers["p_contradict"])
            row["failures"] = {**part.numbers, "outcome": part.outcome.value}
            sentences.append(part.sentence)
        p_support.append(max(sup) if not any(math.isnan(x) for x in sup) else math.nan)
        excluded.append(any(x <= alpha / n_parts for x in con if not math.isnan(x)))
        rows.append(row)
    rejected = v.holm(p_support, alpha)
    for row, p, r in zip(rows, p_support, rejected):
        row.update({"p_better": p, "holm_rejected": r})
    nums = {"comparisons": rows}
    text = " ".join(sentences)
    rule = (
        " for a user of the recipe (trained runs better by the margin and not failing to train more often by the "
        "failure margin; the larger p of the two parts)"
        if use_rates and use_trained
        else " and does not fail to train more often by the failure margin or more"
        if use_rates
        else ""
    )
    winners = [b.name for b, r in zip(alts, rejected) if r]
    if winners:
        return Verdict(
            Outcome.SUPPORTED,
            f"{', '.join(winners)} beat{'s' if len(winners) == 1 else ''} {a0.name} by more than the margin{rule} "
            f"(one-sided tests, Holm over {len(alts)} alternatives). {text}",
            nums,
            th,
        )
    if all(excluded):
        return Verdict(
            Outcome.CONTRADICTED,
            f"every alternative is shown not to beat {a0.name}: each has trained runs below the margin or fails to "
            f"train more often by the failure margin (each part at α/{n_parts}). {text}"
            if use_rates
            else f"every alternative's interval lies below the margin: none beats {a0.name}. {text}",
            nums,
            th,
        )
    return Verdict(
        Outcome.INCONCLUSIVE,
        f"no alternative is shown to beat {a0.name} by the margin{rule} after Holm's correction, nor excluded. {text}",
        nums,
        th,
    )


#: A run's metrics, where the workflow's evaluate rule writes them.
METRICS = "results/{dataset}/eval/{topology}/seed{seed}/metrics.json"


def look_seeds(definition: dict, look: int) -> list[int]:
    """The seeds per topology a sequential study has at ``look`` (1, 2, …)."""
    return definition["replication"]["seeds"][: Design.of(definition).sizes[look - 1]]


def look_finding(doc: dict, runs: int) -> str:
    """How a sequential study went: its design, each look's outcome, where it stopped and what it used."""
    looks = "; ".join(f"{x['seeds_per_topology']} seeds: {x['outcome']} (level {x['level']:.2g})" for x in doc["looks"])
    last = doc["looks"][-1]
    why = "its verdict was decided" if last["outcome"] != "inconclusive" else "it reached the planned maximum"
    return (
        f"Sequential design: {doc['design']}. It took {len(doc['looks'])} look{'s' if len(doc['looks']) > 1 else ''} "
        f"and {runs} runs ({last['seeds_per_topology']} seeds per topology) and stopped because {why}; the verdicts "
        f"here are decided at that look's level. Looks: {looks}."
    )


def write_look(kind_, arguments: dict, out: str) -> None:
    """One look of a sequential study: its primary verdict at the look's nominal level, and whether to stop."""
    import json

    from ..atomic import write_json
    from ..report.comparison import read_runs

    study, look = arguments["study"], int(arguments["look"])
    design = Design.of(study)
    level = design.levels[look - 1]
    metrics = {}
    for path in arguments["metrics"]:
        with open(path, encoding="utf-8") as fh:
            m = json.load(fh)
        metrics[(m["topology"], m["seed"])] = m
    runs = read_runs(arguments["metrics"])
    data = Data(
        runs=runs, hist=None, metrics=metrics, labels={}, study_files={}, plot_dir=None, dataset="", reference={}
    )
    verdict = kind_.decide(
        study,
        data,
        runs,
        dict(
            margin=study["margin_pp"] / 100,
            alpha=level,
            min_seeds=study["min_seeds"],
            power=study["power"],
            plan_alpha=study["alpha"],
            df="min",
        ),
    )
    previous = []
    if arguments.get("previous"):
        with open(arguments["previous"], encoding="utf-8") as fh:
            previous = json.load(fh)["looks"]
    n = design.sizes[look - 1]
    looks = previous + [
        {
            "look": look,
            "seeds_per_topology": n,
            "level": level,
            "outcome": verdict.outcome.value,
            "sentence": verdict.sentence,
        }
    ]
    stop = verdict.outcome is not Outcome.INCONCLUSIVE or look == design.looks
    write_json(
        out,
        {
            "study": study["name"],
            "design": design.describe(),
            "looks": looks,
            "stop": stop,
            "seeds": study["replication"]["seeds"][:n],
            "level": level,
            "runs": len(runs),
        },
    )


def stuck_finding(r, stuck, dead: dict, base: str) -> str:
    """The study's stuck runs by name, and each topology's stuck count against the first's (Fisher's exact test)."""
    from ..stats import fisher_exact

    names = "; ".join(
        f"{t} seed {s} (class{'es' if len(dead[(t, s)]) > 1 else ''} {', '.join(map(str, dead[(t, s)]))})"
        for t, s in zip(stuck["topology"], stuck["seed"])
    )
    judged = {t: [k for k in dead if k[0] == t and dead[k] is not None] for t in dict.fromkeys(r["topology"])}
    count = {t: (sum(bool(dead[k]) for k in ks), len(ks)) for t, ks in judged.items()}
    kb, nb = count.get(base, (0, 0))
    tests = [
        f"{t} {k}/{n} against {base} {kb}/{nb}: p = {fisher_exact(k, n, kb, nb):.2g}"
        for t, (k, n) in count.items()
        if t != base and n and nb
    ]
    return f"Stuck (a class (almost) never predicted on validation): {names}. " + (
        f"Stuck runs compared with {base} (Fisher's exact test, two-sided, no correction): " + "; ".join(tests) + "."
        if tests
        else ""
    )


PARTS_HEADER = ["part", "pair", "verdict", "difference", "interval or test", "why"]


def _trained_row(r: dict, expect: str, margin_pp: float) -> list[str]:
    """A trained-part comparison as a row of the verdict's table (numbers from :func:`verdicts.difference`)."""
    finite = math.isfinite(r["low"]) and math.isfinite(r["high"])
    what = f" ({100 * r['trim']:g} % trimmed means of {r['n_b']} and {r['n_a']} runs)" if r.get("trim") else ""
    interval = "no interval"
    if finite:
        interval = v.Difference(**{k: r[k] for k in v.Difference.__dataclass_fields__}).interval_text()
    below, above = finite and 100 * r["high"] < margin_pp, finite and 100 * r["low"] > margin_pp
    if not finite:
        why = "too few runs on a side for an interval"
    elif expect == "deeper_not_better":
        why = {
            "supported": f"the interval lies below the {margin_pp:g} pp margin",
            "contradicted": "better by more than the margin (Holm over the tests)",
        }.get(r["outcome"], "above the margin at α, not after Holm" if above else "the interval contains the margin")
    else:
        why = {
            "supported": f"the interval lies above the {margin_pp:g} pp margin",
            "contradicted": "the interval lies below the margin",
        }.get(r["outcome"], "the interval lies below the margin" if below else "the interval contains the margin")
    diff = f"{100 * r['diff']:+.2f} pp{what}" if math.isfinite(r["diff"]) else "—"
    return [TRAINED_PART_SHORT, f"{r['topology']} − {r['base']}", r["outcome"], diff, interval, why]


def _failure_row(f: dict, pair: str, sign: int, margin_pp: float) -> list[str]:
    """A failure-part comparison as a row of the verdict's table (numbers from :func:`verdicts.failures_claim`)."""
    side = "less" if sign < 0 else "more"
    why = {
        "supported": f"not {side} often by the {margin_pp:g} pp margin or more",
        "contradicted": f"{side} often by more than the {margin_pp:g} pp margin",
    }.get(f["outcome"], "neither shown with this many runs")
    test = f"exact test: p = {f['p_support']:.2g} for, {f['p_contradict']:.2g} against" if "p_support" in f else ""
    counts = f"{f['k_b']}/{f['n_b']} against {f['k_a']}/{f['n_a']} failed" if "k_a" in f else "—"
    return [FAILURE_PART_SHORT, pair, f["outcome"], counts, test, why]


def parts_table(verdict: Verdict, expect: str, margin_pp: float, failure_margin_pp: float) -> list[list[str]]:
    """The primary verdict's parts, one row per comparison and part, in the order decided."""
    rows = []
    if expect == "deeper_not_better":
        rows += [_trained_row(r, expect, margin_pp) for r in verdict.numbers.get("comparisons", [])]
        rows += [
            _failure_row(f, f"{f['topology']} − {f['base']}", -1, failure_margin_pp)
            for f in verdict.numbers.get("failures", [])
        ]
        return rows
    for r in verdict.numbers.get("comparisons", []):
        if "diff" in r:
            rows.append(_trained_row(r, expect, margin_pp))
        if "failures" in r:
            rows.append(_failure_row(r["failures"], f"{r['topology']} − {r.get('base', '')}", 1, failure_margin_pp))
    return rows


def verdict_brief(verdict: Verdict, expect: str) -> str:
    """One line for the primary verdict above its parts' table: what decided it (from its numbers)."""

    def by_part(outcome: str) -> str:
        names = {
            part: [r["topology"] for r in verdict.numbers.get(key, []) if r.get("outcome") == outcome]
            for part, key in (("1", "comparisons"), ("2", "failures"))
        }
        return "; ".join(f"part {p} for {', '.join(n)}" for p, n in names.items() if n)

    if verdict.outcome is Outcome.SUPPORTED:
        if expect == "deeper_not_better":
            return "Every part holds for every deeper net, each at α (an intersection–union test)."
        return "An alternative has both parts shown, after Holm over the alternatives."
    if verdict.outcome is Outcome.CONTRADICTED:
        return f"Shown against the claim: {by_part('contradicted')}."
    if expect == "alternatives_better":
        return "No alternative has both parts shown after Holm, nor is every alternative excluded."
    return f"Not decided: {by_part('inconclusive')}."


class Compare(StudyKind):
    name = "compare"
    verdict_keys = ("alpha", "min_seeds", "margin_pp", "failure_margin_pp", "stuck_below")
    summary = "topologies side by side; a verdict on depth (non-superiority) or on alternatives (superiority)"
    options = {
        "expect": {
            "enum": ["deeper_not_better", "alternatives_better"],
            "default": "deeper_not_better",
            "description": "The claim: deeper_not_better (no deeper topology beats the shallowest by the margin) "
            "or alternatives_better (some topology beats the first by the margin).",
        },
        "margin_pp": {
            "type": "number",
            "minimum": 0,
            "maximum": 100,
            "default": 1.0,
            "description": "The margin δ in percentage points of test accuracy that a difference of the runs "
            "that trained must exceed to count as better.",
        },
        "failure_margin_pp": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 100,
            "default": 20.0,
            "description": "The margin ε in percentage points of the rate of runs that fail to train (stuck or "
            "diverged) that a difference of rates must exceed to count: the verdict's second part. The default "
            "20 pp is the smallest round margin that 30 seeds per topology without a failure can decide at a "
            "sequential design's last look (10 pp needs 29 seeds at α = 0.05 and 45 at Pocock's last level).",
        },
    }
    plots = ()
    pairwise = True
    sequential = True

    def decided_pairs(self, definition: dict, depth: dict) -> list[tuple[str, str]]:
        """Every deeper topology against the shallowest (``deeper_not_better``), or every alternative against the
        first (``alternatives_better``)."""
        topos = [t for t in definition["topologies"] if t in depth]
        if not topos:
            return []
        if definition.get("expect", self.options["expect"]["default"]) == "deeper_not_better":
            base = min(topos, key=lambda t: depth[t])
            return [(base, t) for t in topos if depth[t] > depth[base]]
        return [(topos[0], t) for t in topos[1:]]

    # -- sequential seeds (``replication``): a stage is a look; its decision says whether to stop ------------------
    def stages(self, definition: dict) -> int:
        return Design.of(definition).looks if definition.get("replication") else 0

    def stage_inputs(self, study: str, definition: dict, dataset: str, stage: int, decided) -> list[str]:
        """Look ``stage`` decides on the metrics of every seed up to it; a look after the first exists only if the
        one before did not stop."""
        if stage > 1 and decided(stage - 1)["stop"]:
            raise StageNotPlanned(f"study {study} stopped at look {stage - 1}; look {stage} is not planned")
        return [
            METRICS.format(dataset=dataset, topology=t, seed=s)
            for t in definition["topologies"]
            for s in look_seeds(definition, stage)
        ]

    def stage_arguments(self, study: str, definition: dict, stage: int, inputs: list[str]) -> dict:
        return {"study": {"name": study, **definition}, "look": stage, "metrics": list(inputs)}

    def decide_stage(self, arguments: dict, previous: str | None, out: str) -> None:
        """Decide a sequential study's primary verdict at one look; write whether to stop."""
        write_look(self, {**arguments, "previous": previous}, out)

    def stops(self, definition: dict, stage: int, doc: dict) -> bool:
        return doc["stop"]

    def runs_used(self, definition: dict, stage: int, doc: dict | None) -> list[tuple[str, int]]:
        if not definition.get("replication"):
            return super().runs_used(definition, stage, doc)
        seeds = doc["seeds"] if doc else look_seeds(definition, stage)
        return [(t, s) for t in definition["topologies"] for s in seeds]

    def with_decision(self, definition: dict, doc: dict) -> dict:
        """The seeds the study ended with, and its last look's decision (``sequential``)."""
        return {**definition, "seeds": doc["seeds"], "sequential": doc}

    def section(self, name: str, study: dict, data: Data) -> Section:
        r = runs_of(data, study)
        topos = study["topologies"]
        base = topos[0]
        sec = self.new_section(name, study)
        sec.header, sec.rows = ACC_HEADER, accuracy_rows(data, study, r, base)
        diverged = sorted(set(r[r["status"] != "ok"]["topology"]))
        if diverged:
            sec.findings.append(
                "Diverged (the cost became non-finite; excluded from the means): " + ", ".join(diverged) + "."
            )
        look = study.get("sequential")  # the last look's decision file of a sequential study (report.build)
        level = look["level"] if look else Design.fixed(len(study["seeds"]), study["alpha"]).levels[0]
        common = dict(
            margin=study["margin_pp"] / 100,
            alpha=level,
            min_seeds=study["min_seeds"],
            power=study["power"],
            plan_alpha=study["alpha"],
            df="min",
        )
        arms = self.arms(study, data, r)  # read once; the primary verdict and its two parts decide on them
        sec.verdict = self.decide(study, data, r, common, arms=arms)
        if look:
            sec.findings.insert(0, look_finding(look, len(r)))
        elif level != study["alpha"]:
            sec.findings.insert(
                0,
                f"Fixed design: {len(study['seeds'])} seeds per topology; the trained part's test at the nominal level "
                f"{level:.3g}, at which Yuen's statistic on min(h_A, h_B) − 1 degrees of freedom keeps α = "
                f"{study['alpha']:g} for any ratio of the spreads (sequential.t_levels).",
            )
        share = study["stuck_below"]
        if share > 0:
            dead = {(t, s): dead_classes(data.metrics[(t, s)], share) for t, s in zip(r["topology"], r["seed"])}
            stuck = r[[bool(dead[k]) for k in zip(r["topology"], r["seed"])]]
            if len(stuck):
                sec.findings.append(stuck_finding(r, stuck, dead, topos[0]))
            elif any(d is not None for d in dead.values()):
                sec.findings.append(
                    f"No run of this study is stuck (no class below {100 * share:g} % of its validation "
                    "images in predictions)."
                )
            sec.verdict_on = "for a user of the recipe (both parts below must hold)"
            sec.more_verdicts = [
                (f"part 1: {TRAINED_PART}", self.decide(study, data, r, common, ("trained",), arms)),
                (f"part 2: {FAILURE_PART}", self.decide(study, data, r, common, ("failures",), arms)),
            ]
            sec.findings.insert(0, ESTIMAND)
            sec.parts_header = PARTS_HEADER
            sec.parts_rows = parts_table(sec.verdict, study["expect"], study["margin_pp"], study["failure_margin_pp"])
            sec.verdict_brief = verdict_brief(sec.verdict, study["expect"])
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec

    @staticmethod
    def arms(study: dict, data: Data, r) -> list[Arm]:
        """Each topology's runs as the verdict reads them: the test accuracies of the runs that trained and the
        count of runs that failed (stuck: a class (almost) never predicted on validation; or diverged) —
        failures not counted (None) when ``stuck_below`` is 0 or some finished run cannot be judged."""
        share = study["stuck_below"]
        out = []
        for t in study["topologies"]:
            mine = r[r["topology"] == t]
            ok = mine[mine["status"] == "ok"]
            dead = [dead_classes(data.metrics[(t, s)], share) if share > 0 else None for s in ok["seed"]]
            depth = next((len(m["sizes"]) for (name, _), m in data.metrics.items() if name == t), 0)
            if share > 0 and all(d is not None for d in dead):
                trained = ok[np.array([not d for d in dead], dtype=bool)]["test_accuracy"].to_numpy()
                out.append(Arm(t, trained, depth, len(mine) - len(trained), len(mine)))
            else:
                out.append(Arm(t, ok["test_accuracy"].to_numpy(), depth))
        return out

    @staticmethod
    def decide(study: dict, data: Data, r, common: dict, parts: tuple = PARTS, arms: list | None = None) -> Verdict:
        """The study's claim on the runs ``r``: both parts (the primary verdict) or one (``parts``)."""
        arms = arms if arms is not None else Compare.arms(study, data, r)
        rates = dict(failure_margin=study["failure_margin_pp"] / 100, parts=parts)
        if study["expect"] == "deeper_not_better":
            return decide_deeper_not_better([a for a in arms if a.depth], **common, **rates)
        return decide_alternatives_better(arms[0], arms[1:], **common, **rates)


KIND = Compare()
