"""Kind ``batch_size``: GD against SGD, and the spread of the mini-batch gradient against K.

The study's runs train the same network with batches from K = 1 to the whole
training set (cost by epoch and by update).  Its own measurement
(:func:`measure`, the job ``gradient_spread``) asks how noisy a
mini-batch gradient is.  At a fixed network (its parameters at initialisation from a seed) the full
gradient g = (1/m) Σ_x ∇C_x is computed over the whole training set, then for
each K many batches B of K distinct samples are drawn and the spread
``s_K = sqrt(mean ‖g_B − g‖²)`` of the batch mean g_B is measured.  Sampling
theory says ``s_K = s_1 · sqrt((m − K) / ((m − 1) K))`` — the lecture's
1/√K law, with the finite-population factor that matters only as K → m.
Dividing the factor out, log(s_K / √((m − K)/(m − 1))) against log K has
slope −1/2 exactly.  The verdict fits that slope and asks whether it is −½
within ±``exponent_tolerance`` (an equivalence test, TOST): supported when
its (1 − 2α) interval lies inside the band, contradicted when it lies wholly
outside, inconclusive when it crosses an edge.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from .. import verdicts as v
from ..nn import Network
from ..verdicts import Verdict
from ..report.sections import sampled_note
from .base import Data, Job, Section, StudyKind, accuracies, thresholds

log = logging.getLogger("mlpsweep.studies.batch_size")

#: The measurement's file (the rule's output and the section's input).
SPREAD_FILE = "results/{dataset}/studies/{study}/gradient_spread.json"


def _flat(net: Network, x, y) -> np.ndarray:
    gw, gb = net.backprop(x, y)
    return np.concatenate([g.ravel() for g in gw] + [g.ravel() for g in gb]).astype(np.float64)


def full_gradient(net: Network, x, y, chunk: int = 5000) -> np.ndarray:
    total = np.zeros(net.n_params)
    for start in range(0, x.shape[0], chunk):
        total += _flat(net, x[start : start + chunk], y[start : start + chunk])
    return total / x.shape[0]


def measure(net: Network, x, y, batch_sizes, draws: int, rng: np.random.Generator) -> list[dict]:
    """One row per K: measured spread, the law's prediction and their ratio."""
    x = np.asarray(x)
    y = np.asarray(y)
    m = x.shape[0]
    g = full_gradient(net, x, y)
    rows = []
    for k in sorted(int(k) for k in batch_sizes if 1 <= int(k) <= m):
        dev = np.empty(draws)
        for i in range(draws):
            idx = rng.choice(m, size=k, replace=False)
            dev[i] = np.sum((_flat(net, x[idx], y[idx]) / k - g) ** 2)
        rows.append({"batch_size": k, "draws": draws, "spread": math.sqrt(dev.mean())})
    # The law's constant s_1, fitted to all K at once (geometric mean of the implied s_1).
    shape = [math.sqrt((m - r["batch_size"]) / ((m - 1) * r["batch_size"])) if m > 1 else 0.0 for r in rows]
    implied = [r["spread"] / f for r, f in zip(rows, shape) if f > 0]
    s1 = math.exp(float(np.mean(np.log(implied)))) if implied else math.nan
    for row in rows:
        k = row["batch_size"]
        row["law"] = s1 * math.sqrt((m - k) / ((m - 1) * k)) if m > 1 else 0.0
        row["ratio_to_law"] = row["spread"] / row["law"] if row["law"] > 0 else math.nan
        log.info(
            "K = %d: spread %.4g (1/sqrt(K) law %.4g, ratio %.3f)", k, row["spread"], row["law"], row["ratio_to_law"]
        )
    return rows


def finite_population(m: int, k: int) -> float:
    return math.sqrt((m - k) / (m - 1)) if m > 1 else 0.0


def decide(rows, m: int, *, tolerance: float, alpha: float) -> Verdict:
    """The 1/√K law from measured spreads: exponent of s_K / √((m−K)/(m−1)) against K."""
    pts = [
        (r["batch_size"], r["spread"] / finite_population(m, r["batch_size"]))
        for r in rows
        if r["batch_size"] < m and r["spread"] > 0
    ]
    lk = np.log([p[0] for p in pts]) if pts else np.array([])
    ls = np.log([p[1] for p in pts]) if pts else np.array([])
    return v.exponent_matches(lk, ls, law=-0.5, tolerance=tolerance, alpha=alpha)


def measure_to_file(data_dir, settings: dict, seed: int, batch_sizes, draws: int, out, threads: int = 1) -> dict:
    """The measurement job: spreads at the network a run of ``settings`` and ``seed`` starts from."""
    from threadpoolctl import threadpool_limits

    from ..atomic import write_json
    from ..data import preprocess
    from ..settings import resolve

    settings = resolve(settings)
    with threadpool_limits(limits=threads):
        data = preprocess.load(data_dir)
        rng = np.random.default_rng(seed)
        sizes = [data.features, *settings.hidden, data.classes]
        net = Network.from_config(sizes, {**settings.to_dict(), "dtype": "float64"}, rng=rng)
        rows = measure(net, data.x_train, data.y_train, batch_sizes, draws, rng)
    result = {"m": int(data.x_train.shape[0]), "seed": seed, "sizes": net.sizes, "rows": rows}
    write_json(out, result)
    return result


