"""Kind ``compare``: topologies side by side on final test accuracy over seeds.

Two claims can be read from such a group (config key ``expect``):

``deeper_not_better``   "a deeper network is not automatically better": every
                        deeper topology against the shallowest one, by
                        non-superiority with the margin ``margin_pp``.  Supported
                        when every deeper net's (1 − 2α) upper end is below the
                        margin; contradicted when some deeper net is better by
                        more than the margin (one-sided Welch tests, Holm over
                        the deeper nets); otherwise inconclusive.
``alternatives_better`` "some alternative beats the first topology (the lecture's
                        recipe)": each alternative by superiority with the
                        margin.  Supported when at least one alternative's
                        one-sided test rejects after Holm; contradicted when every
                        alternative's upper end is below the margin; otherwise
                        inconclusive.

Both claims are decided twice (``stuck_below``, inherited from ``verdicts``):
on all finished runs — the primary verdict, what a user of the recipe gets —
and on the runs that trained, leaving out the *stuck* ones (a class the run
(almost) never predicts on the validation set), which is what the network can
do when its training works.  Each topology's stuck runs are compared with the
first topology's by Fisher's exact test.

With ``replication`` the study is sequential (:mod:`mlpsweep.sequential`):
its ``look`` job decides the primary verdict at each look's nominal level and
says whether to stop; the report decides at the level of the look it stopped
at, on the seeds it had then, and says how many looks and runs it took.
"""

from __future__ import annotations

from .. import verdicts as v
from ..verdicts import Outcome, Verdict
from ..report.sections import dead_classes
from .base import (
    ACC_HEADER,
    Data,
    Section,
    StageNotPlanned,
    StudyKind,
    accuracies,
    accuracy_rows,
    runs_of,
    thresholds,
)


def decide_deeper_not_better(
    groups, *, margin: float, alpha: float, min_seeds: int, power: float = 0.8, plan_alpha: float | None = None
) -> Verdict:
    """``groups``: (topology, depth, accuracies) in the study's order."""
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    depths = sorted({d for _, d, _ in groups})
    if len(depths) < 2:
        return Verdict(
            Outcome.INCONCLUSIVE, "inconclusive: the study ran only one depth, so depth cannot be judged.", {}, th
        )
    shallow = next(g for g in groups if g[1] == depths[0])
    deeper = [g for g in groups if g[1] > depths[0]]
    parts = [
        v.not_better(
            shallow[2],
            acc,
            margin=margin,
            alpha=alpha,
            min_seeds=min_seeds,
            power=power,
            what=f"{name} − {shallow[0]}",
            plan_alpha=plan_alpha,
            holm_k=len(deeper),
        )
        for name, _, acc in deeper
    ]
    # A contradiction is a union claim over the deeper nets: Holm on the one-sided p-values of "diff > margin".
    p = [v.one_sided_p(v.difference(shallow[2], acc, alpha, power), margin, greater=True) for _, _, acc in deeper]
    rejected = v.holm(p, alpha)
    outcomes = []
    for part, rej in zip(parts, rejected):
        o = part.outcome
        if o is Outcome.CONTRADICTED and not rej:
            o = Outcome.INCONCLUSIVE
        outcomes.append(o)
    nums = {
        "comparisons": [
            {**part.numbers, "p_better_than_margin": pi, "holm_rejected": r, "topology": g[0]}
            for part, pi, r, g in zip(parts, p, rejected, deeper)
        ]
    }
    text = " ".join(part.sentence for part in parts)
    if any(o is Outcome.CONTRADICTED for o in outcomes):
        names = [g[0] for g, o in zip(deeper, outcomes) if o is Outcome.CONTRADICTED]
        return Verdict(
            Outcome.CONTRADICTED,
            f"{', '.join(names)} beat{'s' if len(names) == 1 else ''} the shallowest "
            f"network by more than the margin (Holm over {len(deeper)} tests). {text}",
            nums,
            th,
        )
    if all(o is Outcome.SUPPORTED for o in outcomes):
        return Verdict(
            Outcome.SUPPORTED,
            f"no deeper network is better than the shallowest by the margin or more. {text}",
            nums,
            th,
        )
    return Verdict(Outcome.INCONCLUSIVE, f"the data cannot tell whether depth helps by the margin. {text}", nums, th)


