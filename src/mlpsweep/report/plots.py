"""The report's figures, drawn with seaborn (matplotlib, Agg backend).

Each function takes plain data (pandas frames, arrays) and returns a
matplotlib Figure; :func:`save` writes it atomically as PNG (and SVG when
asked), without timestamps, so the same data give the same files.
Confidence bands and error bars are Student-t 95 % intervals over seeds
(:func:`mlpsweep.stats.mean_ci`), the same numbers as in the tables; with
fewer than three seeds the curves are the seeds' own.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from ..atomic import atomic_path  # noqa: E402
from ..nn import activations as act  # noqa: E402
from ..stats import mean_ci  # noqa: E402

sns.set_theme(style="whitegrid", context="notebook")
plt.rcParams.update({"svg.hashsalt": "mlpsweep", "figure.dpi": 100, "savefig.bbox": "tight"})
PALETTE = "colorblind"


def t_interval(values):
    """seaborn ``errorbar`` callable: the t 95 % interval of the mean."""
    s = mean_ci(values)
    if s.n < 2:
        return (s.mean, s.mean)
    return (s.ci_low, s.ci_high)


def save(fig, path, svg: bool = False, dpi: int = 110) -> list[Path]:
    """Write ``fig`` to ``path`` (PNG), plus an SVG beside it when ``svg``."""
    path = Path(path)
    written = []
    targets = [(path, "png")] + ([(path.with_suffix(".svg"), "svg")] if svg else [])
    for target, fmt in targets:
        with atomic_path(target) as tmp:
            meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
            fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)
        written.append(target)
    plt.close(fig)
    return written


#: Fewer seeds than this on some topology's epoch: each seed's curve, not a band (a t band on two seeds is
#: wider than the axis).
BAND_SEEDS = 3


def by_epoch(ax, data: pd.DataFrame, y: str, order, **style) -> str:
    """Per-epoch lines of ``y`` by topology on ``ax``: the mean over seeds with a t 95 % band, or each seed's
    own curve where a topology has fewer than :data:`BAND_SEEDS` seeds at an epoch; whole-number epoch
    ticks.  Returns what the lines are, for the title."""
    few = len(data) and data.groupby(["topology", "epoch"]).size().min() < BAND_SEEDS
    if few:
        sns.lineplot(data=data, x="epoch", y=y, hue="topology", hue_order=order, units="seed", estimator=None,
                     palette=PALETTE, ax=ax, **style)  # fmt: skip
    else:
        sns.lineplot(data=data, x="epoch", y=y, hue="topology", hue_order=order, errorbar=t_interval,
                     palette=PALETTE, ax=ax, **style)  # fmt: skip
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    return f"each seed: fewer than {BAND_SEEDS} a topology" if few else "mean over seeds, 95 % band"


def curves(histories: pd.DataFrame, column: str, ylabel: str, order, log: bool = False, title: str = ""):
    """A per-epoch column per topology (:func:`by_epoch`); the title says what the lines are."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    what = by_epoch(ax, histories.dropna(subset=[column]), column, order, marker="o", markersize=3)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=ylabel, title=f"{title} ({what})")
    ax.legend(title="topology", fontsize="small")
    return fig


def test_accuracy(runs: pd.DataFrame, order, labels: dict):
    """Final test accuracy: one point per seed, mean ± t 95 % CI per topology."""
    ok = runs[runs["status"] == "ok"].copy()
    ok["accuracy %"] = 100 * ok["test_accuracy"]
    ok["label"] = ok["topology"].map(labels)
    label_order = [labels[t] for t in order if t in set(ok["topology"])]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.6 * len(label_order) + 2), 4.2))
    # Seeds side by side at fixed offsets (no random jitter: the same data draw the same figure); a low run
    # (far below its topology's median, not stuck: report.comparison.mark_low) ringed in red.
    low_runs = ok["low"].to_numpy(bool) if "low" in ok else np.zeros(len(ok), bool)
    ok["low_run"] = low_runs
    for i, label in enumerate(label_order):
        mine = ok[ok["label"] == label].sort_values("seed")
        ys, low = mine["accuracy %"].to_numpy(), mine["low_run"].to_numpy(bool)
        xs = i + np.linspace(-0.08, 0.08, len(ys)) if len(ys) > 1 else np.array([i])
        ax.scatter(xs, ys, color="0.45", s=36, zorder=2)
        if low.any():
            ax.scatter(xs[low], ys[low], s=110, facecolors="none", edgecolors="C3", linewidths=1.5, zorder=3,
                       label="low run" if not ax.get_legend_handles_labels()[1] else None)  # fmt: skip
    sns.pointplot(
        data=ok,
        x="label",
        y="accuracy %",
        order=label_order,
        errorbar=t_interval,
        color="C3",
        markers="D",
        linestyles="none",
        capsize=0.15,
        ax=ax,
    )
    ax.set(xlabel="", ylabel="test accuracy % (final epoch)", title="Test accuracy per seed, mean ± 95 % CI")
    ax.tick_params(axis="x", rotation=15)
    if low_runs.any():
        ax.legend(fontsize="small", loc="lower right")
    return fig


