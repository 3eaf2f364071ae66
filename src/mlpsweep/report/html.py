"""Rendering the report: Jinja2 templates for the HTML page and its Markdown twin.

``templates/report.html.j2`` makes one self-contained page (CSS inline, every
plot a base64 PNG) that can be mailed, archived or opened offline;
``templates/report.md.j2`` the same content as Markdown.  Both put the summary
first, then the comparisons, the lecture's table, the studies (claim,
verdict with its declared thresholds, table, figures), the figures and the
provenance.  This module turns the report's data into rows of text the
templates print; it builds no markup itself.
"""

from __future__ import annotations

import base64
import math
from functools import lru_cache
from pathlib import Path

import yaml

from .text import ci_text, markdown_table, pct

FIGURE_TITLES = {
    "summary_accuracy": "Test accuracy by topology",
    "validation_accuracy": "Validation accuracy by epoch",
    "training_cost": "Training cost by epoch",
    "per_class_accuracy": "Per-class accuracy",
    "confusion_matrix": "Confusion matrix of the topology with the highest mean test accuracy",
    "misclassified": "Misclassified test images",
    "network": "The trained network",
    "activations": "Activation functions",
}

SUMMARY_HEADER = [
    "topology",
    "layer sizes",
    "parameters",
    "seeds finished",
    "test accuracy % — final epoch, mean ± std",
    "95 % CI (t)",
    "test accuracy % at the best validation epoch",
    "training s per run (its job's wall time ÷ the runs in the job)",
    "note",
]


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mlpsweep.report", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = pct
    env.filters["data_uri"] = data_uri
    env.filters["fmt"] = _fmt
    env.globals["markdown_table"] = markdown_table
    return env


def render(template: str, ctx: dict) -> str:
    """Render ``templates/{template}`` with the report's context (see :func:`view`)."""
    return environment().get_template(template).render(**view(ctx))


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _fmt(v) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def leader(summary, pairs) -> tuple[str | None, bool]:
    """The finished topology with the highest mean test accuracy, and whether it is significantly the most
    accurate: every pair with it Holm-significant in its favour (otherwise nothing is highlighted)."""
    fin = summary[summary["finished"] > 0]
    if not len(fin):
        return None, False
    top = fin.sort_values("test_accuracy_mean", ascending=False).iloc[0]["topology"]
    if len(fin) < 2 or pairs is None or not len(pairs) or "holm_significant" not in pairs:
        return top, False
    mine = pairs[(pairs["a"] == top) | (pairs["b"] == top)]
    wins = [bool(r["holm_significant"]) and ((r["difference_pp"] > 0) == (r["b"] == top)) for _, r in mine.iterrows()]
    return top, len(wins) == len(fin) - 1 and all(wins)


def summary_rows(summary, pairs=None) -> list[dict]:
    rows = []
    top, significant = leader(summary, pairs)
    for _, s in summary.iterrows():
        if s["finished"] == 0:
            acc, ci, at_best = "diverged", "", ""
        else:
            acc = f"{pct(s['test_accuracy_mean'])} ± {pct(s['test_accuracy_std'])}"
            ci = ci_text(s["test_accuracy_ci_low"], s["test_accuracy_ci_high"])
            at_best = f"{pct(s['best_val_test_accuracy_mean'])} (epoch ≈ {s['best_val_epoch_mean']:.0f})"
        notes = []
        if s["diverged"]:
            notes.append(f"{s['diverged']} diverged ({s['diverged_at']}); excluded from the mean")
        if s.get("stuck_seeds"):
            notes.append(f"stuck: seed {s['stuck_seeds']} (counted in the mean; see Stuck runs)")
        if s.get("low_seeds"):
            low = s["low_seeds"].split(", ")
            notes.append(
                f"{len(low)} low: seed {s['low_seeds']} (far below the topology's median run, not stuck: counted as "
                "trained; verdicts.low_below_pp)"
            )
        if s["topology"] == top and len(summary) > 1:
            notes.append(
                "the most accurate (every pair Holm-significant)"
                if significant
                else "highest mean, not significantly (see the pairwise tests)"
            )
        rows.append(
            dict(
                cells=[
                    s["topology"],
                    s["sizes"],
                    f"{s['n_params']:,}",
                    f"{s['finished']}/{s['seeds']}",
                    acc,
                    ci,
                    at_best,
                    f"{s['train_seconds_mean']:.1f}",
                    "; ".join(notes),
                ],
                diverged=acc == "diverged",
                best=s["topology"] == top and significant,
            )
        )
    return rows