def decide_alternatives_better(
    base,
    alternatives,
    *,
    margin: float,
    alpha: float,
    min_seeds: int,
    power: float = 0.8,
    plan_alpha: float | None = None,
) -> Verdict:
    """``base``: (topology, accuracies); ``alternatives``: [(topology, accuracies)]."""
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    if not alternatives:
        return Verdict(Outcome.INCONCLUSIVE, "inconclusive: the study has no alternative to compare.", {}, th)
    parts = [
        v.better(
            base[1],
            acc,
            margin=margin,
            alpha=alpha,
            min_seeds=min_seeds,
            power=power,
            what=f"{name} − {base[0]}",
            plan_alpha=plan_alpha,
            holm_k=len(alternatives),
        )
        for name, acc in alternatives
    ]
    p = [part.numbers["p_one_sided"] for part in parts]
    rejected = v.holm(p, alpha)
    nums = {
        "comparisons": [
            {**part.numbers, "holm_rejected": r, "topology": name}
            for part, r, (name, _) in zip(parts, rejected, alternatives)
        ]
    }
    text = " ".join(part.sentence for part in parts)
    # Holm's rejection implies p ≤ α, i.e. the (1 − 2α) interval lies above the margin.
    winners = [name for (name, _), r in zip(alternatives, rejected) if r]
    if winners:
        return Verdict(
            Outcome.SUPPORTED,
            f"{', '.join(winners)} beat{'s' if len(winners) == 1 else ''} {base[0]} by more "
            f"than the margin (one-sided Welch, Holm over {len(alternatives)} tests). {text}",
            nums,
            th,
        )
    if all(part.outcome is Outcome.CONTRADICTED for part in parts):
        return Verdict(
            Outcome.CONTRADICTED,
            f"every alternative's interval lies below the margin: none beats {base[0]}. {text}",
            nums,
            th,
        )
    return Verdict(
        Outcome.INCONCLUSIVE,
        f"no alternative is shown to beat {base[0]} by the margin after Holm's correction, nor excluded. {text}",
        nums,
        th,
    )


#: A run's metrics, where the workflow's evaluate rule writes them.
METRICS = "results/{dataset}/eval/{topology}/seed{seed}/metrics.json"


def look_seeds(definition: dict, look: int) -> list[int]:
    """The seeds per topology a sequential study has at ``look`` (1, 2, …)."""
    from ..sequential import Design

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
    from ..sequential import Design

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


class Compare(StudyKind):
    name = "compare"
    verdict_keys = ("alpha", "min_seeds", "margin_pp", "stuck_below")
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
            "default": 1.0,
            "description": "The margin δ in percentage points of test accuracy that a difference must exceed "
            "to count as better.",
        },
    }
    plots = ()
    pairwise = True
    sequential = True

    # -- sequential seeds (``replication``): a stage is a look; its decision says whether to stop ------------------
    def stages(self, definition: dict) -> int:
        from ..sequential import Design

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
        common = dict(
            margin=study["margin_pp"] / 100,
            alpha=look["level"] if look else study["alpha"],
            min_seeds=study["min_seeds"],
            power=study["power"],
            plan_alpha=study["alpha"],
        )
        sec.verdict = self.decide(study, data, r, common)
        if look:
            sec.findings.insert(0, look_finding(look, len(r)))
        share = study["stuck_below"]
        if share > 0:
            dead = {(t, s): dead_classes(data.metrics[(t, s)], share) for t, s in zip(r["topology"], r["seed"])}
            stuck = r[[bool(dead[k]) for k in zip(r["topology"], r["seed"])]]
            if len(stuck):
                sec.findings.append(stuck_finding(r, stuck, dead, topos[0]))
                trained = r.drop(stuck.index)
                sec.verdict_on = "on all runs"
                sec.more_verdicts.append(
                    ("on the runs that trained (the stuck runs left out)", self.decide(study, data, trained, common))
                )
            elif any(d is not None for d in dead.values()):
                sec.findings.append(
                    f"No run of this study is stuck (no class below {100 * share:g} % of its validation "
                    "images in predictions): the verdict on the runs that trained is the same."
                )
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec

    @staticmethod
    def decide(study: dict, data: Data, r, common: dict) -> Verdict:
        topos = study["topologies"]
        if study["expect"] == "deeper_not_better":
            depth = {t: len(m["sizes"]) for (t, _), m in data.metrics.items() if t in topos}
            groups = [(t, depth[t], accuracies(r, t)) for t in topos if t in depth]
            return decide_deeper_not_better(groups, **common)
        alternatives = [(t, accuracies(r, t)) for t in topos[1:]]
        return decide_alternatives_better((topos[0], accuracies(r, topos[0])), alternatives, **common)


KIND = Compare()
