"""Kind ``universal_approximation``, measured: one hidden layer of N units fitting f on a compact set.

The theorem: a network with one hidden layer of enough units of a continuous,
non-polynomial activation approximates any continuous function on a compact
set as closely as asked (in the sup norm).  Here f is known and synthetic:

``sin3x_abs``   f(x) = sin(3x) + |x| on [−1, 1]                 (1-D)
``bump2d``      f(x, y) = sin(πx)·cos(πy) + |x·y| on [−1, 1]²   (2-D)

For each width N a network [d, N, 1] (given activation, linear output,
quadratic cost) is trained with :func:`mlpsweep.nn.train` on a sample grid and
its sup-norm error is measured on a much denser grid.  With σ(z) = z² the
network is a polynomial of degree 2 whatever N, so its error stops falling:
the theorem's condition is not a technicality.

The verdict, per target, with the declared ``error_reduction``: supported when
every non-polynomial activation's sup error at the widest N is at most
``error_reduction`` × its error at the narrowest N *and* the polynomial never
gets below the widest non-polynomial fit; contradicted when a non-polynomial
error does not fall that far, or the polynomial does as well; inconclusive
when a non-polynomial fit at either end diverged, only one width ran, or no
polynomial fit is left to compare.  Diverged fits are left out and counted.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from ..arithmetic import current
from ..atomic import atomic_path, write_text
from ..nn import Network, train
from ..nn.io import savez
from ..settings import resolve
from ..verdicts import Outcome, Verdict, combine
from .base import Data, Job, Section, StudyKind, thresholds

log = logging.getLogger("mlpsweep.studies.universal_approximation")

#: One fit job's folder (the rule's outputs and the section's inputs).
FIT_DIR = "results/studies/{study}/seed{seed}/{target}-{activation}"
FIT_FILES = ("results.json", "fits.npz")
POLYNOMIAL = {"square"}

TARGETS = {
    "sin3x_abs": (1, lambda x: np.sin(3 * x[:, 0]) + np.abs(x[:, 0])),
    "bump2d": (2, lambda x: np.sin(np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1]) + np.abs(x[:, 0] * x[:, 1])),
}


def grid(dim: int, points: int) -> np.ndarray:
    """A regular grid on [−1, 1]^dim with ``points`` per axis, as (n, dim) rows."""
    axis = np.linspace(-1.0, 1.0, points)
    if dim == 1:
        return axis[:, None]
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()])


def fit(
    target: str,
    activation: str,
    width: int,
    seed: int,
    *,
    epochs: int | None = None,
    eta: float | None = None,
    batch_size: int = 16,
    momentum: float = 0.9,
    train_points: int | None = None,
    test_points: int | None = None,
) -> tuple[dict, Network]:
    """Train [d, width, 1] on ``target`` and measure its errors on a dense grid.

    ``epochs`` and ``eta`` default to the study kind's options.
    """
    opts = UniversalApproximation.options
    epochs = opts["epochs"]["default"] if epochs is None else epochs
    eta = opts["eta"]["default"] if eta is None else eta
    dim, f = TARGETS[target]
    train_points = train_points or (256 if dim == 1 else 33)
    test_points = test_points or (4001 if dim == 1 else 201)
    x = grid(dim, train_points)
    y = f(x)[:, None]
    rng = np.random.default_rng(seed)
    settings = resolve(
        {
            "hidden": [width],
            "activation": activation,
            "output": "linear",
            "cost": "quadratic",
            "init": "xavier",
            "dtype": "float64",
            "epochs": epochs,
            "batch_size": batch_size,
            "eta": eta,
            "momentum": momentum,
            "eta_decay": 0.995,
        }
    )
    net = Network.from_config([dim, width, 1], settings.to_dict(), rng=rng, arithmetic=current())
    started = time.perf_counter()
    status = "ok"
    try:
        train(net, x, y, settings, rng)
    except Exception as exc:  # Diverged: recorded, the sweep goes on
        status = f"diverged: {exc}"
    xt = grid(dim, test_points)
    err = np.abs(net(xt)[:, 0] - f(xt)) if status == "ok" else np.array([np.inf])
    return {
        "target": target,
        "dim": dim,
        "activation": activation,
        "width": width,
        "seed": seed,
        "status": status,
        "sup_error": float(err.max()),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "seconds": time.perf_counter() - started,
        "epochs": epochs,
    }, net


def run(target: str, activation: str, widths, seed: int, out_dir, **kwargs) -> list[dict]:
    """Every width for one (target, activation): ``results.json`` and ``fits.npz`` in ``out_dir``."""
    out_dir = Path(out_dir)
    dim = TARGETS[target][0]
    show = grid(dim, 401 if dim == 1 else 2)
    rows, curves = [], {}
    for width in widths:
        row, net = fit(target, activation, int(width), seed, **kwargs)
        rows.append(row)
        if dim == 1 and row["status"] == "ok":
            curves[f"width_{width}"] = net(show)[:, 0]
        log.info(
            "%s, %s, N = %d: sup error %.4f, rmse %.4f (%.1f s)",
            target,
            activation,
            width,
            row["sup_error"],
            row["rmse"],
            row["seconds"],
        )
    write_text(out_dir / "results.json", json.dumps(rows, indent=1, allow_nan=True) + "\n")
    with atomic_path(out_dir / "fits.npz") as tmp:
        with open(tmp, "wb") as fh:
            savez(fh, x=show[:, 0], target=TARGETS[target][1](show), **curves)
    return rows


def decide(results: list[dict], *, error_reduction: float, min_seeds: int) -> Verdict:
    """``results``: rows of results.json (target, activation, width, seed, sup_error).

    The theorem says a width *can* represent the target that well; a fit is one attempt to find such
    weights, and gradient descent may not.  So each (activation, width) is represented by its best fit over
    the study's seeds (the smallest finite sup error: what that width was shown to reach), and the rule is
    applied per target to those best fits; at least ``min_seeds`` seeds are needed.  A seed whose own fits
    would not satisfy the rule is named (an optimisation failure, not a counter-example).
    """
    th = {"error_reduction": error_reduction, "min_seeds": min_seeds}
    seeds = sorted({r["seed"] for r in results})
    if len(seeds) < min_seeds:
        return Verdict(
            Outcome.INCONCLUSIVE,
            f"inconclusive: {len(seeds)} seed(s) of fits, and the study declares min_seeds = {min_seeds}.",
            {},
            th,
        )
    parts, failed = [], []
    for target in sorted({r["target"] for r in results}):
        rows = [r for r in results if r["target"] == target]
        best = {}
        for r in rows:
            key = (r["activation"], r["width"])
            if key not in best or (math.isfinite(r["sup_error"]) and not r["sup_error"] >= best[key]["sup_error"]):
                best[key] = r
        parts.append(_decide_one(target, f"best of {len(seeds)} seeds", list(best.values()), error_reduction))
        for seed in seeds:
            alone = _decide_one(target, f"seed {seed}", [r for r in rows if r["seed"] == seed], error_reduction)
            if alone.outcome is not Outcome.SUPPORTED:
                failed.append(f"{target} seed {seed}")
    verdict = combine(parts)
    lead = {
        Outcome.SUPPORTED: "the error of non-polynomial units falls with N while x² stalls.",
        Outcome.CONTRADICTED: "the errors do not behave as the theorem predicts.",
        Outcome.INCONCLUSIVE: "the fits cannot decide the claim.",
    }[verdict.outcome]
    note = (
        f" On its own, the fits of {', '.join(failed)} would not meet the rule (training that did not find the "
        "weights; the best fits show what the widths can represent)."
        if failed
        else ""
    )
    return Verdict(
        verdict.outcome,
        f"{lead} {verdict.sentence}{note}",
        {"fits": len(results), "seeds": len(seeds), "seeds_failing_alone": failed},
        th,
    )


def _decide_one(target: str, label: str, rows: list[dict], reduction: float) -> Verdict:
    what = f"{target} ({label})"
    finite = [r for r in rows if math.isfinite(r["sup_error"])]
    dropped = len(rows) - len(finite)
    note = f" ({dropped} diverged fit{'s' if dropped != 1 else ''} left out.)" if dropped else ""
    err = {(r["activation"], r["width"]): r["sup_error"] for r in finite}
    widths = sorted({r["width"] for r in rows})
    acts = sorted({r["activation"] for r in rows})
    non = [a for a in acts if a not in POLYNOMIAL]
    poly = [a for a in acts if a in POLYNOMIAL]
    if len(widths) < 2 or not non:
        return Verdict(Outcome.INCONCLUSIVE, f"{what}: needs two widths and a non-polynomial activation.{note}")
    lo, hi = widths[0], widths[-1]
    if any((a, w) not in err for a in non for w in (lo, hi)):
        return Verdict(Outcome.INCONCLUSIVE, f"{what}: a non-polynomial fit at N = {lo} or N = {hi} diverged.{note}")
    texts, falls = [], []
    for a in non:
        ratio = err[(a, hi)] / err[(a, lo)] if err[(a, lo)] > 0 else 0.0
        falls.append(ratio <= reduction)
        texts.append(
            f"{what}, {a}: sup error {err[(a, lo)]:.3g} at N = {lo} → {err[(a, hi)]:.3g} at N = {hi} "
            f"(× {ratio:.3g}, declared at most × {reduction:g})."
        )
    if not all(falls):
        return Verdict(Outcome.CONTRADICTED, " ".join(texts) + note)
    poly_errors = [e for (a, _), e in err.items() if a in poly]
    if not poly_errors:
        return Verdict(Outcome.INCONCLUSIVE, " ".join(texts) + " No polynomial fit to compare." + note)
    best_non, best_poly = min(err[(a, hi)] for a in non), min(poly_errors)
    texts.append(f"{what}, x²: never below {best_poly:.3g} at any N.")
    if best_poly <= best_non:
        return Verdict(Outcome.CONTRADICTED, " ".join(texts) + " The polynomial did as well as the widest fit." + note)
    return Verdict(Outcome.SUPPORTED, " ".join(texts) + note)


class UniversalApproximation(StudyKind):
    name = "universal_approximation"
    verdict_keys = ("min_seeds", "error_reduction")
    summary = "one hidden layer of growing width on synthetic targets; x² as the polynomial counter-example"
    needs_runs = False
    options = {
        "targets": {
            "type": "array",
            "items": {"enum": sorted(TARGETS)},
            "minItems": 1,
            "default": ["sin3x_abs", "bump2d"],
            "description": "Target functions: sin3x_abs on [-1,1], bump2d on [-1,1]^2.",
        },
        "activations": {
            "type": "array",
            "items": {"$ref": "#/definitions/settings/properties/activation"},
            "minItems": 1,
            "default": ["sigmoid", "square"],
            "description": "Hidden activations (square is the polynomial counter-example).",
        },
        "widths": {
            "type": "array",
            "items": {"type": "integer", "minimum": 1},
            "minItems": 2,
            "default": [1, 2, 4, 8, 16, 32, 64, 128, 256],
            "description": "Hidden layer widths N.",
        },
        "epochs": {"type": "integer", "minimum": 1, "default": 1500, "description": "Epochs per fit."},
        "eta": {"type": "number", "exclusiveMinimum": 0, "default": 0.05, "description": "Learning rate of the fits."},
        "error_reduction": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "default": 0.5,
            "description": "The verdict's factor: the widest fit's sup error must be at most this "
            "times the narrowest fit's.",
        },
    }
    plots = ("error", "fits")  # captions: studies/captions/{kind}-{plot}.rst

    def jobs(self, study: str, definition: dict, topology) -> list[Job]:
        """One fit job per (seed, target, activation), every width in turn."""
        return [
            Job(
                f"fit_seed{seed}_{t}_{a}",
                tuple(f"{FIT_DIR}/{f}".format(study=study, seed=seed, target=t, activation=a) for f in FIT_FILES),
                {
                    "target": t,
                    "activation": a,
                    "widths": definition["widths"],
                    "seed": seed,
                    "epochs": definition["epochs"],
                    "eta": definition["eta"],
                },
                mem_mb=1000,
                runtime=60,
            )
            for seed in definition["seeds"]
            for t in definition["targets"]
            for a in definition["activations"]
        ]

    def run_job(self, job, arguments, outputs, *, data_dir=None, threads=1):
        a = arguments
        run(
            a["target"],
            a["activation"],
            a["widths"],
            a["seed"],
            Path(outputs[0]).parent,
            epochs=a["epochs"],
            eta=a["eta"],
        )

    def section(self, name: str, study: dict, data: Data) -> Section:
        import matplotlib.pyplot as plt
        import pandas as pd
        import seaborn as sns

        from ..report import plots

        sec = self.new_section(name, study)
        files = data.study_files.get(name, [])
        results = []
        for f in files:
            if f.endswith("results.json"):
                results += json.loads(Path(f).read_text(encoding="utf-8"))
        df = pd.DataFrame(results)
        fig, ax = plt.subplots(figsize=(7, 4.3))
        if len(df):
            ok = df[np.isfinite(df["sup_error"])]
            sns.lineplot(
                data=ok,
                x="width",
                y="sup_error",
                hue="activation",
                style="target",
                markers=True,
                palette=plots.PALETTE,
                ax=ax,
            )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
        ax.set(
            xlabel="hidden units N",
            ylabel="sup-norm error on a dense grid",
            title="One hidden layer: error against width",
        )
        self.figure(sec, name, "error", fig, data)
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
        first = f"/seed{study['seeds'][0]}/"
        fits = [f for f in files if f.endswith("fits.npz") and "sin3x_abs" in f and first in f]
        for ax, f in zip(axes, fits[:2]):
            with np.load(f, allow_pickle=False) as z:
                ax.plot(z["x"], z["target"], color="black", lw=2.5, label="f(x) = sin 3x + |x|")
                widths = sorted(int(k.split("_")[1]) for k in z.files if k.startswith("width_"))
                for w in [w for w in widths if w in (1, 4, 16, 64, 256) or w == widths[-1]]:
                    ax.plot(z["x"], z[f"width_{w}"], lw=1.2, label=f"N = {w}")
            ax.set(title=Path(f).parent.name.split("-", 1)[1], xlabel="x")
            ax.legend(fontsize="x-small")
        self.figure(sec, name, "fits", fig, data)
        rows = []
        for (target, act), g in df.groupby(["target", "activation"], sort=False) if len(df) else []:
            by_width = g.groupby("width")["sup_error"].median().sort_index()  # NaN (diverged) only if all diverged
            rows.append([target, act] + [("diverged" if not np.isfinite(e) else f"{e:.3g}") for e in by_width])
        widths = sorted(df["width"].unique().tolist()) if len(df) else []
        n_seeds = df["seed"].nunique() if len(df) else 0
        sec.header = ["target", "activation"] + [
            f"N = {w}" + (" (median of seeds)" if n_seeds > 1 and i == 0 else "") for i, w in enumerate(widths)
        ]
        sec.rows = rows
        sec.verdict = decide(results, error_reduction=study["error_reduction"], min_seeds=study["min_seeds"])
        sec.thresholds = thresholds(study, self.verdict_keys)
        return sec


KIND = UniversalApproximation()
