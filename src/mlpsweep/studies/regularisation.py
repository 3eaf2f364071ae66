"""Kind ``regularisation``: Lp weight penalties and the sparsity they leave.

The claim: penalties with p ≤ 1 set weights *exactly* to zero, p = 2 only
shrinks them.  The measurement is each run's share of weights that are
exactly 0 after training.  The rule, with the declared floor
``min_zero_share``:

* supported — some p ≤ 1 setting's mean share has its one-sided lower bound
  at or above the floor (Bonferroni over the p ≤ 1 settings), and every p = 2
  setting's upper bound stays below it;
* contradicted — every p ≤ 1 setting's upper bound is below the floor, or a
  p = 2 setting's lower bound is at or above it;
* inconclusive — otherwise (too few seeds, or intervals across the floor).

The accuracy each penalty costs is shown next to it, not judged.
"""

from __future__ import annotations

import math

from .. import verdicts as v
from ..verdicts import Outcome, Verdict
from .base import Data, Section, StudyKind, thresholds


def decide(sparse, dense, *, floor: float, alpha: float, min_seeds: int) -> Verdict:
    """``sparse``/``dense``: [(topology, exactly-zero shares over seeds)] for p ≤ 1 and p = 2."""
    th = {"min_zero_share": floor, "alpha": alpha, "min_seeds": min_seeds}
    if not sparse:
        return Verdict(Outcome.INCONCLUSIVE, "inconclusive: the study has no penalty with p ≤ 1.", {}, th)
    k = len(sparse)
    fmt = lambda x: f"{100 * x:.1f} %"  # noqa: E731
    low = [
        v.at_least(s, floor=floor, alpha=alpha / k, min_seeds=min_seeds, what=f"{name}: weights exactly 0", fmt=fmt)
        for name, s in sparse
    ]
    high = [
        v.at_most(s, ceiling=floor, alpha=alpha, min_seeds=min_seeds, what=f"{name}: weights exactly 0", fmt=fmt)
        for name, s in dense
    ]
    nums = {
        "sparse": {n: p.numbers for (n, _), p in zip(sparse, low)},
        "dense": {n: p.numbers for (n, _), p in zip(dense, high)},
    }
    best = max(low, key=lambda p: p.numbers["mean"] if math.isfinite(p.numbers["mean"]) else -1)
    text = best.sentence + (" " + " ".join(p.sentence for p in high) if high else "")
    if any(p.outcome is Outcome.CONTRADICTED for p in high):
        return Verdict(
            Outcome.CONTRADICTED, f"p = 2 left at least the floor's share of weights exactly zero. {text}", nums, th
        )
    if all(p.outcome is Outcome.CONTRADICTED for p in low):
        return Verdict(
            Outcome.CONTRADICTED, f"no p ≤ 1 setting reaches the floor (Bonferroni over {k}). {text}", nums, th
        )
    if any(p.outcome is Outcome.SUPPORTED for p in low) and all(p.outcome is Outcome.SUPPORTED for p in high):
        return Verdict(
            Outcome.SUPPORTED,
            f"a p ≤ 1 penalty zeroes at least the floor's share of the weights "
            f"(Bonferroni over {k} settings), p = 2 does not. {text}",
            nums,
            th,
        )
    return Verdict(Outcome.INCONCLUSIVE, f"the intervals do not decide against the floor. {text}", nums, th)


#: Where the exact zeros come from (shown beside the verdict): the update rule, not the penalty alone.
ZEROS_NOTE = (
    "The exact zeros come from the update rule as much as from the penalty: for p ≤ 1 a step that would "
    "carry a weight across zero stops it at zero (mlpsweep.nn.penalties.LpPenalty.step, a clipped "
    "shrinkage step). Plain (sub)gradient steps on λ Σ|w|^p would leave weights oscillating "
    "around zero, small but not exactly 0; the near-zero column (|w| below the threshold) is the measure "
    "that does not depend on the rule."
)


