"""Kind ``best``: how far the project's NumPy training goes against published MLP results.

The claim: the study's best topology reaches a published plain-MLP reference
accuracy for the dataset (``best_mlp_targets`` in the report's reference
data, each with its source and what it is: ``role``) plus the declared
``margin_pp``.  The verdict is
one-sample on the seeds' final test accuracies: supported when the lower end
of the (1 − 2α) interval of the mean is at or above that floor, contradicted
when its upper end is below it, inconclusive otherwise — with one seed always
inconclusive.  A dataset without a published target is inconclusive too.
"""

from __future__ import annotations

from .. import verdicts as v
from ..verdicts import Outcome, Verdict
from .base import Data, Section, StudyKind, accuracies, runs_of, settings_note, thresholds


def decide(
    accs, target: dict | None, *, margin: float, alpha: float, min_seeds: int, topology: str = "best"
) -> Verdict:
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    if target is None:
        return Verdict(
            Outcome.INCONCLUSIVE,
            "inconclusive: no published MLP result for this dataset to measure "
            "against (best_mlp_targets in the reference data).",
            {},
            th,
        )
    floor = target["accuracy"] + margin
    verdict = v.at_least(
        accs,
        floor=floor,
        alpha=alpha,
        min_seeds=min_seeds,
        what=f"{topology}: test accuracy",
        fmt=lambda x: f"{100 * x:.2f} %",
    )
    role = f"{target['role']}: " if target.get("role") else ""
    ref = f"the published {100 * target['accuracy']:.1f} % ({role}{target['setup']}; {target['source']})"
    return Verdict(
        verdict.outcome,
        f"{verdict.sentence} The floor is {ref} plus the margin.",
        {**verdict.numbers, "target": target["accuracy"]},
        {**th, "target": target["accuracy"]},
    )


class Best(StudyKind):
    name = "best"
    verdict_keys = ("alpha", "min_seeds", "margin_pp")
    summary = "the strongest MLP the project trains, against a published plain-MLP reference for the dataset"
    options = {
        "margin_pp": {
            "type": "number",
            "minimum": -100,
            "maximum": 100,
            "default": 0.0,
            "description": "Percentage points above the published target that count as reaching it "
            "(negative: within that many points below).",
        },
    }
    plots = ()

    def section(self, name: str, study: dict, data: Data) -> Section:
        import math

        import numpy as np

        from ..report.text import pct

        r = runs_of(data, study)
        sec = self.new_section(name, study)
        rows, best_topo, best_mean = [], None, -math.inf
        for topo in study["topologies"]:
            acc = accuracies(r, topo)
            rt = r[r["topology"] == topo]
            secs = rt["wall_seconds"].mean() if "wall_seconds" in rt else rt["train_seconds"].mean()
            rows.append(
                [
                    topo,
                    data.labels.get(topo, topo),
                    settings_note(data, topo, None),
                    f"{len(acc)}/{len(rt)}",
                    pct(acc.mean()) if len(acc) else "diverged",
                    pct(rt["test_accuracy_at_best_val"].mean()),
                    f"{secs:.0f}",
                ]
            )
            # The topology to judge is chosen on validation accuracy, never on test.
            val = np.nanmean(
                [
                    m["best_validation_epoch"]["val_accuracy"]
                    for (t, s), m in data.metrics.items()
                    if t == topo and s in study["seeds"] and m["status"] == "ok"
                ]
                or [np.nan]
            )
            if np.isfinite(val) and val > best_mean:
                best_topo, best_mean = topo, val
        sec.header = [
            "topology",
            "layer sizes",
            "settings",
            "seeds finished",
            "test accuracy % (final epoch)",
            "at the best validation epoch",
            "training s",
        ]
        sec.rows = rows
        target = data.reference.get("best_mlp_targets", {}).get(data.dataset)
        for p in data.reference.get("published", []):
            if p["dataset"] == data.dataset and "accuracy" in p:
                sec.findings.append(f"Published: {p['setup']}: {pct(p['accuracy'])} % ({p['source']}).")
        accs = accuracies(r, best_topo) if best_topo else []
        sec.verdict = decide(
            accs,
            target,
            margin=study["margin_pp"] / 100,
            alpha=study["alpha"],
            min_seeds=study["min_seeds"],
            topology=best_topo or "best",
        )
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec


KIND = Best()
