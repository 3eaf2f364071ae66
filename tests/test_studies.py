"""The lecture's studies: their measurements, their dry runs, and a tiny run of each."""

import json
import math
import re
import shutil

import numpy as np
import pytest
import yaml
from datagen import make_arrays, write_dataset
from workflow_helpers import planned_trainings, trained_runs, REPO, job_counts, planned_jobs, snakemake, write_config

from mlpsweep.plan import plan
from mlpsweep.nn import Network
from mlpsweep.verdicts import Outcome
from mlpsweep.studies import batch_size, universal_approximation

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_universal_approximation_width_helps_and_x_squared_stalls():
    wide, _ = universal_approximation.fit("sin3x_abs", "sigmoid", 64, seed=1, epochs=300)
    narrow, _ = universal_approximation.fit("sin3x_abs", "sigmoid", 2, seed=1, epochs=300)
    assert wide["sup_error"] < narrow["sup_error"]
    # Φ with σ(z) = z² is a quadratic polynomial in x. The best quadratic in the sup norm on
    # [−1, 1] is 0.636 away from sin 3x + |x| (a minimax fit, computed once by linear programming),
    # so no width and no training can bring x² below that bound.
    for width in (2, 16, 64):
        sq, _ = universal_approximation.fit("sin3x_abs", "square", width, seed=1, epochs=300, eta=0.002)
        assert sq["sup_error"] >= 0.63
    assert (
        narrow["sup_error"]
        < 0.63
        < universal_approximation.fit("sin3x_abs", "square", 64, seed=1, epochs=300, eta=0.002)[0]["sup_error"]
    )


def test_two_dimensional_target_runs():
    row, net = universal_approximation.fit("bump2d", "sigmoid", 8, seed=1, epochs=5, train_points=9, test_points=21)
    assert net.sizes == [2, 8, 1] and math.isfinite(row["sup_error"])


def test_gradient_spread_follows_one_over_root_k():
    arrays = make_arrays(n_train=2000, n_test=10, seed=4)
    x = arrays["train_images"].reshape(2000, -1) / 255.0
    y = arrays["train_labels"]
    net = Network([784, 16, 10], rng=np.random.default_rng(1))
    rows = batch_size.measure(net, x, y, [1, 2, 4, 8, 16, 32, 64], draws=200, rng=np.random.default_rng(2))
    verdict = batch_size.decide(rows, 2000, tolerance=0.1, alpha=0.05)
    assert verdict.outcome is Outcome.SUPPORTED, verdict.sentence  # the 1/√K law, within ±0.1 on the exponent
    assert abs(verdict.numbers["slope"] + 0.5) < 0.1
    for r in rows:
        assert 0.75 < r["ratio_to_law"] < 1.33


def all_studies_config():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["studies"] = list(config["study_definitions"])
    return config


@pytest.mark.slow
def test_dry_run_of_every_study(tmp_path):
    config = all_studies_config()
    p = plan(config, SCHEMA)
    write_config(tmp_path, config)
    counts = job_counts(planned_jobs(tmp_path))
    stacks = {s.rule_name("mnist"): s for s in p.stacks()}
    # every run is trained once: alone by `train`, or in the one stacked job the plan puts it in
    trainings = {rule: runs for rule, runs in planned_trainings(tmp_path).items() if runs}
    assert trained_runs(trainings) == sorted(p.runs)
    assert set(trainings) == {"train"} | set(stacks) and len(stacks) >= 10
    assert all(trainings[n] == stacks[n].runs and counts[n] == 1 for n in stacks)
    assert counts["evaluate"] == len(p.runs)
    # the jobs the kinds declare, one generic rule each: 3 seeds × 2 targets × 2 activations, one spread measurement
    assert sum(n for r, n in counts.items() if r.startswith("study_universal_approximation_fit_")) == 12
    assert counts["study_gd_vs_sgd_gradient_spread"] == 1
    assert counts["report"] == 1
    # One study through its own target rule: its 12 runs, in stacks of 3 (auto: 2 widths × 3 rates × 2 seeds)
    shutil.copytree(REPO / "config", tmp_path / "other" / "config")
    dropout = job_counts(planned_jobs(tmp_path / "other", "dropout"))
    dropout_stacks = [n for n in dropout if n.startswith("train_stack_")]
    assert sum(len(stacks[n].runs) for n in dropout_stacks) + dropout.get("train", 0) == 12
    assert sorted(len(stacks[n].runs) for n in dropout_stacks) == [3, 3, 3, 3]
    assert dropout["evaluate"] == 12 and dropout["report_dropout"] == 1 and dropout["dropout"] == 1