class Regularisation(StudyKind):
    name = "regularisation"
    verdict_keys = ("alpha", "min_seeds", "min_zero_share")
    summary = "Lp penalties: share of weights exactly zero for p ≤ 1 against p = 2"
    options = {
        "sparsity_threshold": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 0.001,
            "description": "|w| below this counts as near zero (shown, not judged).",
        },
        "min_zero_share": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": 0.1,
            "description": "The verdict's floor: share of weights exactly 0 that counts as sparse.",
        },
    }
    plots = ("tradeoff",)  # captions: studies/captions/{kind}-{plot}.rst

    def section(self, name: str, study: dict, data: Data) -> Section:
        import matplotlib.pyplot as plt
        import numpy as np
        import pandas as pd
        import seaborn as sns

        from ..report import plots
        from ..report.text import pct

        thr = float(study["sparsity_threshold"])
        sec = self.new_section(name, study)
        rows, points, sparse, dense = [], [], [], []
        for topo in study["topologies"]:
            keys = [k for k in data.metrics if k[0] == topo and k[1] in study["seeds"]]
            if not keys:
                continue
            ok = [data.metrics[k] for k in keys if data.metrics[k]["status"] == "ok"]
            s = data.metrics[keys[0]]["settings"]
            p, lam = s["penalty"]["p"], s["penalty"]["lambda"]
            acc = np.array([m["test"]["accuracy"] for m in ok])
            zero = np.array([m["sparsity"]["exactly_zero"] / m["sparsity"]["weights"] for m in ok])
            small = np.array([_below(m, thr) / m["sparsity"]["weights"] for m in ok])
            if lam > 0:
                (sparse if p <= 1 else dense if p == 2 else []).append((topo, zero))
            label = "none" if lam == 0 else f"p = {p:g}"
            rows.append(
                [
                    topo,
                    "–" if lam == 0 else f"{p:g}",
                    f"{lam:g}",
                    f"{len(ok)}/{len(keys)}",
                    pct(acc.mean()) if acc.size else "diverged",
                    pct(zero.mean(), 1) if acc.size else "",
                    pct(small.mean(), 1) if acc.size else "",
                ]
            )
            for a, z, sm in zip(acc, zero, small):
                points.append(
                    {
                        "penalty": label,
                        "λ": lam,
                        "accuracy %": 100 * a,
                        "exactly zero %": 100 * z,
                        f"|w| < {thr:g} %": 100 * sm,
                        "topology": topo,
                    }
                )
        sec.header = [
            "topology",
            "p",
            "λ",
            "seeds finished",
            "test accuracy %",
            "weights exactly 0 %",
            f"|w| < {thr:g} %",
        ]
        sec.rows = rows
        df = pd.DataFrame(points)
        fig, ax = plt.subplots(figsize=(7, 4.3))
        if len(df):
            sns.scatterplot(
                data=df,
                x=f"|w| < {thr:g} %",
                y="accuracy %",
                hue="penalty",
                size="λ",
                sizes=(40, 160),
                style="penalty",
                palette=plots.PALETTE,
                ax=ax,
            )
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set(title="Accuracy against sparsity, one point per run", xlabel=f"weights with |w| < {thr:g} (%)")
        self.figure(sec, name, "tradeoff", fig, data)
        if len(df) and sparse:
            low_p = df[df["topology"].isin([t for t, _ in sparse])]
            top = low_p.sort_values("accuracy %").iloc[-1]
            sec.findings.append(
                f"Most accurate p ≤ 1 run: {top['topology']} with {top['accuracy %']:.2f} % and "
                f"{top['exactly zero %']:.1f} % of its weights exactly zero."
            )
        sec.verdict = decide(
            sparse, dense, floor=study["min_zero_share"], alpha=study["alpha"], min_seeds=study["min_seeds"]
        )
        if sparse:
            sec.findings.append(ZEROS_NOTE)
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec


def _below(m: dict, thr: float) -> int:
    below = m["sparsity"]["below"]
    key = min(below, key=lambda k: abs(math.log(float(k)) - math.log(thr)))
    return below[key]


KIND = Regularisation()
