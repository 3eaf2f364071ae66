"""Kind ``vanishing_gradient``: do early layers of deep sigmoid nets get geometrically smaller gradients?

The lecture's mechanism: backpropagation multiplies δ by W_ℓᵀ and σ'(z) once
per layer, and |σ'| ≤ ¼, so the gradient reaching the first layer should
shrink by a factor with every layer added.  The measurement per run is the
ratio of the first to the last layer's bias-gradient norm ‖∂C/∂b_ℓ‖, at
initialisation (before any step; ``gradient_norms_at_init`` in the model's
metadata) and during training (mean over the epochs).  For the sigmoid nets
the least-squares slope of log(first/last) against the number of weight
layers L is fitted with its (1 − α) interval (one point per seed and depth).

"Compounds with depth" means the slope lies below log(``shrink_per_layer``):
supported when the whole interval does, contradicted when the whole
interval lies above it, inconclusive otherwise.  The claim can hold in one
regime and not the other (it does on MNIST-like data: the gradient compounds
at initialisation and hardly during training), so it gets one verdict per
regime, each from its own interval: at initialisation (the report's primary
verdict: the lecture's mechanism is about σ' at the start) and during
training.  The ReLU nets' slopes are shown beside it.
"""

from __future__ import annotations

import math

import numpy as np

from .. import verdicts as v
from ..verdicts import Outcome, Verdict
from .base import Data, Section, StudyKind, thresholds

PHASES = ("at initialisation", "during training")


def decide(points: dict, *, shrink: float, alpha: float, min_points: int = 3) -> dict:
    """``points``: phase -> (depths L, log first/last ratios), one point per seed and depth.  One
    :class:`Verdict` per phase of :data:`PHASES` (a phase without points is inconclusive)."""
    bound = math.log(shrink)
    th = {"shrink_per_layer": shrink, "bound_log": bound, "alpha": alpha}
    out = {}
    for phase in PHASES:
        if phase not in points:
            out[phase] = Verdict(
                Outcome.INCONCLUSIVE, f"inconclusive: no sigmoid run recorded gradient norms {phase}.", {}, th
            )
            continue
        x, y = points[phase]
        part = v.slope_below(
            x,
            y,
            bound=bound,
            alpha=alpha,
            min_points=min_points,
            what=f"slope of log(first/last) on depth {phase}",
            unit=" per layer",
        )
        lead = {
            Outcome.SUPPORTED: f"{phase}, the first layer's share of the gradient shrinks by more than a factor "
            f"{shrink:g} per added layer.",
            Outcome.CONTRADICTED: f"{phase}, the gradient does not compound with depth by a factor {shrink:g} per "
            "layer: the data exclude it.",
            Outcome.INCONCLUSIVE: f"{phase}, the data cannot tell whether the gradient compounds with depth by the "
            "declared factor.",
        }[part.outcome]
        out[phase] = Verdict(part.outcome, f"{lead[:1].upper()}{lead[1:]} {part.sentence}", part.numbers, th)
    return out


def ratio_points(norms: list[tuple[int, list[float]]]):
    """(L, per-layer norms) of each run → (depths, log first/last) for the runs with finite positive norms."""
    xs, ys = [], []
    for depth, layer in norms:
        if len(layer) >= 2 and layer[0] > 0 and layer[-1] > 0 and all(map(math.isfinite, layer)):
            xs.append(depth)
            ys.append(math.log(layer[0] / layer[-1]))
    return np.array(xs, dtype=float), np.array(ys, dtype=float)


