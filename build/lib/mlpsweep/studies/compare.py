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
"""

from __future__ import annotations

from .. import verdicts as v
from ..verdicts import Outcome, Verdict
from .base import ACC_HEADER, Data, Section, StudyKind, accuracies, accuracy_rows, runs_of, thresholds


def decide_deeper_not_better(groups, *, margin: float, alpha: float, min_seeds: int, power: float = 0.8) -> Verdict:
    """``groups``: (topology, depth, accuracies) in the study's order."""
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    depths = sorted({d for _, d, _ in groups})
    if len(depths) < 2:
        return Verdict(Outcome.INCONCLUSIVE, "inconclusive: the study ran only one depth, so depth cannot be judged.", {}, th)
    shallow = next(g for g in groups if g[1] == depths[0])
    deeper = [g for g in groups if g[1] > depths[0]]
    parts = [v.not_better(shallow[2], acc, margin=margin, alpha=alpha, min_seeds=min_seeds, power=power,
                          what=f"{name} − {shallow[0]}") for name, _, acc in deeper]
    # A contradiction is a union claim over the deeper nets: Holm on the one-sided p-values of "diff > margin".
    p = [v.one_sided_p(v.difference(shallow[2], acc, alpha, power), margin, greater=True) for _, _, acc in deeper]
    rejected = v.holm(p, alpha)
    outcomes = []
    for part, rej in zip(parts, rejected):
        o = part.outcome
        if o is Outcome.CONTRADICTED and not rej:
            o = Outcome.INCONCLUSIVE
        outcomes.append(o)
    nums = {"comparisons": [{**part.numbers, "p_better_than_margin": pi, "holm_rejected": r, "topology": g[0]}
                            for part, pi, r, g in zip(parts, p, rejected, deeper)]}
    text = " ".join(part.sentence for part in parts)
    if any(o is Outcome.CONTRADICTED for o in outcomes):
        names = [g[0] for g, o in zip(deeper, outcomes) if o is Outcome.CONTRADICTED]
        return Verdict(Outcome.CONTRADICTED, f"{', '.join(names)} beat{'s' if len(names) == 1 else ''} the shallowest "
                       f"network by more than the margin (Holm over {len(deeper)} tests). {text}", nums, th)
    if all(o is Outcome.SUPPORTED for o in outcomes):
        return Verdict(Outcome.SUPPORTED, f"no deeper network is better than the shallowest by the margin or more. {text}",
                       nums, th)
    return Verdict(Outcome.INCONCLUSIVE, f"the data cannot tell whether depth helps by the margin. {text}", nums, th)


def decide_alternatives_better(base, alternatives, *, margin: float, alpha: float, min_seeds: int,
                               power: float = 0.8) -> Verdict:
    """``base``: (topology, accuracies); ``alternatives``: [(topology, accuracies)]."""
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    if not alternatives:
        return Verdict(Outcome.INCONCLUSIVE, "inconclusive: the study has no alternative to compare.", {}, th)
    parts = [v.better(base[1], acc, margin=margin, alpha=alpha, min_seeds=min_seeds, power=power,
                      what=f"{name} − {base[0]}") for name, acc in alternatives]
    p = [part.numbers["p_one_sided"] for part in parts]
    rejected = v.holm(p, alpha)
    nums = {"comparisons": [{**part.numbers, "holm_rejected": r, "topology": name}
                            for part, r, (name, _) in zip(parts, rejected, alternatives)]}
    text = " ".join(part.sentence for part in parts)
    # Holm's rejection implies p ≤ α, i.e. the (1 − 2α) interval lies above the margin.
    winners = [name for (name, _), r in zip(alternatives, rejected) if r]
    if winners:
        return Verdict(Outcome.SUPPORTED, f"{', '.join(winners)} beat{'s' if len(winners) == 1 else ''} {base[0]} by more "
                       f"than the margin (one-sided Welch, Holm over {len(alternatives)} tests). {text}", nums, th)
    if all(part.outcome is Outcome.CONTRADICTED for part in parts):
        return Verdict(Outcome.CONTRADICTED, f"every alternative's interval lies below the margin: none beats {base[0]}. "
                       f"{text}", nums, th)
    return Verdict(Outcome.INCONCLUSIVE, f"no alternative is shown to beat {base[0]} by the margin after Holm's "
                   f"correction, nor excluded. {text}", nums, th)


class Compare(StudyKind):
    name = "compare"
    summary = "topologies side by side; a verdict on depth (non-superiority) or on alternatives (superiority)"
    options = {
        "expect": {"enum": ["deeper_not_better", "alternatives_better"], "default": "deeper_not_better",
                   "description": "The claim: deeper_not_better (no deeper topology beats the shallowest by the margin) "
                                  "or alternatives_better (some topology beats the first by the margin)."},
        "margin_pp": {"type": "number", "minimum": 0, "default": 1.0,
                      "description": "The margin δ in percentage points of test accuracy that a difference must exceed "
                                     "to count as better."},
    }
    plots = ()
    pairwise = True

    def section(self, name: str, study: dict, data: Data) -> Section:
        r = runs_of(data, study)
        topos = study["topologies"]
        base = topos[0]
        sec = self.new_section(name, study)
        sec.header, sec.rows = ACC_HEADER, accuracy_rows(data, study, r, base)
        diverged = sorted(set(r[r["status"] != "ok"]["topology"]))
        if diverged:
            sec.findings.append("Diverged (the cost became non-finite; excluded from the means): " + ", ".join(diverged) + ".")
        common = dict(margin=study["margin_pp"] / 100, alpha=study["alpha"], min_seeds=study["min_seeds"],
                      power=study["power"])
        if study["expect"] == "deeper_not_better":
            depth = {t: len(m["sizes"]) for (t, _), m in data.metrics.items() if t in topos}
            groups = [(t, depth[t], accuracies(r, t)) for t in topos if t in depth]
            sec.verdict = decide_deeper_not_better(groups, **common)
        else:
            alternatives = [(t, accuracies(r, t)) for t in topos[1:]]
            sec.verdict = decide_alternatives_better((base, accuracies(r, base)), alternatives, **common)
        sec.thresholds = thresholds(study, ("margin_pp",))
        return sec


KIND = Compare()
