"""One report section per study: the lecture's claim, the measurement, a verdict.

Each ``section_<kind>`` takes the study's definition and the gathered data
and returns a :class:`Section`: a title, the claim, a table (header and
rows), figures written into the plot folder (with one-line captions),
free-text findings and a one-sentence verdict saying whether the data
supports the claim.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..stats import mean_ci, welch
from . import plots

ALPHA = 0.05


@dataclass
class Section:
    name: str
    title: str
    claim: str
    description: str
    header: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # plot name -> caption
    findings: list = field(default_factory=list)
    verdict: str = ""


@dataclass
class Data:
    """What the sections read (built once by the report job)."""

    runs: pd.DataFrame  # one row per run (comparison.read_runs)
    hist: pd.DataFrame  # one row per run and epoch
    metrics: dict  # (topology, seed) -> metrics.json
    labels: dict  # topology -> display label
    study_files: dict  # study -> [paths]
    plot_dir: Path
    dataset: str
    published: list


def pct(x, d: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{d}f}"


def _runs(data: Data, study: dict) -> pd.DataFrame:
    r = data.runs
    return r[r["topology"].isin(study["topologies"]) & r["seed"].isin(study["seeds"])]


def _acc(r: pd.DataFrame, topo: str) -> np.ndarray:
    ok = r[(r["topology"] == topo) & (r["status"] == "ok")]
    return ok["test_accuracy"].to_numpy()


def _settings_note(data: Data, topo: str, base: str | None) -> str:
    m = next((v for k, v in data.metrics.items() if k[0] == topo), None)
    b = next((v for k, v in data.metrics.items() if k[0] == base), None) if base else None
    if m is None:
        return ""
    keys = ("activation", "output", "cost", "init", "eta", "batch_size", "epochs", "dropout", "momentum")
    s = m["settings"]
    if b is None or topo == base:
        return ", ".join(f"{k} {s.get(k)}" for k in ("activation", "output", "cost", "init", "eta"))
    diff = [f"{k} {s.get(k)}" for k in keys if s.get(k) != b["settings"].get(k)]
    if s.get("penalty") != b["settings"].get("penalty"):
        diff.append(f"penalty p {s['penalty']['p']}, λ {s['penalty']['lambda']:g}")
    return ", ".join(diff) or "same settings"


def _accuracy_rows(data: Data, study: dict, r: pd.DataFrame, base: str):
    rows = []
    for topo in study["topologies"]:
        rt = r[r["topology"] == topo]
        acc = _acc(r, topo)
        s = mean_ci(acc)
        div = rt[rt["status"] != "ok"]
        status = f"{len(acc)}/{len(rt)}" + (
            f"; diverged at epoch {', '.join(str(int(e)) for e in div['diverged_epoch'])}" if len(div) else ""
        )
        acc_text = "diverged" if not len(acc) else f"{pct(s.mean)} ± {pct(s.std)}"
        ci = "" if math.isnan(s.ci_low) else f"{pct(s.ci_low)}–{pct(s.ci_high)}"
        rows.append([topo, data.labels.get(topo, topo), _settings_note(data, topo, base), status, acc_text, ci])
    return rows


ACC_HEADER = ["topology", "layer sizes", "settings (vs the first row)", "seeds finished", "test accuracy % (final epoch)", "95 % CI"]


def _compare_sentence(data: Data, r, a: str, b: str) -> tuple[str, float, float]:
    acc_a, acc_b = _acc(r, a), _acc(r, b)
    if not len(acc_a) or not len(acc_b):
        return f"{b} vs {a}: cannot compare (a side diverged)", math.nan, math.nan
    w = welch(acc_b, acc_a)
    diff = 100 * (acc_b.mean() - acc_a.mean())
    p = w.p_value
    if not math.isnan(p) and p < ALPHA:
        return (f"{b} {'beats' if diff > 0 else 'is worse than'} {a} by {abs(diff):.2f} pp (Welch p = {p:.2g})", diff, p)
    ptxt = "n/a (one seed)" if math.isnan(p) else f"{p:.2g}"
    return f"{b} vs {a}: no significant difference ({diff:+.2f} pp, Welch p = {ptxt})", diff, p


def section_compare(name: str, study: dict, data: Data) -> Section:
    r = _runs(data, study)
    base = study["topologies"][0]
    sec = Section(name, study.get("description") or name, study.get("claim", ""), study.get("description", ""))
    sec.header, sec.rows = ACC_HEADER, _accuracy_rows(data, study, r, base)
    labels = {t: data.labels[t] for t in study["topologies"] if t in data.labels}
    if len(labels) < len(study["topologies"]) or len(set(labels.values())) < len(labels):
        labels = {t: t for t in study["topologies"]}
    fig = plots.test_accuracy(r, study["topologies"], labels)
    plots.save(fig, data.plot_dir / f"{name}-accuracy.png")
    sec.figures[f"{name}-accuracy"] = "Final-epoch test accuracy per seed with the mean and its 95 % t interval."
    results = []
    for topo in study["topologies"][1:]:
        sentence, diff, p = _compare_sentence(data, r, base, topo)
        sec.findings.append(sentence)
        results.append((topo, diff, p))
    diverged = sorted(set(r[r["status"] != "ok"]["topology"]))
    if diverged:
        sec.findings.append("Diverged (cost became non-finite, excluded from the means): " + ", ".join(diverged) + ".")
    expect = study.get("expect", "deeper_not_better")
    if expect == "deeper_not_better":
        depth = {t: len(data.metrics[next(k for k in data.metrics if k[0] == t)]["sizes"])
                 for t in study["topologies"] if any(k[0] == t for k in data.metrics)}
        deepest = max(depth, key=depth.get) if depth else None
        shallow = min(depth, key=depth.get) if depth else None
        if deepest is None or deepest == shallow:
            sec.verdict = "Not enough depths were run to test the claim."
        else:
            sentence, diff, p = _compare_sentence(data, r, shallow, deepest)
            better = not math.isnan(p) and p < ALPHA and diff > 0
            sec.verdict = (("Not supported" if better else "Supported") +
                           f": the deepest network ({deepest}) against the shallowest ({shallow}): {sentence}.")
    else:  # alternatives_better
        wins = [t for t, d, p in results if not math.isnan(p) and p < ALPHA and d > 0]
        sec.verdict = ("Supported" if wins else "Not supported") + (
            f": {', '.join(wins)} significantly beat{'s' if len(wins) == 1 else ''} the lecture's recipe ({base})."
            if wins else f": no alternative significantly beat the lecture's recipe ({base}) here.")
        if diverged:
            sec.verdict += f" Diverged: {', '.join(diverged)}."
    return sec


def section_regularisation(name: str, study: dict, data: Data) -> Section:
    thr = float(study.get("sparsity_threshold", 1e-3))
    sec = Section(name, study.get("description") or name, study.get("claim", ""), study.get("description", ""))
    rows, points = [], []
    for topo in study["topologies"]:
        keys = [k for k in data.metrics if k[0] == topo and k[1] in study["seeds"]]
        ok = [data.metrics[k] for k in keys if data.metrics[k]["status"] == "ok"]
        if not keys:
            continue
        s = data.metrics[keys[0]]["settings"]
        p, lam = s["penalty"]["p"], s["penalty"]["lambda"]
        acc = np.array([m["test"]["accuracy"] for m in ok])
        zero = np.array([m["sparsity"]["exactly_zero"] / m["sparsity"]["weights"] for m in ok])
        small = np.array([_below(m, thr) / m["sparsity"]["weights"] for m in ok])
        label = "none" if lam == 0 else f"p = {p:g}"
        rows.append([topo, "–" if lam == 0 else f"{p:g}", f"{lam:g}", f"{len(ok)}/{len(keys)}",
                     pct(acc.mean()) if acc.size else "diverged", pct(zero.mean(), 1) if acc.size else "",
                     pct(small.mean(), 1) if acc.size else ""])
        for m, a, z, sm in zip(ok, acc, zero, small):
            points.append({"penalty": label, "λ": lam, "accuracy %": 100 * a, "exactly zero %": 100 * z,
                           f"|w| < {thr:g} %": 100 * sm, "topology": topo})
    sec.header = ["topology", "p", "λ", "seeds finished", "test accuracy %", "weights exactly 0 %", f"|w| < {thr:g} %"]
    sec.rows = rows
    df = pd.DataFrame(points)
    fig, ax = plt.subplots(figsize=(7, 4.3))
    if len(df):
        sns.scatterplot(data=df, x=f"|w| < {thr:g} %", y="accuracy %", hue="penalty", size="λ", sizes=(40, 160),
                        style="penalty", palette=plots.PALETTE, ax=ax)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set(title="Accuracy against sparsity, one point per run", xlabel=f"weights with |w| < {thr:g} (%)")
    plots.save(fig, data.plot_dir / f"{name}-tradeoff.png")
    sec.figures[f"{name}-tradeoff"] = f"Each run's test accuracy against its share of weights below {thr:g} in magnitude; colour is the penalty's p, size its λ."
    if len(df):
        low_p = df[df["penalty"].isin([l for l in df["penalty"].unique() if l not in ("none", "p = 2")])]
        l2 = df[df["penalty"] == "p = 2"]
        z_low = low_p["exactly zero %"].max() if len(low_p) else 0.0
        z_l2 = l2["exactly zero %"].max() if len(l2) else 0.0
        sec.findings.append(f"Largest share of weights exactly zero: {z_low:.1f} % with p ≤ 1, {z_l2:.1f} % with p = 2.")
        if len(low_p):
            best = low_p.sort_values("accuracy %").iloc[-1]
            sec.findings.append(f"Most accurate p ≤ 1 run: {best['topology']} with {best['accuracy %']:.2f} % and {best['exactly zero %']:.1f} % of its weights exactly zero.")
        supported = z_low >= 10.0 and z_low > 5 * max(z_l2, 0.1)
        sec.verdict = ("Supported" if supported else "Not supported") + (
            f": p ≤ 1 penalties set up to {z_low:.1f} % of the weights exactly to zero, p = 2 at most {z_l2:.1f} %.")
    return sec


def _below(m: dict, thr: float) -> int:
    below = m["sparsity"]["below"]
    key = min(below, key=lambda k: abs(math.log(float(k)) - math.log(thr)))
    return below[key]


def section_dropout(name: str, study: dict, data: Data) -> Section:
    r = _runs(data, study)
    sec = Section(name, study.get("description") or name, study.get("claim", ""), study.get("description", ""))
    h = data.hist[data.hist["topology"].isin(study["topologies"]) & data.hist["seed"].isin(study["seeds"])]
    rows, gaps = [], {}
    for topo in study["topologies"]:
        ht = h[h["topology"] == topo]
        if ht.empty:
            continue
        last = ht[ht["epoch"] == ht["epoch"].max()]
        gap = (last["train_accuracy"] - last["val_accuracy"]).to_numpy()
        s = next(v for k, v in data.metrics.items() if k[0] == topo)["settings"]
        gaps[topo] = (tuple(s["hidden"]), s["dropout"], float(gap.mean()))
        rows.append([topo, data.labels.get(topo, topo), f"{s['dropout']:g}", pct(last["train_accuracy"].mean()),
                     pct(last["val_accuracy"].mean()), f"{100 * gap.mean():.2f}", pct(_acc(r, topo).mean() if len(_acc(r, topo)) else math.nan)])
    sec.header = ["topology", "layer sizes", "dropout r", "train accuracy % (last epoch)", "validation accuracy %",
                  "gap (pp)", "test accuracy %"]
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
        sns.lineplot(data=df, x="epoch", y="accuracy %", hue="topology", hue_order=[t for t in study["topologies"] if t in gaps],
                     style="split", errorbar=None, palette=plots.PALETTE, ax=ax)
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set(title="Training (solid) vs validation (dashed) accuracy")
    plots.save(fig, data.plot_dir / f"{name}-curves.png")
    sec.figures[f"{name}-curves"] = "Training and validation accuracy by epoch (mean over seeds); the distance between a pair of lines is the overfitting gap."
    by_width: dict = {}
    for topo, (width, rate, gap) in gaps.items():
        by_width.setdefault(width, {})[rate] = gap
    checks = []
    for width, rates in by_width.items():
        if 0 in rates and len(rates) > 1:
            top = max(rates)
            checks.append((width, rates[0], top, rates[top]))
            sec.findings.append(f"Hidden {list(width)}: gap {100 * rates[0]:.2f} pp without dropout, {100 * rates[top]:.2f} pp at r = {top:g}.")
    if checks:
        ok = all(g_top < g0 for _, g0, _, g_top in checks)
        sec.verdict = ("Supported" if ok else "Not supported") + (
            ": the strongest dropout narrowed the train–validation gap for every width." if ok else
            ": the strongest dropout did not narrow the gap for every width.")
    return sec


def section_vanishing_gradient(name: str, study: dict, data: Data) -> Section:
    sec = Section(name, study.get("description") or name, study.get("claim", ""), study.get("description", ""))
    h = data.hist[data.hist["topology"].isin(study["topologies"]) & data.hist["seed"].isin(study["seeds"])]
    rows, points, ratios = [], [], {}
    for topo in study["topologies"]:
        ht = h[h["topology"] == topo]
        if ht.empty:
            continue
        cols = sorted((c for c in ht.columns if c.startswith("grad_norm_") and ht[c].notna().any()), key=lambda c: int(c.rsplit("_", 1)[1]))
        means = [float(ht[c].mean()) for c in cols]
        s = next(v for k, v in data.metrics.items() if k[0] == topo)["settings"]
        ratio = means[0] / means[-1] if means[-1] > 0 else math.nan
        ratios[topo] = (s["activation"], len(cols), ratio)
        rows.append([topo, s["activation"], len(cols), " · ".join(f"{m:.2e}" for m in means), f"{ratio:.3g}"])
        for i, m in enumerate(means, start=1):
            points.append({"topology": topo, "family": s["activation"], "layer ℓ": i, "‖∂C/∂b_ℓ‖ (mean over epochs)": m})
    sec.header = ["topology", "activation", "layers L", "mean ‖∂C/∂b_ℓ‖, ℓ = 1 … L", "first / last layer"]
    sec.rows = rows
    df = pd.DataFrame(points)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    if len(df):
        sns.lineplot(data=df, x="layer ℓ", y="‖∂C/∂b_ℓ‖ (mean over epochs)", hue="topology", style="family",
                     markers=True, dashes=True, palette=plots.PALETTE, ax=ax)
        ax.set_yscale("log")
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set(title="Gradient size by layer (layer 1 is next to the input)")
    plots.save(fig, data.plot_dir / f"{name}-gradients.png")
    sec.figures[f"{name}-gradients"] = "Mean norm of the bias gradient of each layer over training, log scale: a falling line means early layers learn more slowly."
    sig = [(L, ratio) for _, (act, L, ratio) in ratios.items() if act == "sigmoid"]
    other = [(L, ratio) for _, (act, L, ratio) in ratios.items() if act != "sigmoid"]
    if sig:
        Ls, rs = max(sig)
        sec.findings.append(f"Deepest sigmoid net (L = {Ls}): the first layer's gradient is {rs:.3g} × the last layer's.")
        if other:
            Lo, ro = max(other)
            sec.findings.append(f"Deepest other net (L = {Lo}): {ro:.3g} ×.")
        supported = rs < 0.5 and (not other or rs < max(other)[1])
        sec.verdict = ("Supported" if supported else "Not supported") + (
            f": in the deepest sigmoid network the first layer's gradient is {rs:.3g} × the last layer's"
            + (f", against {max(other)[1]:.3g} × with ReLU." if other else "."))
    return sec


def section_batch_size(name: str, study: dict, data: Data) -> Section:
    sec = Section(name, study.get("description") or name, study.get("claim", ""), study.get("description", ""))
    h = data.hist[data.hist["topology"].isin(study["topologies"]) & data.hist["seed"].isin(study["seeds"])].copy()
    m_train = None
    spread_file = next((f for f in data.study_files.get(name, []) if f.endswith("gradient_spread.json")), None)
    spread = json.loads(Path(spread_file).read_text()) if spread_file else None
    if spread:
        m_train = spread["m"]
    k_of = {t: next(v for k, v in data.metrics.items() if k[0] == t)["settings"]["batch_size"]
            for t in study["topologies"] if any(k[0] == t for k in data.metrics)}
    if m_train is None:
        m_train = max(k_of.values()) if k_of else 1
    h["K"] = h["topology"].map(lambda t: f"K = {k_of.get(t)}")
    h["updates"] = h.apply(lambda row: row["epoch"] * math.ceil(m_train / k_of[row["topology"]]), axis=1)
    order = [f"K = {k_of[t]}" for t in study["topologies"] if t in k_of]
    for x, fname, xlabel, logx in (("epoch", "cost_by_epoch", "epoch", False), ("updates", "cost_by_update", "parameter updates (mini-batch gradients)", True)):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        if len(h):
            sns.lineplot(data=h, x=x, y="train_cost", hue="K", hue_order=order, errorbar=plots.t_interval,
                         palette=plots.PALETTE, marker="o", markersize=3, ax=ax)
            ax.set_yscale("log")
            if logx:
                ax.set_xscale("log")
        ax.set(xlabel=xlabel, ylabel="training cost (log)", title=f"Training cost by {xlabel.split(' (')[0]}")
        plots.save(fig, data.plot_dir / f"{name}-{fname}.png")
    sec.figures[f"{name}-cost_by_epoch"] = "Training cost after each epoch: every epoch costs the same m gradient evaluations whatever K."
    sec.figures[f"{name}-cost_by_update"] = "The same against the number of parameter updates (log scale): GD makes one exact step per epoch, SGD m noisy ones."
    rows = []
    for t in study["topologies"]:
        if t not in k_of:
            continue
        ht = h[h["topology"] == t]
        last = ht[ht["epoch"] == ht["epoch"].max()]
        acc = _acc(data.runs[data.runs["seed"].isin(study["seeds"])], t)
        rows.append([t, k_of[t], math.ceil(m_train / k_of[t]), f"{last['train_cost'].mean():.4f}",
                     pct(acc.mean()) if len(acc) else "diverged", f"{ht['seconds'].mean():.2f}"])
    sec.header = ["topology", "K", "updates per epoch", "final training cost", "test accuracy %", "s per epoch"]
    sec.rows = rows
    fig, ax = plt.subplots(figsize=(6.5, 4.3))
    if spread:
        sp = pd.DataFrame(spread["rows"])
        ax.loglog(sp["batch_size"], sp["spread"], "o", color="C0", label="measured spread")
        ax.loglog(sp["batch_size"], sp["law"], "-", color="C3", label="s₁·√((m−K)/((m−1)K))  (1/√K)")
        ax.legend()
        sec.findings.append(f"Spread of the mini-batch gradient at a fixed network: slope of log spread on log K = {spread['slope']:.3f} (the law: −0.5); "
                            f"measured/law between {sp['ratio_to_law'].min():.2f} and {sp['ratio_to_law'].max():.2f}.")
        ok = abs(spread["slope"] + 0.5) <= 0.1
        sec.verdict = ("Supported" if ok else "Not supported") + f": the spread falls with slope {spread['slope']:.3f} on a log-log scale, against −0.5 for 1/√K."
    ax.set(xlabel="batch size K", ylabel="‖g_B − g‖ (root mean square)", title="Spread of the mini-batch gradient")
    plots.save(fig, data.plot_dir / f"{name}-spread.png")
    sec.figures[f"{name}-spread"] = "Root-mean-square distance between a mini-batch gradient and the full gradient, against K, at a fixed network; the line is the 1/√K law."
    return sec


def section_universal_approximation(name: str, study: dict, data: Data) -> Section:
    sec = Section(name, study.get("description") or name, study.get("claim", ""), study.get("description", ""))
    files = data.study_files.get(name, [])
    results = []
    for f in files:
        if f.endswith("results.json"):
            results += json.loads(Path(f).read_text())
    df = pd.DataFrame(results)
    fig, ax = plt.subplots(figsize=(7, 4.3))
    if len(df):
        ok = df[np.isfinite(df["sup_error"])]
        sns.lineplot(data=ok, x="width", y="sup_error", hue="activation", style="target", markers=True,
                     palette=plots.PALETTE, ax=ax)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
    ax.set(xlabel="hidden units N", ylabel="sup-norm error on a dense grid", title="One hidden layer: error against width")
    plots.save(fig, data.plot_dir / f"{name}-error.png")
    sec.figures[f"{name}-error"] = "Largest error |Φ(x) − f(x)| on a dense grid against the number of hidden units (log-log); x² is the polynomial counter-example."
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    fits = [f for f in files if f.endswith("fits.npz") and "sin3x_abs" in f]
    for ax, f in zip(axes, fits[:2]):
        with np.load(f, allow_pickle=False) as z:
            ax.plot(z["x"], z["target"], color="black", lw=2.5, label="f(x) = sin 3x + |x|")
            widths = sorted(int(k.split("_")[1]) for k in z.files if k.startswith("width_"))
            for w in [w for w in widths if w in (1, 4, 16, 64, 256) or w == widths[-1]]:
                ax.plot(z["x"], z[f"width_{w}"], lw=1.2, label=f"N = {w}")
        ax.set(title=Path(f).parent.name.split("-", 1)[1], xlabel="x")
        ax.legend(fontsize="x-small")
    plots.save(fig, data.plot_dir / f"{name}-fits.png")
    sec.figures[f"{name}-fits"] = "The fitted functions on [−1, 1] for a few widths, per activation."
    rows = []
    for (target, act), g in df.groupby(["target", "activation"], sort=False) if len(df) else []:
        g = g.sort_values("width")
        rows.append([target, act] + [("diverged" if not np.isfinite(e) else f"{e:.3g}") for e in g["sup_error"]])
    widths = sorted(df["width"].unique().tolist()) if len(df) else []
    sec.header = ["target", "activation"] + [f"N = {w}" for w in widths]
    sec.rows = rows
    verdicts = []
    for target, g in df.groupby("target") if len(df) else []:
        poly = g[g["activation"] == "square"].sort_values("width")
        non = g[g["activation"] != "square"].sort_values("width")
        for act, gg in non.groupby("activation"):
            first, last = gg["sup_error"].iloc[0], gg["sup_error"].iloc[-1]
            verdicts.append(last < 0.5 * first)
            sec.findings.append(f"{target}, {act}: sup error {first:.3g} at N = {gg['width'].iloc[0]} → {last:.3g} at N = {gg['width'].iloc[-1]}.")
        if len(poly):
            fin = poly[np.isfinite(poly["sup_error"])]
            best = fin["sup_error"].min() if len(fin) else math.inf
            sec.findings.append(f"{target}, x²: never below {best:.3g} whatever N (a quadratic polynomial cannot do better).")
            if len(non):
                verdicts.append(best > non.groupby("activation")["sup_error"].min().min())
    if verdicts:
        sec.verdict = ("Supported" if all(verdicts) else "Not supported") + (
            ": the error of non-polynomial units keeps falling with N while x² stalls." if all(verdicts)
            else ": the errors did not behave as the theorem predicts for every target (see the table).")
    return sec


def section_best(name: str, study: dict, data: Data) -> Section:
    r = _runs(data, study)
    sec = Section(name, study.get("description") or name, study.get("claim", ""), study.get("description", ""))
    rows = []
    best_acc = math.nan
    for topo in study["topologies"]:
        acc = _acc(r, topo)
        rt = r[r["topology"] == topo]
        at_best = rt["test_accuracy_at_best_val"].mean()
        secs = rt["wall_seconds"].mean() if "wall_seconds" in rt else rt["train_seconds"].mean()
        rows.append([topo, data.labels.get(topo, topo), _settings_note(data, topo, None), pct(acc.mean()) if len(acc) else "diverged",
                     pct(at_best), f"{secs:.0f}"])
        if len(acc):
            best_acc = np.nanmax([best_acc, acc.mean()])
    sec.header = ["topology", "layer sizes", "settings", "test accuracy % (final epoch)", "at the best validation epoch", "training s"]
    sec.rows = rows
    fig = plots.test_accuracy(r, study["topologies"], {t: t for t in study["topologies"]})
    plots.save(fig, data.plot_dir / f"{name}-accuracy.png")
    sec.figures[f"{name}-accuracy"] = "Test accuracy of the best-MLP runs."
    refs = [p for p in data.published if "accuracy" in p]
    for p in refs:
        sec.findings.append(f"Published: {p['setup']}: {pct(p['accuracy'])} % ({p['source']}).")
    if not math.isnan(best_acc):
        if data.dataset == "mnist":
            ok = best_acc >= 0.985
            sec.verdict = ("Supported" if ok else "Not supported") + f": {pct(best_acc)} % on MNIST against the 98.5 % target."
        elif refs:
            top = max(refs, key=lambda p: p["accuracy"])
            ok = best_acc > top["accuracy"]
            sec.verdict = (f"On {data.dataset} (the lecture's target is for MNIST): {pct(best_acc)} %, "
                           f"{'above' if ok else 'below'} the best published MLP row ({pct(top['accuracy'])} %, {top['source']}).")
    return sec


SECTIONS = {
    "compare": section_compare,
    "regularisation": section_regularisation,
    "dropout": section_dropout,
    "vanishing_gradient": section_vanishing_gradient,
    "batch_size": section_batch_size,
    "universal_approximation": section_universal_approximation,
    "best": section_best,
}


def build_sections(studies: list[dict], data: Data) -> list[Section]:
    return [SECTIONS[s["kind"]](s["name"], s, data) for s in studies]
