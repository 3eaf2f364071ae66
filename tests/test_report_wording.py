"""The report says no more than its numbers (#22's wording items), as asserted sentences."""

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlpsweep.plan import plan
from mlpsweep.report import caption
from mlpsweep.report.build import reference, remove_stale_plots
from mlpsweep.report.html import SUMMARY_HEADER, library_text, provenance_rows, runs_line
from mlpsweep.studies import best, dropout, kind
from mlpsweep.studies import universal_approximation as ua

REPO = Path(__file__).resolve().parents[1]


def shipped_config():
    return yaml.safe_load((REPO / "config/config.yaml").read_text())


def test_the_dropout_claim_is_the_gap_not_test_accuracy():
    claim = shipped_config()["study_definitions"]["dropout"]["claim"]
    assert "fights overfitting" not in claim and "gap" in claim
    v = dropout.decide(
        [("w", np.array([0.06, 0.061]), np.array([0.02, 0.021]), 0.5)], margin=0.0, alpha=0.05, min_seeds=2
    )
    assert v.sentence.startswith("the strongest dropout narrowed the gap")


def test_the_fashion_reference_is_called_a_baseline_not_the_best_published():
    target = reference()["best_mlp_targets"]["fashion-mnist"]
    sentence = best.decide([0.88, 0.881, 0.879], target, margin=0.0, alpha=0.05, min_seeds=2).sentence
    assert "scikit-learn baseline, not a best result" in sentence and "best published" not in sentence
    assert "best published" not in shipped_config()["study_definitions"]["best"]["claim"]


def test_the_sparse_weights_result_says_its_zeros_come_from_the_update_rule(tmp_path):
    from mlpsweep.report.sections import Data
    from mlpsweep.studies.regularisation import ZEROS_NOTE

    assert "stops it at zero" in ZEROS_NOTE and "not exactly 0" in ZEROS_NOTE
    metrics, rows = {}, []
    for topo, p, share in (("L1", 1, 0.3), ("L2", 2, 0.0)):
        for seed in (1, 2):
            metrics[(topo, seed)] = {
                "status": "ok",
                "sizes": [784, 30, 10],
                "settings": {"penalty": {"p": p, "lambda": 1e-4}},
                "sparsity": {"weights": 100, "exactly_zero": int(100 * share) + seed, "below": {"0.001": 40}},
                "test": {"accuracy": 0.9},
            }
            rows.append({"topology": topo, "seed": seed, "status": "ok", "test_accuracy": 0.9})
    data = Data(
        runs=pd.DataFrame(rows),
        hist=pd.DataFrame(),
        metrics=metrics,
        labels={"L1": "L1", "L2": "L2"},
        study_files={},
        plot_dir=tmp_path,
        dataset="x",
        reference={},
    )
    study = {
        "topologies": ["L1", "L2"],
        "seeds": [1, 2],
        "alpha": 0.05,
        "min_seeds": 2,
        "min_zero_share": 0.1,
        "sparsity_threshold": 0.001,
    }
    sec = kind("regularisation").section("reg", study, data)
    assert ZEROS_NOTE in sec.findings


def test_thresholds_shown_are_the_ones_the_rule_reads():
    from mlpsweep.studies.base import thresholds

    config = shipped_config()
    p = plan(config | {"studies": list(config["study_definitions"])})
    shown = {name: thresholds(d, kind(d["kind"]).verdict_keys) for name, d in p.study_defs.items()}
    # α is not shown beside the universal-approximation rule (it has no interval); min_seeds not beside the
    # gradient-spread exponent or the depth trend (which need points, not seeds per side)
    assert "alpha" not in shown["universal-approximation"] and shown["universal-approximation"]["min_seeds"] == 2
    assert "min_seeds" not in shown["gd-vs-sgd"] and "min_seeds" not in shown["vanishing-gradient"]
    assert shown["depth"] == {
        "alpha": 0.05,
        "min_seeds": 2,
        "margin_pp": 1.0,
        "failure_margin_pp": 20.0,
        "stuck_below": 0.1,
    }


def test_universal_approximation_decides_on_several_seeds_and_says_so():
    d = shipped_config()["study_definitions"]["universal-approximation"]
    assert len(d["seeds"]) >= 2 and "min_seeds" not in d  # the default 2: one seed no longer decides
    rows = [
        {"target": "t", "activation": a, "width": w, "seed": s, "sup_error": e}
        for s in (1, 2)
        for a, errs in (("sigmoid", (1.0, 0.1)), ("square", (1.0, 0.9)))
        for w, e in zip((1, 64), errs)
    ]
    v = ua.decide(rows, error_reduction=0.5, min_seeds=2)
    assert v.outcome.value == "supported" and "t (best of 2 seeds), sigmoid" in v.sentence
    assert "would not meet the rule" not in v.sentence
    one = ua.decide([r for r in rows if r["seed"] == 1], error_reduction=0.5, min_seeds=2)
    assert one.outcome.value == "inconclusive" and "min_seeds = 2" in one.sentence
    # a seed whose training did not find the weights (its widest fit stays at 0.65): the theorem is about what a
    # width can represent, so the best fit decides, and the seed is named
    stuck = [
        r if not (r["seed"] == 2 and r["activation"] == "sigmoid" and r["width"] == 64) else {**r, "sup_error": 0.65}
        for r in rows
    ]
    v = ua.decide(stuck, error_reduction=0.5, min_seeds=2)
    assert v.outcome.value == "supported" and "the fits of t seed 2 would not meet the rule" in v.sentence
    assert v.numbers["seeds_failing_alone"] == ["t seed 2"]