def seed_ranges(seeds) -> str:
    """1, 2, 3, 5, 7, 8 → "1–3, 5, 7, 8": runs of three or more consecutive seeds as ranges."""
    seeds = sorted(set(int(x) for x in seeds))
    parts, i = [], 0
    while i < len(seeds):
        j = i
        while j + 1 < len(seeds) and seeds[j + 1] == seeds[j] + 1:
            j += 1
        parts += [f"{seeds[i]}–{seeds[j]}"] if j - i >= 2 else [str(x) for x in seeds[i : j + 1]]
        i = j + 1
    return ", ".join(parts)


def runs_line(summary, seeds: list) -> str:
    """How many runs the report holds: topologies × seeds when every topology has the same seeds, else the
    count of runs and the range of seeds per topology (each study declares its own)."""
    if not len(summary):
        return "no runs"
    per = summary["seeds"].astype(int)
    n = len(summary)
    if per.nunique() == 1:
        seeds_word = f"seed{'s' if per.iloc[0] != 1 else ''}"
        return f"{n} topolog{'ies' if n != 1 else 'y'} × {per.iloc[0]} {seeds_word} ({seed_ranges(seeds)})"
    return (
        f"{int(per.sum())} runs: {n} topologies with {per.min()}–{per.max()} seeds each (each study declares its "
        f"own; seeds {seed_ranges(seeds)})"
    )


def recipe(settings: dict) -> str:
    """The settings every topology of the report shares, in words."""
    first = next(iter(settings.values()), {})
    keys = ("activation", "output", "cost", "init", "eta", "batch_size", "epochs", "dtype")
    return ", ".join(f"{k} {first.get(k)}" for k in keys if all(s.get(k) == first.get(k) for s in settings.values()))


def published_rows(published) -> list[list[str]]:
    return [
        [
            p["setup"],
            f"{pct(p['accuracy'])} %"
            if "accuracy" in p
            else f"{pct(p['accuracy_range'][0], 1)}–{pct(p['accuracy_range'][1], 1)} %",
            p["source"],
        ]
        for p in published
    ]


def library_text(b: dict) -> str:
    """One threadpool library (threadpoolctl's description) in words, leaving out what it does not say."""
    name = " ".join(str(b[k]) for k in ("internal_api", "version") if b.get(k))
    arch = f" ({b['architecture']})" if b.get("architecture") else ""
    threads = b.get("num_threads")
    return f"{name or 'unknown library'}{arch}" + (
        f", {threads} thread{'s' if threads != 1 else ''}" if threads else ""
    )


def provenance_rows(p: dict) -> list[tuple[str, str]]:
    rows = [("software (report)", ", ".join(f"{k} {v}" for k, v in (p["versions"] or {}).items() if v))]
    if p.get("training_versions"):
        rows.append(("software (training)", ", ".join(f"{k} {v}" for k, v in p["training_versions"].items() if v)))
    blas = "; ".join(library_text(b) for b in (p.get("blas") or []) if isinstance(b, dict))
    if blas:
        rows.append(("BLAS of a training job", blas))
    for a in p.get("arithmetic") or []:
        if a:
            rows.append(
                (
                    "arithmetic",
                    f"{a['mode']}{' (these do not change its bytes)' if a['mode'] == 'exact' else ''}: "
                    f"{', '.join(a['blas']) or 'a BLAS threadpoolctl does not know'}, "
                    f"{a.get('blas_threads')} thread(s); NumPy {a['numpy']} loops {'+'.join(a['numpy_simd'])}; "
                    f"{a.get('libc') or 'C library unknown'}; {a['machine']}",
                )
            )
    fallbacks = p.get("exact_fallbacks") or []
    if fallbacks:
        rows.append(
            (
                "exact arithmetic's fallbacks",
                f"{sum(fallbacks):,} elements recomputed exactly over {len(fallbacks)} runs' training steps "
                f"(at most {max(fallbacks):,} in one run): their float64 value lay too near a float32 rounding "
                "boundary to decide it (a count about this machine's kernels, whose summation order moves it by "
                "a few; the results do not move)",
            )
        )
    for mo in p.get("monitoring") or []:
        rows.append(
            (
                "monitored after each epoch",
                f"training cost and accuracy on "
                f"{'a fixed sample of ' if mo['train_rows_sampled'] else 'all '}{mo['train_rows']:,} training rows; "
                f"validation on every row; the test set {mo['test']}",
            )
        )
    rows.append(("git commit", p.get("git_commit") or "not a git checkout"))
    lock = p.get("lock")
    if lock:
        rows.append(
            (
                "versions against requirements.lock",
                "all as locked"
                if lock["locked"]
                else f"{len(lock['differ'])} differ: "
                + ", ".join(lock["differ"][:8])
                + (" …" if len(lock["differ"]) > 8 else ""),
            )
        )
    m = p["machine"]
    rows.append(("machine", f"{m['system']} {m['release']}, {m['machine']}, {m['node']}"))
    for role, f in p["dataset_sources"].items():
        rows.append((role, f"{f['name']}: content sha256 {f['sha256']}, {f['bytes']:,} bytes"))
    for name, f in p["dataset_files"].items():
        rows.append((f"preprocessed {name}", f"sha256 {f['sha256']}"))
    return rows