class BatchSize(StudyKind):
    name = "batch_size"
    verdict_keys = ("alpha", "exponent_tolerance")
    summary = "K from 1 to m: cost by epoch and by update; spread of the mini-batch gradient against K"
    options = {
        "variance_batch_sizes": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "minItems": 3,
            "default": [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
            "description": "The K at which the spread of the mini-batch gradient is measured.",
        },
        "variance_draws": {"type": "integer", "minimum": 2, "default": 60, "description": "Batches drawn per K."},
        "exponent_tolerance": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 0.1,
            "description": "The verdict's tolerance: the fitted exponent's (1 − 2α) interval "
            "must lie within −½ ± this.",
        },
    }
    plots = ("cost_by_epoch", "cost_by_update", "spread")  # captions: studies/captions/{kind}-{plot}.rst

    def jobs(self, study: str, definition: dict, topology) -> list[Job]:
        # the fixed network: the study's first topology at its first seed's initialisation
        first = definition["topologies"][0]
        return [
            Job(
                "gradient_spread",
                (SPREAD_FILE.replace("{study}", study),),
                {
                    "settings": topology(first).to_dict(),
                    "seed": definition["seeds"][0],
                    "batch_sizes": definition["variance_batch_sizes"],
                    "draws": definition["variance_draws"],
                },
                mem_mb=3000,
                runtime=30,
            )
        ]

    def run_job(self, job, arguments, outputs, *, data_dir=None, threads=1):
        measure_to_file(
            data_dir,
            arguments["settings"],
            arguments["seed"],
            arguments["batch_sizes"],
            arguments["draws"],
            outputs[0],
            threads=threads,
        )

    def section(self, name: str, study: dict, data: Data) -> Section:
        import json
        from pathlib import Path

        import matplotlib.pyplot as plt
        import pandas as pd
        import seaborn as sns

        from ..report import plots
        from ..report.text import pct

        sec = self.new_section(name, study)
        h = data.hist[data.hist["topology"].isin(study["topologies"]) & data.hist["seed"].isin(study["seeds"])].copy()
        files = data.study_files.get(name, [])
        spread = json.loads(Path(files[0]).read_text(encoding="utf-8")) if files else None
        k_of = {t: m["settings"]["batch_size"] for (t, _), m in data.metrics.items() if t in study["topologies"]}
        m_train = spread["m"] if spread else (max(k_of.values()) if k_of else 1)
        h["K"] = h["topology"].map(lambda t: f"K = {k_of.get(t)}")
        h["updates"] = h["epoch"] * h["topology"].map(lambda t: math.ceil(m_train / k_of[t]))
        order = [f"K = {k_of[t]}" for t in study["topologies"] if t in k_of]
        for x, plot, xlabel, logx in (
            ("epoch", "cost_by_epoch", "epoch", False),
            ("updates", "cost_by_update", "parameter updates (mini-batch gradients)", True),
        ):
            fig, ax = plt.subplots(figsize=(7, 4.2))
            if len(h):
                sns.lineplot(
                    data=h,
                    x=x,
                    y="train_cost",
                    hue="K",
                    hue_order=order,
                    errorbar=plots.t_interval,
                    palette=plots.PALETTE,
                    marker="o",
                    markersize=3,
                    ax=ax,
                )
                ax.set_yscale("log")
                if logx:
                    ax.set_xscale("log")
            ax.set(xlabel=xlabel, ylabel="training cost (log)", title=f"Training cost by {xlabel.split(' (')[0]}")
            self.figure(sec, name, plot, fig, data)
            sec.figures[f"{name}-{plot}"] += sampled_note(data.metrics)
        rows = []
        for t in study["topologies"]:
            if t not in k_of:
                continue
            ht = h[h["topology"] == t]
            last = ht[ht["epoch"] == ht["epoch"].max()]
            acc = accuracies(data.runs[data.runs["seed"].isin(study["seeds"])], t)
            rows.append(
                [
                    t,
                    k_of[t],
                    math.ceil(m_train / k_of[t]),
                    f"{last['train_cost'].mean():.4f}",
                    pct(acc.mean()) if len(acc) else "diverged",
                    f"{ht['seconds'].mean():.2f}",
                ]
            )
        sec.header = ["topology", "K", "updates per epoch", "final training cost", "test accuracy %", "s per epoch"]
        sec.rows = rows
        fig, ax = plt.subplots(figsize=(6.5, 4.3))
        if spread:
            sp = pd.DataFrame(spread["rows"])
            ax.loglog(sp["batch_size"], sp["spread"], "o", color="C0", label="measured spread")
            ax.loglog(sp["batch_size"], sp["law"], "-", color="C3", label="s₁·√((m−K)/((m−1)K))  (1/√K)")
            ax.legend()
            sec.findings.append(
                f"Measured spread / the law's prediction: between {sp['ratio_to_law'].min():.2f} and "
                f"{sp['ratio_to_law'].max():.2f} over K = {sp['batch_size'].min()} … "
                f"{sp['batch_size'].max()} ({spread['rows'][0]['draws']} batches per K)."
            )
            sec.verdict = decide(
                spread["rows"], spread["m"], tolerance=study["exponent_tolerance"], alpha=study["alpha"]
            )
        else:
            sec.verdict = decide([], 1, tolerance=study["exponent_tolerance"], alpha=study["alpha"])
        ax.set(xlabel="batch size K", ylabel="‖g_B − g‖ (root mean square)", title="Spread of the mini-batch gradient")
        self.figure(sec, name, "spread", fig, data)
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec


KIND = BatchSize()