def test_the_summary_says_training_seconds_are_per_run():
    assert "training s per run (its job's wall time ÷ the runs in the job)" in SUMMARY_HEADER
    assert "training s per job" not in SUMMARY_HEADER


def test_the_header_counts_runs_when_studies_declare_their_own_seeds():
    summary = pd.DataFrame({"topology": ["30", "100-d0"], "seeds": [5, 2]})
    assert runs_line(summary, [1, 2, 3, 4, 5]) == (
        "7 runs: 2 topologies with 2–5 seeds each (each study declares its own; seeds 1–5)"
    )
    same = pd.DataFrame({"topology": ["30", "30-30"], "seeds": [2, 2]})
    assert runs_line(same, [1, 2]) == "2 topologies × 2 seeds (1, 2)"
    from mlpsweep.report.html import seed_ranges

    assert seed_ranges([7, 1, 2, 3, 5, 8, 30, 29, 28]) == "1–3, 5, 7, 8, 28–30"


def test_the_network_figure_says_which_seed_it_draws():
    text = caption("network")
    assert "median seed" in text and "most accurate trained network" not in text.lower()


def test_the_blas_row_has_no_stray_values():
    p = {
        "versions": {},
        "blas": [
            {"internal_api": "openblas", "version": "0.3.31", "architecture": "SkylakeX", "num_threads": 1},
            {"internal_api": "openmp", "version": None, "num_threads": 1},
            1,
        ],
        "machine": {"system": "Linux", "release": "6", "machine": "x86_64", "node": "n"},
        "dataset_sources": {},
        "dataset_files": {},
    }
    row = dict(provenance_rows(p))["BLAS of a training job"]
    assert row == "openblas 0.3.31 (SkylakeX), 1 thread; openmp, 1 thread"
    assert library_text({}) == "unknown library"


def test_a_rebuilt_report_drops_the_figures_of_a_disabled_study(tmp_path):
    for name in ("summary_accuracy.png", "summary_accuracy.svg", "extra-curves.png", "depth-x.png"):
        (tmp_path / name).write_bytes(b"png")
    remove_stale_plots(tmp_path, {"summary_accuracy", "depth-x"})
    assert sorted(f.name for f in tmp_path.iterdir()) == ["depth-x.png", "summary_accuracy.png", "summary_accuracy.svg"]


# -- #32's words and labels -----------------------------------------------------------------------------------


def summary_frame(means, stuck=("", "", "")):
    return pd.DataFrame(
        [
            {
                "topology": t,
                "sizes": f"[{i}]",
                "n_params": 10,
                "seeds": 5,
                "finished": 5,
                "diverged": 0,
                "diverged_at": "",
                "test_accuracy_mean": m,
                "test_accuracy_std": 0.01,
                "test_accuracy_ci_low": m - 0.01,
                "test_accuracy_ci_high": m + 0.01,
                "best_val_test_accuracy_mean": m,
                "best_val_epoch_mean": 3.0,
                "train_seconds_mean": 1.0,
                "stuck_seeds": st,
            }
            for i, (t, m, st) in enumerate(zip(("a", "b", "c"), means, stuck))
        ]
    )


def pairs_frame(significant):
    rows = [("a", "b", 0.03), ("a", "c", 0.02), ("b", "c", -0.01)]
    return pd.DataFrame(
        [{"a": a, "b": b, "difference_pp": 100 * d, "holm_significant": significant} for a, b, d in rows]
    )


def test_the_highest_mean_is_highlighted_only_when_every_pair_with_it_is_significant():
    from mlpsweep.report.html import summary_rows

    summary = summary_frame([0.80, 0.83, 0.82])
    rows = summary_rows(summary, pairs_frame(False))
    assert not any(r["best"] for r in rows)
    assert rows[1]["cells"][-1] == "highest mean, not significantly (see the pairwise tests)"
    rows = summary_rows(summary, pairs_frame(True))
    assert [r["best"] for r in rows] == [False, True, False]
    assert rows[1]["cells"][-1] == "the most accurate (every pair Holm-significant)"


