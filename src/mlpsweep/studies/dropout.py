"""Kind ``dropout``: does dropout narrow the gap between training and validation accuracy?

The measurement per run is the overfitting gap, training minus validation
accuracy at the last epoch.  For every hidden-layer width the runs without
dropout are compared with those at the strongest rate, by superiority of the
gap's reduction over the declared margin ``min_gap_reduction_pp`` (Welch,
(1 − 2α) interval).  The claim holds for the study when it holds for every
width: supported when every width is supported, contradicted when any is
contradicted, inconclusive otherwise.
"""

from __future__ import annotations

from .. import verdicts as v
from ..verdicts import Outcome, Verdict
from ..report.sections import sampled_note
from .base import Data, Section, StudyKind, runs_of, thresholds


def decide(widths, *, margin: float, alpha: float, min_seeds: int, power: float = 0.8) -> Verdict:
    """``widths``: [(label, gaps without dropout, gaps at the strongest rate, that rate)]."""
    th = {"min_gap_reduction_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    if not widths:
        return Verdict(Outcome.INCONCLUSIVE, "inconclusive: no width was run both without dropout and with it.", {}, th)
    parts = [
        v.better(
            top,
            g0,
            margin=margin,
            alpha=alpha,
            min_seeds=min_seeds,
            power=power,
            what=f"{label}: gap without dropout − gap at r = {rate:g}",
        )
        for label, g0, top, rate in widths
    ]
    verdict = v.combine(parts)
    lead = {
        Outcome.SUPPORTED: "the strongest dropout narrowed the gap by more than the margin for every width.",
        Outcome.CONTRADICTED: "for at least one width the data exclude a narrowing of the gap by the margin.",
        Outcome.INCONCLUSIVE: "the data cannot tell for every width whether dropout narrows the gap by the margin.",
    }
    return Verdict(
        verdict.outcome, f"{lead[verdict.outcome]} {verdict.sentence}", {"widths": [p.numbers for p in parts]}, th
    )


class Dropout(StudyKind):
    name = "dropout"
    verdict_keys = ("alpha", "min_seeds", "min_gap_reduction_pp")
    summary = "dropout rates on the same widths: the train − validation gap"
    options = {
        "min_gap_reduction_pp": {
            "type": "number",
            "minimum": 0,
            "maximum": 100,
            "default": 0.0,
            "description": "The margin: by how many percentage points the strongest dropout "
            "must narrow the train − validation gap.",
        },
    }
    plots = ("curves",)  # captions: studies/captions/{kind}-{plot}.rst

    def section(self, name: str, study: dict, data: Data) -> Section:
        import matplotlib.pyplot as plt
        import pandas as pd
        import seaborn as sns

        from ..report import plots
        from ..report.text import pct
        from .base import accuracies, settings_of

        r = runs_of(data, study)
        sec = self.new_section(name, study)
        h = data.hist[data.hist["topology"].isin(study["topologies"]) & data.hist["seed"].isin(study["seeds"])]
        rows, gaps = [], {}
        for topo in study["topologies"]:
            ht = h[h["topology"] == topo]
            if ht.empty:
                continue
            last = ht.sort_values("epoch").groupby("seed").tail(1)
            gap = (last["train_accuracy"] - last["val_accuracy"]).to_numpy()
            s = settings_of(data.metrics, topo)
            gaps[topo] = (tuple(s["hidden"]), s["dropout"], gap)
            acc = accuracies(r, topo)
            rows.append(
                [
                    topo,
                    data.labels.get(topo, topo),
                    f"{s['dropout']:g}",
                    pct(last["train_accuracy"].mean()),
                    pct(last["val_accuracy"].mean()),
                    f"{100 * gap.mean():.2f}",
                    pct(acc.mean()) if len(acc) else "diverged",
                ]
            )
        sec.header = [
            "topology",
            "layer sizes",
            "dropout r",
            "train accuracy % (last epoch)",
            "validation accuracy %",
            "gap (pp)",
            "test accuracy %",
        ]
        sec.rows = rows
        long = []
        for split in ("train_accuracy", "val_accuracy"):
            part = h[["topology", "seed", "epoch", split]].rename(columns={split: "accuracy %"})
            part["accuracy %"] = 100 * part["accuracy %"]
            part["split"] = "training" if split == "train_accuracy" else "validation"
            long.append(part)
        df = pd.concat(long, ignore_index=True) if long else pd.DataFrame()
        fig, ax = plt.subplots(figsize=(8, 4.6))
        if len(df):
            sns.lineplot(
                data=df,
                x="epoch",
                y="accuracy %",
                hue="topology",
                hue_order=[t for t in study["topologies"] if t in gaps],
                style="split",
                errorbar=None,
                palette=plots.PALETTE,
                ax=ax,
            )
            ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        ax.set(title="Training (solid) vs validation (dashed) accuracy")
        self.figure(sec, name, "curves", fig, data)
        sec.figures[f"{name}-curves"] += sampled_note(data.metrics)
        by_width: dict = {}
        for width, rate, gap in gaps.values():
            by_width.setdefault(width, {})[rate] = gap
        widths = []
        for width, rates in by_width.items():
            if 0 in rates and len(rates) > 1:
                top = max(rates)
                widths.append((f"hidden {list(width)}", rates[0], rates[top], top))
                sec.findings.append(
                    f"Hidden {list(width)}: gap {100 * rates[0].mean():.2f} pp without dropout, "
                    f"{100 * rates[top].mean():.2f} pp at r = {top:g} (means over seeds)."
                )
        sec.verdict = decide(
            widths,
            margin=study["min_gap_reduction_pp"] / 100,
            alpha=study["alpha"],
            min_seeds=study["min_seeds"],
            power=study["power"],
        )
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec


KIND = Dropout()