def reproducibility(arithmetic: list) -> str:
    """What a reader can expect to reproduce, from the arithmetic the runs recorded."""
    known = [a for a in arithmetic if a]
    if not known:
        return (
            "These runs did not record their arithmetic (they were made before mlpsweep recorded it), so which "
            "kernels decided their bits is not known."
        )
    if len(arithmetic) > 1:
        return (
            f"The runs were made with {len(arithmetic)} different arithmetics (listed below): their numbers do not "
            "come from one reproducible setting, and a rerun reproduces each run only on its own."
        )
    a = known[0]
    if a["mode"] == "exact":
        return (
            "Every run used exact arithmetic: each number is the correctly rounded value of its mathematics, so "
            "the same config, seeds and data give these bytes on any computer (any CPU, BLAS library, thread "
            "count or operating system) — python -m mlpsweep compare checks a rerun bit for bit."
        )
    kernels = ", ".join(b.split()[-1] for b in a["blas"])
    what = f"OpenBLAS's {kernels} kernels and NumPy {a['numpy']}'s {'+'.join(a['numpy_simd'])} loops"
    chosen = (
        f"as OPENBLAS_CORETYPE={a['openblas_coretype']} set them"
        if a.get("openblas_coretype")
        else "as they chose for this CPU"
    )
    return (
        f"Every run used native arithmetic: {what}, {chosen}. The same config and seeds give "
        "these bytes only where both make the same choice, with the same versions, C library and thread count; "
        "elsewhere expect other runs (the lecture's recipe turns a last-bit difference into a different run) whose "
        "accuracies agree only statistically — python -m mlpsweep compare says which. For the same bytes on "
        "any computer, set reproducibility: exact (the default)."
    )


def stuck_intro(share: float, named: list, rates: list) -> str:
    """What "stuck" means here and what the report does about it."""
    if share <= 0:
        return "Stuck runs are not looked for (verdicts.stuck_below = 0)."
    what = (
        f"A finished run is stuck when some class gets fewer predictions on the validation set than "
        f"{100 * share:g} % of that class's validation images (verdicts.stuck_below = {share:g}): an output unit "
        "that (almost) never fires, a failure of the training recipe that no amount of training fixes. "
    )
    if not rates:
        return what + "None of these runs recorded its validation predictions (evaluated by an older mlpsweep)."
    if not named:
        return what + "No run is stuck."
    return (
        what + f"{len(named)} run{'s are' if len(named) != 1 else ' is'} stuck (below). A user of a recipe gets "
        "either a failed run (stuck, or diverged) or a trained network, so the studies that compare topologies "
        "decide their primary verdict in two parts that must both hold: the runs that trained (their 25 % "
        "trimmed means, Yuen's test, against the accuracy margin) and how often runs fail (an exact test of the "
        "two failure rates, against the failure margin). The rates' intervals below are exact (Clopper–Pearson, 95 %)."
    )


def view(ctx: dict) -> dict:
    """The template's variables: the context plus the rows of text it prints."""
    bench = ctx["bench"]
    config = ctx["provenance"].get("config")
    return {
        **ctx,
        "recipe": recipe(ctx["settings"]),
        "runs_line": runs_line(ctx["summary"], ctx["seeds"]),
        "summary_header": SUMMARY_HEADER,
        "summary_rows": summary_rows(ctx["summary"], ctx["pairs"]) if ctx["order"] else [],
        "pair_sentences": list(ctx["pairs"]["sentence"]) if len(ctx["pairs"]) else [],
        "published_rows": published_rows(ctx["published"]),
        "figure_titles": FIGURE_TITLES,
        "provenance_rows": provenance_rows(ctx["provenance"]),
        "reproducibility": reproducibility(ctx["provenance"].get("arithmetic") or []),
        "stuck_intro": stuck_intro(ctx["stuck_below"], ctx["stuck"], ctx["stuck_rates"]),
        "bench_header": list(bench.columns),
        "bench_rows": [[_fmt(v) for v in r] for r in bench.itertuples(index=False)] if len(bench) else [],
        "config_yaml": yaml.safe_dump(config, sort_keys=False, allow_unicode=True) if config is not None else "",
    }