TINY_STUDIES = {
    "cmp": {"kind": "compare", "expect": "alternatives_better", "topologies": ["s", "s-relu"]},
    "reg": {"kind": "regularisation", "topologies": ["s", "l1", "l2"], "sparsity_threshold": 0.001},
    "drop": {"kind": "dropout", "topologies": ["w-d0", "w-d0.5"]},
    "vg": {"kind": "vanishing_gradient", "topologies": ["deep-sig", "deep-relu"]},
    "batch": {
        "kind": "batch_size",
        "topologies": ["k1", "k250"],
        "variance_batch_sizes": [1, 4, 16, 64],
        "variance_draws": 20,
    },
    "ua": {
        "kind": "universal_approximation",
        "targets": ["sin3x_abs"],
        "activations": ["sigmoid", "square"],
        "widths": [2, 8],
        "epochs": 30,
        "eta": 0.01,
        "seeds": [1],
    },
    "top": {"kind": "best", "topologies": ["big"]},
}
TINY_TOPOLOGIES = {
    "s": {"hidden": [8]},
    "s-relu": {
        "hidden": [8],
        "activation": "relu",
        "output": "softmax",
        "cost": "log_likelihood",
        "init": "he",
        "eta": 0.1,
    },
    "l1": {"hidden": [8], "penalty": {"p": 1, "lambda": 0.01}},
    "l2": {"hidden": [8], "penalty": {"p": 2, "lambda": 0.01}},
    "w-d0": {
        "hidden": [16],
        "activation": "relu",
        "output": "softmax",
        "cost": "log_likelihood",
        "init": "he",
        "eta": 0.1,
    },
    "w-d0.5": {
        "hidden": [16],
        "activation": "relu",
        "output": "softmax",
        "cost": "log_likelihood",
        "init": "he",
        "eta": 0.1,
        "dropout": 0.5,
    },
    "deep-sig": {"hidden": [8, 8, 8]},
    "deep-relu": {
        "hidden": [8, 8, 8],
        "activation": "relu",
        "output": "softmax",
        "cost": "log_likelihood",
        "init": "he",
        "eta": 0.05,
    },
    "k1": {"hidden": [8], "batch_size": 1, "eta": 0.5},
    "k250": {"hidden": [8], "batch_size": 250},
    "big": {
        "hidden": [32],
        "activation": "relu",
        "output": "softmax",
        "cost": "log_likelihood",
        "init": "he",
        "eta": 0.05,
        "momentum": 0.9,
        "eta_decay": 0.9,
        "dropout": 0.2,
    },
}


@pytest.mark.slow
def test_tiny_run_of_every_study(tmp_path):
    folder = tmp_path / "upstream"
    definition = write_dataset(folder, n_train=300, n_test=100, seed=2)
    work = tmp_path / "run"
    write_config(
        work,
        {
            "datasets": ["tiny"],
            "seeds": [1],
            "studies": list(TINY_STUDIES),
            "study_definitions": TINY_STUDIES,
            "topologies": TINY_TOPOLOGIES,
            "defaults": {"epochs": 2},
            "data": {"validation_size": 50},
            "dataset_definitions": {"tiny": {**definition, "sources": [str(folder)]}},
        },
    )
    snakemake(work, "--cores", "2")
    report = work / "results/tiny/report"
    html = (report / "report.html").read_text()
    from mlpsweep.studies import KINDS

    sections = {}
    for name, study in TINY_STUDIES.items():
        start = html.index(f'<h2 id="study-{name}">')
        end = html.find("<h2", start + 5)
        sections[name] = html[start:end]
        for plot in KINDS[study["kind"]].plots:
            png = report / "plots" / f"{name}-{plot}.png"
            assert png.stat().st_size > 5000, png
            assert KINDS[study["kind"]].caption(plot) in sections[name].replace("&#39;", "'")
    # One seed: every verdict that rests on seeds is inconclusive and says why; UA declares min_seeds 1
    # (default 2 here).
    for name in ("cmp", "reg", "drop", "top"):
        assert re.search(
            r"<b>Verdict[^<]*\.</b> <span class=\"tag inconclusive\">Inconclusive</span>", sections[name]
        ), name
        assert "min_seeds" in sections[name] or "1 seed" in sections[name], name
    assert "fitted exponent" in sections["batch"].lower()
    spread = json.loads((work / "results/tiny/studies/batch/gradient_spread.json").read_text())
    assert [r["batch_size"] for r in spread["rows"]] == [1, 4, 16, 64]
    ua = json.loads((work / "results/studies/ua/seed1/sin3x_abs-square/results.json").read_text())
    assert [r["width"] for r in ua] == [2, 8]
    # A study's own target rule builds its own report from the runs already there.
    snakemake(work, "--cores", "2", "drop")
    assert (work / "results/tiny/studies/drop/report/report.html").exists()
    assert "Study: drop</h2>" in (work / "results/tiny/studies/drop/report/report.html").read_text()
    assert "train" not in {r for r, _ in planned_jobs(work, "ua")}