def test_the_note_names_stuck_seeds_and_intervals_stay_within_0_and_100():
    from mlpsweep.report.html import summary_rows
    from mlpsweep.report.text import ci_text

    summary = summary_frame([0.80, 0.83, 0.82], stuck=("5", "", ""))
    rows = summary_rows(summary, pairs_frame(False))
    assert rows[0]["cells"][-1] == "stuck: seed 5 (counted in the mean; see Stuck runs)"
    assert ci_text(-0.0933, 1.6056) == "0.00–100.00 (clipped to 0–100)"
    assert ci_text(0.8, 0.9) == "80.00–90.00"


def test_forced_kernels_are_not_called_chosen_and_no_backticks_reach_the_page():
    from mlpsweep.report.html import reproducibility

    native = {"mode": "native", "blas": ["openblas 0.3.31 Haswell"], "numpy": "2.4.6", "numpy_simd": ["X86_V2"]}
    forced = reproducibility([{**native, "openblas_coretype": "Haswell"}])
    assert "as OPENBLAS_CORETYPE=Haswell set them" in forced and "for this CPU" not in forced
    assert "as they chose for this CPU" in reproducibility([native])
    for text in (forced, reproducibility([{**native, "mode": "exact"}])):
        assert "`" not in text


def test_no_figure_says_best_without_a_test_behind_it():
    from mlpsweep.report.html import FIGURE_TITLES

    assert not any("best" in title for title in FIGURE_TITLES.values())


def test_curves_show_each_seed_below_three_seeds_and_whole_epochs():
    """Two seeds give a t band wider than the axis (#40): the figure draws the seeds' own curves and says so;
    three or more draw the mean and its band; epochs are whole numbers either way."""
    from matplotlib.collections import PolyCollection

    from mlpsweep.report import plots

    def frame(seeds):
        rows = [
            {"topology": t, "seed": s, "epoch": e, "val_accuracy": 80 + e + s + (t == "b")}
            for t in ("a", "b") for s in range(seeds) for e in (1, 2, 3)
        ]  # fmt: skip
        return pd.DataFrame(rows)

    for seeds, lines, band in ((2, 4, False), (3, 2, True)):
        fig = plots.curves(frame(seeds), "val_accuracy", "validation accuracy %", ["a", "b"], title="V")
        ax = fig.axes[0]
        drawn = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]  # the curves, not the legend's
        assert len(drawn) == lines
        assert any(isinstance(c, PolyCollection) for c in ax.collections) is band
        assert ax.get_title() == (
            "V (mean over seeds, 95 % band)" if band else "V (each seed: fewer than 3 a topology)"
        )
        ticks = [t for t in ax.get_xticks() if 1 <= t <= 3]
        assert ticks and all(float(t).is_integer() for t in ticks)


def test_runs_far_below_their_topologys_median_are_counted_named_and_ringed():
    """A partial failure (#40): finished, not stuck, more than verdicts.low_below_pp below its topology's
    median run — counted as trained, and the report says so per topology and rings it in the per-seed plot."""
    from mlpsweep.report import comparison, plots
    from mlpsweep.report.build import summary_table
    from mlpsweep.report.html import summary_rows

    acc = {"a": [0.850, 0.852, 0.848, 0.815, 0.700], "b": [0.860, 0.858, 0.831, 0.861, 0.859]}
    runs = pd.DataFrame(
        [
            {"topology": t, "seed": s + 1, "status": "ok", "test_accuracy": x, "test_accuracy_at_best_val": x,
             "best_val_epoch": 30, "sizes": "[784, 30, 10]" if t == "a" else "[784, 30, 30, 10]", "n_params": 1,
             "diverged_epoch": None, "train_seconds": 1.0}
            for t, xs in acc.items() for s, x in enumerate(xs)
        ]
    )  # fmt: skip
    runs["stuck"] = pd.array([False, False, False, False, True] + [False] * 5, dtype="boolean")  # a's 70 %: stuck
    comparison.mark_low(runs, 3.0)
    assert runs[runs["low"]][["topology", "seed"]].values.tolist() == [["a", 4]]  # b's 83.1 % is 2.8 pp below
    comparison.mark_low(runs, 2.5)
    assert runs[runs["low"]][["topology", "seed"]].values.tolist() == [["a", 4], ["b", 3]]
    comparison.mark_low(runs, 0)
    assert not runs["low"].any()
    comparison.mark_low(runs, 3.0)
    notes = [r["cells"][-1] for r in summary_rows(summary_table(runs, ["a", "b"]))]
    assert "1 low: seed 4 (far below the topology's median run, not stuck" in notes[0] and "low" not in notes[1]
    fig = plots.test_accuracy(runs, ["a", "b"], {"a": "A", "b": "B"})
    assert fig.axes[0].get_legend_handles_labels()[1] == ["low run"]
