"""The report job: every run of one dataset into tables, plots, Markdown and HTML.

Outputs in ``out_dir``: ``report.html`` (self-contained, images embedded),
``report.md``, ``comparison.csv`` (one row per topology), ``runs.csv`` (one
row per run), ``pairwise.csv`` and ``plots/*.png`` (+ a few SVGs).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .. import provenance
from ..atomic import write_text
from ..data import preprocess
from ..nn import History, load_network
from .. import verdicts
from ..stats import mcnemar, mean_ci
from . import caption, comparison, html, plots
from .sections import Data, sampled_note, settings_of
from .text import ci_text, sizes_label

log = logging.getLogger("mlpsweep.report")


@dataclass
class RunFiles:
    metrics: Path
    history: Path
    predictions: Path
    model: Path
    benchmark: Path | None = None


def reference() -> dict:
    text = resources.files("mlpsweep.report").joinpath("reference.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def build_time() -> str:
    """When the report was built: ``SOURCE_DATE_EPOCH`` if set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def median_seed(runs: pd.DataFrame, topology: str):
    """The seed whose final test accuracy is the median (the lower one of two middles)."""
    ok = runs[(runs["topology"] == topology) & (runs["status"] == "ok")].sort_values(["test_accuracy", "seed"])
    if ok.empty:
        return None
    return int(ok.iloc[(len(ok) - 1) // 2]["seed"])


#: The per-job table's column names in words (wall_seconds is the job's wall time shared out over its runs).
BENCH_COLUMNS = {
    "runs_in_job": "runs in its job",
    "wall_seconds": "wall seconds (its job's, ÷ the runs in the job)",
    "max_rss_mb": "peak memory of its job (MB)",
    "train_seconds": "SGD seconds",
}


def summary_table(runs: pd.DataFrame, order) -> pd.DataFrame:
    rows = []
    for name in order:
        r = runs[runs["topology"] == name]
        if r.empty:
            continue
        ok = r[r["status"] == "ok"]
        final = mean_ci(ok["test_accuracy"])
        best = mean_ci(ok["test_accuracy_at_best_val"])
        diverged = r[r["status"] != "ok"]
        rows.append(
            {
                "topology": name,
                "sizes": r["sizes"].iloc[0],
                "n_params": int(r["n_params"].iloc[0]),
                "seeds": len(r),
                "finished": len(ok),
                "diverged": len(diverged),
                "diverged_at": "; ".join(
                    f"seed {s}: epoch {int(e)}" for s, e in zip(diverged["seed"], diverged["diverged_epoch"])
                ),
                "test_accuracy_mean": final.mean,
                "test_accuracy_std": final.std,
                "test_accuracy_ci_low": final.ci_low,
                "test_accuracy_ci_high": final.ci_high,
                "best_val_test_accuracy_mean": best.mean,
                "best_val_epoch_mean": float(ok["best_val_epoch"].mean()) if len(ok) else np.nan,
                "train_seconds_mean": float(r["wall_seconds"].mean())
                if "wall_seconds" in r
                else float(r["train_seconds"].mean()),
                "max_rss_mb": float(r["max_rss_mb"].max()) if "max_rss_mb" in r else np.nan,
                "median_seed": median_seed(runs, name),
                "stuck_seeds": ", ".join(str(int(x)) for x in r[r["stuck"].fillna(False).astype(bool)]["seed"])
                if "stuck" in r
                else "",
                "low_seeds": ", ".join(str(int(x)) for x in r[r["low"]]["seed"]) if "low" in r else "",
            }
        )
    return pd.DataFrame(rows)


def trained_accuracies(runs: pd.DataFrame, topology: str) -> np.ndarray:
    """The test accuracies of a topology's runs that trained (:func:`.comparison.trained`: what the study
    verdicts' first part and the pairwise tests rest on)."""
    return runs[(runs["topology"] == topology) & comparison.trained(runs)]["test_accuracy"].to_numpy()


def pairwise(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    predictions: dict,
    y_test,
    labels: dict,
    *,
    alpha: float,
    power: float,
    links: dict | None = None,
) -> pd.DataFrame:
    """Every pair of topologies: the difference of the 25 % trimmed means of their runs that trained, by the test
    the study verdicts' first part uses (Yuen's, min(h_A, h_B) − 1 degrees of freedom; two-sided, Holm over the
    pairs), and McNemar on the median seeds.  ``links``: (a, b) -> the verdict that decides that pair."""
    rows = []
    finished = summary[summary["finished"] > 0]["topology"].tolist()
    by_topo = summary.set_index("topology")
    k = max(1, len(finished) * (len(finished) - 1) // 2)  # the pairs Holm adjusts over
    rule = dict(power=power, df="min", trim=verdicts.TRIM)
    for a, b in combinations(finished, 2):
        acc_a, acc_b = trained_accuracies(runs, a), trained_accuracies(runs, b)
        d = verdicts.difference(acc_a, acc_b, alpha=alpha / 2, **rule)  # (1 − α) two-sided interval
        # the smallest difference the pair's own test detects: two-sided at Holm's first-step level α/k
        mde = verdicts.difference(acc_a, acc_b, alpha=alpha / k, **rule).mde
        p = verdicts.two_sided_p(d)
        sa, sb = by_topo.loc[a, "median_seed"], by_topo.loc[b, "median_seed"]
        m = mcnemar(predictions[(a, sa)] == y_test, predictions[(b, sb)] == y_test)
        rows.append(
            {
                "a": a,
                "b": b,
                "trained_a": d.n_a,
                "trained_b": d.n_b,
                "difference_pp": 100 * d.diff,
                "ci_low_pp": 100 * d.low,
                "ci_high_pp": 100 * d.high,
                "test": d.test,
                "df": d.df,
                "p": p,
                "detectable_pp": 100 * mde,
                "detectable_level": alpha / k,  # two-sided, Holm's first step over the k pairs
                "detectable_power": power,
                "median_seed_a": sa,
                "median_seed_b": sb,
                "mcnemar_only_a_right_minus_only_b_right": m.statistic,
                "mcnemar_p": m.p_value,
                "verdict": (links or {}).get((a, b), ""),
                "label_a": labels[a],
                "label_b": labels[b],
            }
        )
    table = pd.DataFrame(rows)
    if len(table):
        table["holm_significant"] = verdicts.holm(table["p"].tolist(), alpha)
        table["sentence"] = [pair_sentence(r, alpha, len(table)) for r in table.to_dict("records")]
        table = table.drop(columns=["label_a", "label_b"])
    return table


def study_pairs(
    runs: pd.DataFrame, order, studies, kind, predictions: dict, y_test, labels: dict, *, alpha: float, power: float
) -> pd.DataFrame:
    """The pairwise tests of the report: within each study whose kind compares its topologies, on that study's own
    seeds (and its median seeds for McNemar); every pair of ``order`` when the report has no studies.  A pair a
    study's verdict decides names that study."""
    groups = [s for s in studies if kind(s["kind"]).pairwise] if studies else [{"topologies": order, "seeds": None}]
    if not (order and groups):
        return pd.DataFrame()
    depth = {t: len(json.loads(z)) for t, z in zip(runs["topology"], runs["sizes"])}
    tables = []
    for s in groups:
        topologies, seeds = s["topologies"], s["seeds"]
        links = {p: s["name"] for p in kind(s["kind"]).decided_pairs(s, depth)} if "name" in s else {}
        sub = runs[runs["topology"].isin(topologies) & (runs["seed"].isin(seeds) if seeds is not None else True)]
        tables.append(
            pairwise(
                sub,
                summary_table(sub, [t for t in order if t in set(topologies)]),
                predictions,
                y_test,
                labels,
                alpha=alpha,
                power=power,
                links=links,
            )
        )
    return pd.concat(tables, ignore_index=True).drop_duplicates(subset=["a", "b"])


def pair_sentence(r: dict, alpha: float, k: int) -> str:
    """One pair in words: the difference, which runs it rests on, its interval, what the test allows to say, and
    the study verdict that decides the pair."""
    la, lb = r["label_a"], r["label_b"]
    mc = f"McNemar on the median seeds: p = {r['mcnemar_p']:.2g}"
    link = (
        f" Study {r['verdict']}'s verdict decides this pair against its margin with the same statistic, one-sided "
        "(its table, part 1)."
        if r.get("verdict")
        else ""
    )
    runs = f"{100 * verdicts.TRIM:g} % trimmed means of the {r['trained_b']} and {r['trained_a']} runs that trained"
    if not np.isfinite(r["difference_pp"]):
        return (
            f"{lb} − {la}: no difference to give — a side has no run that trained ({r['trained_b']} and "
            f"{r['trained_a']}; {mc}).{link}"
        )
    if not np.isfinite(r["p"]):
        return (
            f"{lb} − {la}: {r['difference_pp']:+.2f} pp ({runs}): too few runs for an interval or a test ({mc}).{link}"
        )
    head = (
        f"{lb} − {la}: {r['difference_pp']:+.2f} pp ({runs}), {100 * (1 - alpha):.0f} % CI [{r['ci_low_pp']:+.2f}, "
        f"{r['ci_high_pp']:+.2f}] pp, Yuen's test p = {r['p']:.2g}"
    )
    holm = f"Holm over {k} pair{'s' if k != 1 else ''} at α = {alpha:g}"
    if r["holm_significant"]:
        win, lose = (lb, la) if r["difference_pp"] > 0 else (la, lb)
        return f"{head}: {win} is more accurate than {lose} ({holm}; {mc}).{link}"
    return (
        f"{head}: not significant ({holm}); this run could only have detected differences larger than "
        f"{r['detectable_pp']:.2f} pp ({100 * r['detectable_power']:.0f} % power, two-sided at "
        f"α = {r['detectable_level']:.3g}, the first step of Holm; {mc}).{link}"
    )


def with_decisions(studies: list[dict], stages: dict, kind) -> list[dict]:
    """Staged studies as their last decision left them (a sequential study's seeds and last look; the kind says
    what, :meth:`~mlpsweep.studies.base.StudyKind.with_decision`)."""
    missing = [s["name"] for s in studies if kind(s["kind"]).stages(s) and s["name"] not in stages]
    if missing:
        raise ValueError(
            f"no last decision for the staged stud{'ies' if len(missing) > 1 else 'y'} "
            f"{', '.join(missing)} among the report's inputs (stages)"
        )
    out = []
    for s in studies:
        if s["name"] in stages:
            s = kind(s["kind"]).with_decision(s, json.loads(Path(stages[s["name"]]).read_text(encoding="utf-8")))
        out.append(s)
    return out


STUCK_HEADER = [
    "topology",
    "seed",
    "classes it (almost) never predicts on validation (predicted / images)",
    "validation accuracy % (final epoch)",
    "test accuracy % (final epoch)",
]
STUCK_RATE_HEADER = ["topology", "stuck runs / finished runs", "rate", "95 % Clopper–Pearson interval"]


def stuck_tables(runs: pd.DataFrame, order, metrics: dict, class_names) -> tuple[list, list]:
    """Every stuck run with its dead classes, and each topology's stuck rate with its exact interval (the
    topologies with at least one run the rule could judge)."""
    from ..stats import clopper_pearson

    named = []
    for r in runs[runs["stuck"].fillna(False).astype(bool)].itertuples(index=False):
        m = metrics[(r.topology, r.seed)]
        v = m["validation"]
        dead = ", ".join(
            f"{c} {class_names[c]} ({v['predicted_per_class'][c]:,} / {v['images_per_class'][c]:,})"
            for c in map(int, r.dead_classes.split())
        )
        named.append(
            [
                r.topology,
                int(r.seed),
                dead,
                f"{100 * m['final_epoch']['val_accuracy']:.2f}",
                f"{100 * r.test_accuracy:.2f}",
            ]
        )
    rates = []
    for topo in order:
        judged = runs[(runs["topology"] == topo) & runs["stuck"].notna()]
        if not len(judged):
            continue
        k = int(judged["stuck"].astype(bool).sum())
        rate = clopper_pearson(k, len(judged))
        rates.append(
            [topo, f"{k}/{len(judged)}", f"{100 * rate.rate:.0f} %", f"{100 * rate.low:.0f}–{100 * rate.high:.0f} %"]
        )
    return named, rates


def lecture_rows(dataset: str, summary: pd.DataFrame, settings: dict) -> tuple[list, str]:
    """The lecture's stated ranges next to this run's measurements."""
    ref = reference()["lecture"]

    def off_recipe(row) -> int:
        s = settings.get(row["topology"]) or {}
        return sum(s.get(k) != v for k, v in ref["recipe"].items())

    # Of the topologies with a row's layer sizes (all studies on: the recipe run, GD, ReLU, …), the one closest
    # to the lecture's recipe, the first of those in the report's order.
    by_sizes: dict = {}
    for _, row in summary.iterrows():
        if row["finished"] and (row["sizes"] not in by_sizes or off_recipe(row) < off_recipe(by_sizes[row["sizes"]])):
            by_sizes[row["sizes"]] = row
    out = []
    for entry in ref["rows"]:
        key = sizes_label(entry["sizes"]).replace(" ", "")
        low, high = entry["low"], entry["high"]
        stated = f"{100 * low:.0f}–{100 * high:.0f} %"
        row = by_sizes.get(key)
        if row is None or row["finished"] == 0:
            out.append([key, stated, "not run", "", ""])
            continue
        mean = row["test_accuracy_mean"]
        inside = "inside" if low <= mean <= high else ("above" if mean > high else "below")
        s = settings.get(row["topology"], {})
        differs = [f"{k} = {s.get(k)}" for k, v in ref["recipe"].items() if s.get(k) != v]
        ci = (
            ""
            if np.isnan(row["test_accuracy_ci_low"])
            else f" (95 % CI {ci_text(row['test_accuracy_ci_low'], row['test_accuracy_ci_high'])})"
        )
        out.append(
            [
                key,
                stated,
                f"{100 * mean:.2f} %{ci}",
                inside,
                ("recipe differs: " + ", ".join(differs)) if differs else "",
            ]
        )
    if dataset == ref["dataset"]:
        note = f"The lecture's table ({ref['note']}) next to this run's final-epoch test accuracy (mean over seeds)."
    else:
        note = (
            f"The lecture's ranges are for MNIST ({ref['note']}); this report is for {dataset}, "
            "so they are shown for orientation only, not as a target."
        )
    return out, note


def build(
    dataset: str,
    runs_files: list[RunFiles],
    out_dir,
    data_dir,
    order=None,
    *,
    config: dict,
    workflow_dir=None,
    studies: list[dict] | None = None,
    study_files: dict | None = None,
    kind=None,
    stages=None,
    environment: dict | None = None,
) -> None:
    """Build the report of ``runs_files``; ``config`` is the validated config (its ``verdicts`` decide).

    ``studies`` are resolved study definitions; ``kind(name)`` gives the
    :class:`~mlpsweep.studies.base.StudyKind` of each (which writes its section).
    ``stages``: study -> the decision file each staged study ended with (its
    kind says what it changes in the definition: a sequential study's seeds).

    ``environment``: where and when the report is built (:func:`build_environment`: the time, the versions of
    the report's libraries, the git commit, the lock, the machine), written to ``build.json``; the reproduction
    check passes a tree's own to rebuild its report byte for byte.

    Its phases are :func:`read_runs`, :func:`compare_topologies`, the figures,
    the study sections, :func:`write_tables` and the two templates; most of its
    length is the one dictionary of every value the templates read.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    plot_dir = out_dir / "plots"
    environment = environment or build_environment(workflow_dir)
    data = preprocess.load(data_dir, check=False)
    class_names = data.manifest["class_names"]
    y_test = np.asarray(data.y_test)
    studies = with_decisions(studies or [], stages or {}, kind) if kind else studies or []
    read = read_runs(runs_files)
    have_runs = bool(runs_files)
    cmp = compare_topologies(read, runs_files, order, studies, kind, y_test, config["verdicts"])
    runs, order, labels, summary = cmp["runs"], cmp["order"], cmp["labels"], cmp["summary"]
    if have_runs:  # what the runs were trained on, for the reproduction check (mlpsweep.compare)
        runs["dataset"], runs["dataset_sha256"] = dataset, dataset_fingerprint(data.manifest)
    metrics = read["metrics"]

    shown = figure_topologies(order, metrics)
    figures = {}
    if have_runs:
        figures = base_figures(
            plot_dir,
            runs,
            read["hist"],
            metrics,
            read["files"],
            read["predictions"],
            summary,
            shown,
            labels,
            data,
            y_test,
            class_names,
        )
        figures["training_cost"] += sampled_note(metrics)
    if len(shown) < len(order):
        for name in ("summary_accuracy", "validation_accuracy", "training_cost", "per_class_accuracy"):
            figures[name] += (
                f" It shows {len(shown)} of the {len(order)} topologies: those with the highest mean "
                "validation accuracy."
            )

    ref = reference()
    section_data = Data(
        runs=runs,
        hist=read["hist"],
        metrics=metrics,
        labels=labels,
        study_files=study_files or {},
        plot_dir=plot_dir,
        dataset=dataset,
        reference=ref,
    )
    study_sections = [kind(s["kind"]).section(s["name"], s, section_data) for s in studies]

    lecture, lecture_note = lecture_rows(dataset, summary, cmp["settings"]) if have_runs else ([], "")
    stuck, stuck_rates = stuck_tables(runs, order, metrics, class_names) if have_runs else ([], [])
    columns = ("topology", "seed", "status", "runs_in_job", "wall_seconds", "max_rss_mb", "train_seconds")
    write_tables(out_dir, runs, summary, cmp["pairs"], study_sections)
    context = dict(
        dataset=dataset,
        description=data.manifest.get("description") or f"Dataset {dataset}",
        summary=summary,
        labels=labels,
        order=order,
        pairs=cmp["pairs"],
        lecture=lecture,
        lecture_note=lecture_note,
        published=[p for p in ref["published"] if p["dataset"] == dataset],
        bench=runs[[c for c in columns if c in runs]].rename(columns=BENCH_COLUMNS),
        figures=figures,
        plot_dir=plot_dir,
        provenance=provenance_of(metrics, data, config, environment),
        settings=cmp["settings"],
        seeds=sorted(runs["seed"].unique().tolist()) if have_runs else [],
        sections=study_sections,
        built=environment["built"],
        alpha=config["verdicts"]["alpha"],
        stuck=stuck,
        stuck_rates=stuck_rates,
        stuck_header=STUCK_HEADER,
        stuck_rate_header=STUCK_RATE_HEADER,
        stuck_below=config["verdicts"]["stuck_below"],
    )
    remove_stale_plots(plot_dir, set(figures) | {n for sec in study_sections for n in sec.figures})
    write_text(out_dir / "build.json", json.dumps(environment, indent=2) + "\n")  # in its order: the page's
    write_text(out_dir / "report.md", html.render("report.md.j2", context))
    write_text(out_dir / "report.html", html.render("report.html.j2", context))
    log.info(
        "%s: report of %d runs (%d topologies, %d study sections) in %s, %.1f s",
        dataset,
        len(runs),
        len(order),
        len(study_sections),
        out_dir,
        time.perf_counter() - started,
    )


def dataset_fingerprint(manifest: dict) -> str:
    """One SHA-256 for the preprocessed arrays a report's runs were trained on (their split and normalisation
    included): the hash of their files' hashes."""
    import hashlib

    files = {name: f["sha256"] for name, f in sorted(manifest["files"].items())}
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def read_runs(runs_files: list[RunFiles]) -> dict:
    """Every run's metrics, files, predictions (by (topology, seed)) and histories (one frame)."""
    metrics, files, histories, predictions = {}, {}, [], {}
    for f in runs_files:
        m = json.loads(Path(f.metrics).read_text(encoding="utf-8"))
        key = (m["topology"], m["seed"])
        metrics[key], files[key] = m, f
        h = pd.DataFrame(History.from_csv(Path(f.history).read_text(encoding="utf-8")).records)
        if len(h):
            h["topology"], h["seed"] = m["topology"], m["seed"]
            histories.append(h)
        predictions[key] = np.load(f.predictions, allow_pickle=False)
    hist = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()
    return {"metrics": metrics, "files": files, "hist": hist, "predictions": predictions}


def compare_topologies(read: dict, runs_files, order, studies, kind, y_test, verdicts: dict) -> dict:
    """The runs table (fingerprints, stuck runs), the topologies in order with their labels and settings, the
    summary table and the pairwise tests within each study whose kind compares its topologies (every pair
    when the report has no studies at all; a sweep of thousands of points is ranked, not tested pair by pair)."""
    if not runs_files:
        return {
            "runs": pd.DataFrame(columns=["topology", "seed", "status"]),
            "order": [],
            "labels": {},
            "settings": {},
            "summary": pd.DataFrame(columns=["topology", "finished"]),
            "pairs": pd.DataFrame(),
        }
    metrics = read["metrics"]
    runs = comparison.read_runs([f.metrics for f in runs_files], [f.benchmark for f in runs_files])
    comparison.add_fingerprints(runs, {k: (f.model, f.predictions) for k, f in read["files"].items()}, metrics)
    comparison.mark_stuck(runs, metrics, verdicts["stuck_below"])
    comparison.mark_low(runs, verdicts["low_below_pp"])
    order = [t for t in (order or list(dict.fromkeys(runs["topology"]))) if t in set(runs["topology"])]
    labels = {t: runs[runs["topology"] == t]["sizes"].iloc[0] for t in order}
    if len(set(labels.values())) < len(labels):  # same sizes, different settings: say which
        labels = {t: f"{labels[t]} ({t})" for t in order}
    summary = summary_table(runs, order)
    pairs = study_pairs(
        runs,
        order,
        studies,
        kind,
        read["predictions"],
        y_test,
        labels,
        alpha=verdicts["alpha"],
        power=verdicts["power"],
    )
    return {
        "runs": runs,
        "order": order,
        "labels": labels,
        "settings": {t: settings_of(metrics, t) for t in order},
        "summary": summary,
        "pairs": pairs,
    }


def build_from_inputs(doc: dict, *, path=str, out_dir=None, data_dir=None, environment: dict | None = None) -> None:
    """:func:`build` of a report's ``inputs.json`` (:mod:`.inputs`), every file it names mapped through ``path``
    (the reproduction check maps them into the tree it certifies), into ``out_dir`` (default: the document's)."""
    from ..studies import kind

    runs = [
        RunFiles(
            *(path(r[k]) for k in ("metrics", "history", "predictions", "model")),
            r.get("benchmark") and path(r["benchmark"]),
        )
        for r in doc["runs"]
    ]
    build(
        dataset=doc["dataset"],
        runs_files=runs,
        out_dir=out_dir or doc["out_dir"],
        data_dir=data_dir or doc["data"],
        order=doc.get("order") or None,
        config=doc["config"],
        workflow_dir=doc.get("workflow_dir"),
        studies=doc.get("studies") or [],
        study_files={k: [path(f) for f in v] for k, v in (doc.get("study_files") or {}).items()},
        kind=kind,
        stages={k: path(v) for k, v in (doc.get("stages") or {}).items()},
        environment=environment,
    )


def build_environment(workflow_dir) -> dict:
    """Where and when a report is built: what its provenance says beyond the runs (``build.json``)."""
    return {
        "built": build_time(),
        "versions": provenance.versions("pandas", "seaborn", "matplotlib", "snakemake", "threadpoolctl", "jsonschema"),
        "git_commit": provenance.git_commit(workflow_dir) if workflow_dir else None,
        "lock": provenance.against_lock(Path(workflow_dir) / "requirements.lock") if workflow_dir else None,
        "machine": provenance.machine(),
    }


def provenance_of(metrics: dict, data, config: dict, environment: dict) -> dict:
    """What the report rests on: versions, BLAS, threads, every distinct arithmetic and monitoring the runs
    used (once each), the git commit, the lock, the machine, the dataset and the config."""
    envs = [m.get("training_environment") or {} for m in metrics.values()]
    first = envs[0] if envs else {}

    def distinct(key):
        return list({json.dumps(e.get(key), sort_keys=True): e.get(key) for e in envs if e.get(key)}.values())

    return {
        "versions": environment["versions"],
        "training_versions": first.get("versions"),
        "blas": first.get("blas"),
        "threads": first.get("threads"),
        "arithmetic": list(
            {json.dumps(e.get("arithmetic"), sort_keys=True): e.get("arithmetic") for e in envs}.values()
        ),
        "monitoring": distinct("monitoring"),
        "exact_fallbacks": [e["exact_fallbacks"] for e in envs if e.get("exact_fallbacks") is not None],
        "git_commit": environment["git_commit"],
        "lock": environment["lock"],
        "machine": environment["machine"],
        "dataset_sources": data.manifest["sources"],
        "dataset_files": data.manifest["files"],
        "config": config,
    }


def write_tables(out_dir: Path, runs, summary, pairs, study_sections) -> None:
    """runs.csv, comparison.csv, pairwise.csv and verdicts.csv (every verdict of every study, primary first)."""
    write_text(out_dir / "runs.csv", runs.to_csv(index=False))
    write_text(out_dir / "comparison.csv", summary.to_csv(index=False))
    write_text(out_dir / "pairwise.csv", pairs.to_csv(index=False))
    verdicts = [
        {
            "study": sec.name,
            "kind": sec.kind,
            "on": on,
            "outcome": v.outcome.value if v else "",
            "verdict": v.sentence if v else "",
        }
        for sec in study_sections
        for on, v in [("primary", sec.verdict), *sec.more_verdicts]
    ]
    columns = ["study", "kind", "on", "outcome", "verdict"]
    write_text(out_dir / "verdicts.csv", pd.DataFrame(verdicts, columns=columns).to_csv(index=False))


def remove_stale_plots(plot_dir: Path, written: set) -> None:
    """Delete the figures an earlier build left that this one did not make (a study since disabled)."""
    for f in plot_dir.glob("*"):
        if f.is_file() and f.suffix in (".png", ".svg") and f.stem not in written:
            log.info("removing %s: an earlier report's figure that this one does not have", f)
            f.unlink()


#: Per-topology figures show at most this many topologies (a sweep can have thousands).
FIGURE_TOPOLOGIES = 30


def figure_topologies(order: list, metrics: dict) -> list:
    """The topologies the per-topology figures show: all, or the best on validation (never on test)."""
    if len(order) <= FIGURE_TOPOLOGIES:
        return list(order)
    val: dict = {}
    for (topo, _), m in metrics.items():
        if m["status"] == "ok":
            val.setdefault(topo, []).append(m["best_validation_epoch"]["val_accuracy"])
    best = sorted((t for t in order if t in val), key=lambda t: (-float(np.mean(val[t])), t))[:FIGURE_TOPOLOGIES]
    return [t for t in order if t in set(best)]


def base_figures(
    plot_dir, runs, hist, metrics, files, predictions, summary, order, labels, data, y_test, class_names
) -> dict:
    """The figures every report has; returns {plot name: caption}."""
    figures = {}
    finished = summary[summary["finished"] > 0]
    best = finished.sort_values("test_accuracy_mean", ascending=False).iloc[0] if len(finished) else None
    plots.save(plots.test_accuracy(runs, order, labels), plot_dir / "summary_accuracy.png", svg=True)
    figures["summary_accuracy"] = caption("summary_accuracy")
    h = hist.copy()
    h["topology"] = h["topology"].map(labels)
    h["val_accuracy"] = 100 * h["val_accuracy"]
    lab_order = [labels[t] for t in order]
    plots.save(
        plots.curves(
            h,
            "val_accuracy",
            "validation accuracy %",
            lab_order,
            title="Validation accuracy by epoch",
        ),
        plot_dir / "validation_accuracy.png",
    )
    plots.save(
        plots.curves(
            h,
            "train_cost",
            "training cost (mean per-sample cost, log scale)",
            lab_order,
            log=True,
            title="Training cost by epoch",
        ),
        plot_dir / "training_cost.png",
    )
    figures["validation_accuracy"] = caption("validation_accuracy")
    figures["training_cost"] = caption("training_cost")

    pc_rows = [
        {"topology": labels[topo], "class": class_names[c], "accuracy %": 100 * acc}
        for (topo, _), m in metrics.items()
        if m["status"] == "ok" and topo in labels
        for c, acc in enumerate(m["per_class_accuracy"])
    ]
    pc = pd.DataFrame(pc_rows if pc_rows else [{"topology": "-", "class": class_names[0], "accuracy %": 0.0}])
    plots.save(
        plots.per_class(pc, [labels[t] for t in order if labels[t] in set(pc["topology"])] or ["-"], class_names),
        plot_dir / "per_class_accuracy.png",
    )
    figures["per_class_accuracy"] = caption("per_class_accuracy")

    if best is not None:
        bt, bs = best["topology"], int(best["median_seed"])
        m = metrics[(bt, bs)]
        plots.save(
            plots.confusion(
                np.array(m["confusion_matrix"]),
                class_names,
                f"Confusion matrix: {labels[bt]}, seed {bs} (median seed of the highest-mean topology)",
            ),
            plot_dir / "confusion_matrix.png",
        )
        pred = predictions[(bt, bs)]
        wrong = np.flatnonzero(pred != y_test)[:24]
        shape = data.manifest["image_shape"]
        images = np.asarray(data.x_test[wrong]).reshape(len(wrong), *shape)
        plots.save(
            plots.gallery(
                images,
                y_test[wrong],
                pred[wrong],
                class_names,
                f"First {len(wrong)} misclassified test images, {labels[bt]} seed {bs} "
                f"({int(np.sum(pred != y_test)):,} errors of {len(y_test):,})",
            ),
            plot_dir / "misclassified.png",
        )
        net, _ = load_network(files[(bt, bs)].model)
        plots.save(
            plots.network(
                net.weights, net.sizes, f"Φ = {labels[bt]}, seed {bs} (median seed of the highest-mean topology)"
            ),
            plot_dir / "network.png",
            dpi=90,
        )
        figures["confusion_matrix"] = caption("confusion_matrix")
        figures["misclassified"] = caption("misclassified")
        figures["network"] = caption("network")
    else:
        for name in ("confusion_matrix", "misclassified", "network"):
            plots.save(plots.activations(()), plot_dir / f"{name}.png")
            figures[name] = "No topology finished (all runs diverged): nothing to show."
    plots.save(plots.activations(), plot_dir / "activations.png", svg=True)
    figures["activations"] = caption("activations")
    return figures