class VanishingGradient(StudyKind):
    name = "vanishing_gradient"
    verdict_keys = ("alpha", "shrink_per_layer")
    summary = "per-layer gradient norms against depth, sigmoid against ReLU"
    track_gradients = True
    options = {
        "shrink_per_layer": {
            "type": "number",
            "exclusiveMinimum": 0,
            "exclusiveMaximum": 1,
            "default": 0.5,
            "description": "The factor by which the first/last gradient ratio must shrink per added "
            "layer to count as compounding (the verdict's bound is its log).",
        },
    }
    plots = ("gradients", "ratios")  # captions: studies/captions/{kind}-{plot}.rst

    def section(self, name: str, study: dict, data: Data) -> Section:
        import matplotlib.pyplot as plt
        import pandas as pd
        import seaborn as sns

        from ..report import plots

        sec = self.new_section(name, study)
        h = data.hist[data.hist["topology"].isin(study["topologies"]) & data.hist["seed"].isin(study["seeds"])]
        runs, layer_rows = [], []
        for (topo, seed), m in sorted(data.metrics.items()):
            if topo not in study["topologies"] or seed not in study["seeds"]:
                continue
            depth = len(m["sizes"]) - 1
            act = m["settings"]["activation"]
            init = list(m.get("gradient_norms_at_init") or [])
            ht = h[(h["topology"] == topo) & (h["seed"] == seed)]
            cols = sorted(
                (c for c in ht.columns if c.startswith("grad_norm_") and ht[c].notna().any()),
                key=lambda c: int(c.rsplit("_", 1)[1]),
            )
            during = [float(ht[c].mean()) for c in cols]
            runs.append((topo, seed, act, depth, init, during))
            for phase, norms in zip(PHASES, (init, during)):
                for ell, g in enumerate(norms, start=1):
                    layer_rows.append(
                        {
                            "topology": topo,
                            "seed": seed,
                            "activation": act,
                            "phase": phase,
                            "layer ℓ": ell,
                            "‖∂C/∂b_ℓ‖": g,
                        }
                    )
        rows = []
        for topo in study["topologies"]:
            mine = [r for r in runs if r[0] == topo]
            if not mine:
                continue
            act, depth = mine[0][2], mine[0][3]
            cells = []
            for idx in (4, 5):
                ratios = [r[idx][0] / r[idx][-1] for r in mine if len(r[idx]) >= 2 and r[idx][-1] > 0]
                cells.append(f"{np.exp(np.mean(np.log(ratios))):.3g}" if ratios else "–")
            init_mean = np.mean([r[4] for r in mine if r[4]], axis=0) if any(r[4] for r in mine) else []
            rows.append([topo, act, depth, " · ".join(f"{g:.2e}" for g in init_mean), cells[0], cells[1]])
        sec.header = [
            "topology",
            "activation",
            "weight layers L",
            "‖∂C/∂b_ℓ‖ at initialisation, ℓ = 1 … L",
            "first / last at initialisation",
            "first / last during training",
        ]
        sec.rows = rows

        df = pd.DataFrame(layer_rows)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), sharey=True)
        for ax, phase in zip(axes, PHASES):
            part = df[df["phase"] == phase] if len(df) else df
            if len(part):
                sns.lineplot(
                    data=part,
                    x="layer ℓ",
                    y="‖∂C/∂b_ℓ‖",
                    hue="topology",
                    style="activation",
                    markers=True,
                    errorbar=None,
                    palette=plots.PALETTE,
                    ax=ax,
                )
                ax.set_yscale("log")
                ax.legend(fontsize="xx-small")
            ax.set(title=f"Gradient by layer {phase}")
        self.figure(sec, name, "gradients", fig, data)

        points, pts_rows = {}, []
        for act in sorted({r[2] for r in runs}):
            for phase, idx in zip(PHASES, (4, 5)):
                x, y = ratio_points([(r[3], r[idx]) for r in runs if r[2] == act])
                if act == "sigmoid":
                    points[phase] = (x, y)
                pts_rows += [
                    {"activation": act, "phase": phase, "weight layers L": a, "log(first/last)": b}
                    for a, b in zip(x, y)
                ]
                s = v.slope(x, y, study["alpha"])
                if math.isfinite(s.slope):
                    ci = f", {v.level_pct(s.level)} % CI [{s.low:+.3f}, {s.high:+.3f}]" if s.has_interval else ""
                    sec.findings.append(
                        f"{act}, {phase}: slope of log(first/last) on L = {s.slope:+.3f}{ci} "
                        f"(a factor {math.exp(s.slope):.3g} per added layer)."
                    )
        pdf = pd.DataFrame(pts_rows)
        fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
        for ax, phase in zip(axes, PHASES):
            part = pdf[pdf["phase"] == phase] if len(pdf) else pdf
            if len(part):
                sns.regplot(
                    data=part[part["activation"] == "sigmoid"],
                    x="weight layers L",
                    y="log(first/last)",
                    ci=None,
                    ax=ax,
                    label="sigmoid",
                    truncate=False,
                )
                other = part[part["activation"] != "sigmoid"]
                if len(other):
                    sns.regplot(
                        data=other,
                        x="weight layers L",
                        y="log(first/last)",
                        ci=None,
                        ax=ax,
                        label="other",
                        marker="s",
                        truncate=False,
                    )
                ax.legend(fontsize="small")
            ax.set(title=f"log(first/last) against depth, {phase}")
        self.figure(sec, name, "ratios", fig, data)

        regimes = decide(points, shrink=study["shrink_per_layer"], alpha=study["alpha"])
        sec.verdict, sec.verdict_on = regimes[PHASES[0]], PHASES[0]
        sec.more_verdicts = [(phase, regimes[phase]) for phase in PHASES[1:]]
        if points and any(r.outcome is not Outcome.SUPPORTED for r in regimes.values()):
            sec.findings.append(
                "Why the factor need not be ¼ per layer: δ_ℓ = σ'(z_ℓ) ⊙ W_{ℓ+1}ᵀ δ_{ℓ+1}, and |σ'| ≤ ¼ bounds only "
                "the first factor; with N(0,1) weights ‖W_{ℓ+1}ᵀ δ‖ is about √N_{ℓ+1} ‖δ‖ (√30 ≈ 5.5 here), so a layer "
                "multiplies the gradient by roughly 5.5 × the mean |σ'|, which the slopes above measure."
            )
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec


KIND = VanishingGradient()