def per_class(per_class: pd.DataFrame, order, class_names):
    """Mean per-class test accuracy over seeds, one bar per topology."""
    fig, ax = plt.subplots(figsize=(9, 4.2))
    sns.barplot(
        data=per_class,
        x="class",
        y="accuracy %",
        hue="topology",
        hue_order=order,
        order=list(class_names),
        errorbar=None,
        palette=PALETTE,
        ax=ax,
    )
    low = max(0.0, per_class["accuracy %"].min() - 5)
    ax.set_ylim(low, 100)
    ax.set(xlabel="class", ylabel="test accuracy % (mean over seeds)", title="Per-class accuracy")
    ax.tick_params(axis="x", rotation=30 if max(len(c) for c in class_names) > 2 else 0)
    ax.legend(title="topology", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def confusion(cm: np.ndarray, class_names, title: str):
    fig, ax = plt.subplots(figsize=(7, 6))
    sns.heatmap(
        cm,
        annot=True,
        fmt="d",
        cmap="Blues",
        cbar=False,
        square=True,
        xticklabels=class_names,
        yticklabels=class_names,
        annot_kws={"fontsize": 7},
        ax=ax,
    )
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return fig


def gallery(images: np.ndarray, true, predicted, class_names, title: str, columns: int = 8):
    """Misclassified test images with their true and predicted labels."""
    n = len(images)
    rows = max(1, -(-n // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.35 * columns, 1.6 * rows + 0.4))
    for i, ax in enumerate(np.atleast_1d(axes).ravel()):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray_r", interpolation="nearest")
            ax.set_title(f"true {class_names[true[i]]}\npred {class_names[predicted[i]]}", fontsize=7)
    fig.suptitle(title, fontsize=10)
    return fig


def heaviside(z):
    """The step function H(z) of the first neurons (H(0) = ½); it has no useful derivative, so it is drawn only."""
    return np.heaviside(z, 0.5)


def activation_function(name: str):
    """An activation by name for drawing: the trainable ones of :mod:`mlpsweep.nn`, and Heaviside."""
    if name == "heaviside":
        return heaviside
    table = {**act.HIDDEN, **act.OUTPUT}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(table) + ['heaviside']}")
    return table[name]


def activations(names=("sigmoid", "relu", "heaviside", "tanh"), span: float = 5.0):
    """The activation functions, as on the lecture's slide."""
    z = np.linspace(-span, span, 1001)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    styles = {"heaviside": dict(drawstyle="steps-mid")}
    for name in names:
        ax.plot(z, activation_function(name)(z), label=name, lw=2, **styles.get(name, {}))
    ax.axhline(0, color="0.3", lw=0.8)
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set(xlabel="z = Σ wᵢxᵢ − b", ylabel="σ(z)", ylim=(-1.2, 2.2), title="Activation functions")
    ax.legend()
    return fig


def network(weights, sizes, title: str, per_layer: int = 150, max_nodes: int = 60):
    """The lecture's ``Phi.draw()``: nodes in layers, edge width ∝ |w|, colour by sign.

    Each layer with more than ``per_layer`` weights shows only its
    ``per_layer`` strongest (by |w|), and the title says so; layers wider
    than ``max_nodes`` are drawn as ``max_nodes`` evenly spaced nodes standing
    for all their units' positions.
    """
    n_layers = len(sizes)
    ys = [np.linspace(0, 1, n) if n > 1 else np.array([0.5]) for n in sizes]
    scale = max(float(np.abs(w).max()) for w in weights) or 1.0
    segments, widths, colours, notes = [], [], [], []
    for ell, w in enumerate(weights):
        flat = np.abs(w).ravel()
        if flat.size > per_layer:
            # a stable sort, not argpartition: which of equal weights are kept, and the order they are drawn in,
            # must not depend on the CPU (NumPy's partition is SIMD code), or the picture's bytes would
            keep_idx = np.sort(np.argsort(flat, kind="stable")[flat.size - per_layer :])
            notes.append(f"{per_layer} of {flat.size:,}")
        else:
            keep_idx = np.arange(flat.size)
            notes.append(f"all {flat.size:,}")
        rows, cols = np.unravel_index(keep_idx, w.shape)
        segments.extend([(ell, ys[ell][c]), (ell + 1, ys[ell + 1][r])] for r, c in zip(rows, cols))
        vals = w[rows, cols]
        widths.extend(0.3 + 3.0 * np.abs(vals) / scale)
        colours.extend(np.where(vals >= 0, "#c0392b", "#2471a3"))
    fig, ax = plt.subplots(figsize=(2.2 * n_layers + 1, 5))
    ax.add_collection(LineCollection(segments, linewidths=widths, colors=colours, alpha=0.6, zorder=1))
    for ell, n in enumerate(sizes):
        shown = ys[ell] if n <= max_nodes else ys[ell][np.linspace(0, n - 1, max_nodes).astype(int)]
        ax.scatter(np.full(shown.size, ell), shown, s=18 if n <= max_nodes else 4, color="0.15", zorder=2)
        ax.text(ell, 1.05, f"{n}", ha="center", fontsize=9)
    ax.set_xlim(-0.3, n_layers - 0.7)
    ax.set_ylim(-0.05, 1.12)
    ax.axis("off")
    ax.set_title(
        f"{title}\nstrongest weights per layer: {', '.join(notes)}; width ∝ |w|, red > 0, blue < 0", fontsize=9
    )
    return fig
