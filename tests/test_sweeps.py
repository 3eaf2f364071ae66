"""Sweeps: expansion, names, bad specs refused, and a grid and a random sweep run end to end."""

import csv
import math

import numpy as np
import pytest
from datagen import write_dataset
from workflow_helpers import planned_trainings, trained_runs, job_counts, planned_jobs, snakemake, write_config

from mlpsweep.config import ConfigError
from mlpsweep.plan import plan
from mlpsweep.studies import sweep
from mlpsweep.verdicts import Outcome

GRID = {"kind": "sweep", "base": "s", "grid": {"eta": [0.5, 1.0, 3.0], "batch_size": [10, 50]}, "seeds": [1, 2]}
RANDOM = {
    "kind": "sweep",
    "base": "s",
    "seeds": [1],
    "random": {
        "n": 5,
        "seed": 7,
        "space": {
            "eta": {"loguniform": [0.1, 10]},
            "hidden": {"choice": [[8], [16]]},
            "penalty.lambda": {"loguniform": [1e-6, 1e-3]},
        },
    },
}


def config(**studies):
    return {
        "datasets": ["mnist"],
        "seeds": [1],
        "studies": list(studies),
        "study_definitions": studies,
        "topologies": {"s": {"hidden": [8], "epochs": 2}},
    }


def test_grid_expands_every_combination_with_readable_names():
    p = plan(config(g=GRID))
    points = p.study_defs["g"]["points"]
    assert len(points) == 6 and len(p.runs) == 12
    assert "g__batch_size-10__eta-0.5" in points
    assert p.topology("g__batch_size-50__eta-3").eta == 3.0 and p.topology("g__batch_size-50__eta-3").batch_size == 50
    assert p.topology("g__batch_size-50__eta-3").epochs == 2  # the base topology's own settings stay


def test_random_draws_are_stable_rounded_and_in_bounds():
    a = plan(config(r=RANDOM)).study_defs["r"]["points"]
    b = plan(config(r=RANDOM)).study_defs["r"]["points"]
    assert a == b and len(a) == 5  # the same config gives the same points, names and values
    for name, point in a.items():
        assert 0.1 <= point["eta"] <= 10 and point["eta"] == float(f"{point['eta']:.3g}")
        assert point["hidden"] in ([8], [16]) and 1e-6 <= point["penalty.lambda"] <= 1e-3
        assert sweep.point_name("r", point) == name
    other = plan(config(r={**RANDOM, "random": {**RANDOM["random"], "seed": 8}})).study_defs["r"]["points"]
    assert set(other) != set(a)


def test_grid_crossed_with_random_and_nested_paths():
    both = {**RANDOM, "grid": {"batch_size": [10, 20]}}
    p = plan(config(b=both))
    pts = p.study_defs["b"]["points"]
    assert len(pts) == 10
    name = next(iter(pts))
    assert (
        p.topology(name).to_dict()["penalty"]["lambda"] == pts[name]["penalty.lambda"]
        and p.topology(name).to_dict()["penalty"]["p"] == 2
    )


def test_long_names_get_a_hash_suffix():
    long = {
        "kind": "sweep",
        "base": "s",
        "grid": {
            "hidden": [[100, 100, 100, 100, 100, 100, 100, 100, 100, 100]],
            "penalty.lambda": [1e-5],
            "dropout": [0.25],
        },
    }
    (name,) = plan(config(long_sweep=long)).study_defs["long_sweep"]["points"]
    assert len(name) <= sweep.NAME_LIMIT and name[-9] == "-"


@pytest.mark.parametrize(
    "definition, says",
    [
        ({"grid": {"learning_rate": [0.1]}}, "grid.learning_rate: unknown setting 'learning_rate'"),
        ({"grid": {"penalty.q": [1]}}, "grid.penalty.q: unknown setting 'penalty.q'"),
        ({"grid": {"eta": []}}, "grid.eta: [] should be non-empty"),
        ({"grid": {"eta": [0.1, 0.1]}}, "are the same"),
        ({"grid": {"eta": [-1.0]}}, "points.bad__eta--1.eta: -1.0 is less than or equal to the minimum of 0"),
        (
            {"random": {"n": 3, "space": {"eta": {"loguniform": [1, 0.1]}}}},
            "random.space.eta.loguniform: the bounds must rise",
        ),
        ({"random": {"n": 3, "space": {"eta": {"loguniform": [0, 1]}}}}, "the bounds must be positive"),
        ({"random": {"n": 0, "space": {"eta": {"uniform": [0.1, 1]}}}}, "random.n: 0 is less than the minimum of 1"),
        ({"random": {"n": 5, "space": {"hidden": {"choice": [[8]]}}}}, "are the same"),
        ({"random": {"n": 2, "space": {"eta": {"normal": [0, 1]}}}}, "'normal' was unexpected"),
        ({"grid": {"eta": [0.1, 0.2, 0.3]}, "max_runs": 2}, "3 points × 1 seeds = 3 runs, more than max_runs = 2"),
        (
            {"grid": {"eta": [0.1]}, "random": {"n": 2, "space": {"eta": {"uniform": [0.1, 1]}}}},
            "swept by the grid as well",
        ),
        ({}, "a sweep needs a grid, a random search, or both"),
        ({"grid": {"eta": [0.1]}, "base": "nope"}, "base: unknown topology 'nope'"),
    ],
)
def test_bad_specs_are_refused_with_one_line_naming_the_key(definition, says):
    with pytest.raises(ConfigError) as err:
        plan(config(bad={"kind": "sweep", "base": "s", **definition}))
    text = str(err.value)
    assert "\n" not in text and "study_definitions.bad" in text and says in text, text


def test_winner_verdict_outcomes():
    assert (
        sweep.decide(
            ("a", [0.90, 0.91, 0.905]), ("b", [0.85, 0.86, 0.855]), margin=0.0, alpha=0.05, min_seeds=2
        ).outcome
        is Outcome.SUPPORTED
    )
    assert (
        sweep.decide(
            ("a", [0.85, 0.86, 0.855]), ("b", [0.90, 0.91, 0.905]), margin=0.0, alpha=0.05, min_seeds=2
        ).outcome
        is Outcome.CONTRADICTED
    )
    assert (
        sweep.decide(("a", [0.88, 0.90]), ("b", [0.87, 0.91]), margin=0.0, alpha=0.05, min_seeds=2).outcome
        is Outcome.INCONCLUSIVE
    )
    assert sweep.decide(("a", [0.9]), ("b", [0.8]), margin=0.0, alpha=0.05, min_seeds=2).outcome is Outcome.INCONCLUSIVE
    assert sweep.decide(("a", [0.9, 0.91]), None, margin=0.0, alpha=0.05, min_seeds=2).outcome is Outcome.INCONCLUSIVE


def test_ranking_uses_validation_never_test():
    metrics = {
        (p, s): {
            "status": "ok",
            "epochs_completed": 3,
            "best_validation_epoch": {"val_accuracy": val},
            "final_epoch": {"val_accuracy": val},
            "test": {"accuracy": test},
        }
        for p, val, test in (("p1", 0.80, 0.99), ("p2", 0.90, 0.50))
        for s in (1, 2)
    }
    rows = sweep.ranking({"p1": {"eta": 1}, "p2": {"eta": 2}}, metrics, [1, 2], "best_epoch")
    assert [r["point"] for r in rows] == ["p2", "p1"] and math.isclose(rows[0]["test_mean"], 0.5)


@pytest.mark.slow
def test_a_grid_and_a_random_sweep_end_to_end(tmp_path):
    folder = tmp_path / "upstream"
    definition = write_dataset(folder, n_train=300, n_test=100, seed=2)
    grid = {"kind": "sweep", "base": "s", "grid": {"eta": [0.5, 1.0, 3.0], "batch_size": [10, 50]}, "seeds": [1, 2]}
    rand = {
        "kind": "sweep",
        "base": "s",
        "seeds": [1],
        "random": {"n": 5, "seed": 3, "space": {"eta": {"loguniform": [0.1, 5]}, "hidden": {"choice": [[8], [16]]}}},
    }
    work = tmp_path / "run"
    write_config(
        work,
        {
            "datasets": ["tiny"],
            "seeds": [1],
            "studies": ["grid", "rand"],
            "study_definitions": {"grid": grid, "rand": rand},
            "topologies": {"s": {"hidden": [8], "epochs": 2}},
            "data": {"validation_size": 50},
            "dataset_definitions": {"tiny": {**definition, "sources": [str(folder)]}},
        },
    )
    jobs = planned_jobs(work)
    counts = job_counts(jobs)
    trainings = planned_trainings(work)
    runs = trained_runs(trainings)
    assert (
        len(runs) == len(set(runs)) == 12 + 5
        and counts["evaluate"] == 17
        and sum(n for r, n in counts.items() if r.endswith("_points")) == 2
    )
    # points of one shape and batch size train together (runs_per_job: auto): η-points with K = 10 in one job
    stacked = [r for rule, rs in trainings.items() if rule.startswith("train_stack_") for r in rs]
    assert ("grid__batch_size-10__eta-0.5", 1) in stacked and len(stacked) >= 12
    assert "grid__batch_size-10__eta-0.5" in {w.get("topology") for _, w in jobs}  # the dry run lists the points
    snakemake(work, "--cores", "2")
    with open(work / "results/sweeps/grid/sweep.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and {r["eta"] for r in rows} == {"0.5", "1.0", "3.0"}
    html = (work / "results/tiny/report/report.html").read_text()
    for name in ("grid", "rand"):
        section = html[html.index(f'<h2 id="study-{name}">') :]
        assert "Chosen on validation" in section and "<b>Verdict.</b>" in section
        for plot in sweep.KIND.plots:
            assert (work / f"results/tiny/report/plots/{name}-{plot}.png").stat().st_size > 3000
    inputs = (work / "results/tiny/report/inputs.json").read_text()
    assert inputs.count('"metrics"') == 17  # the report read its files from inputs.json
    assert np.isfinite(float(rows[0]["eta"]))


@pytest.mark.slow
def test_successive_halving_keeps_the_best_share_and_resumes_bit_for_bit(tmp_path):
    import json

    from mlpsweep import train as train_job
    from mlpsweep.nn import load_network

    folder = tmp_path / "upstream"
    definition = write_dataset(folder, n_train=300, n_test=100, seed=2)
    halving = {
        "kind": "sweep",
        "base": "s",
        "seeds": [1, 2],
        "grid": {"eta": [0.3, 1.0, 3.0], "batch_size": [10, 50]},
        "halving": {"rungs": [1, 2, 3], "keep": 0.5},
    }
    work = tmp_path / "run"
    write_config(
        work,
        {
            "datasets": ["tiny"],
            "seeds": [1],
            "studies": ["h"],
            "study_definitions": {"h": halving},
            "topologies": {"s": {"hidden": [8]}},
            "data": {"validation_size": 50},
            "dataset_definitions": {"tiny": {**definition, "sources": [str(folder)]}},
        },
    )
    counts = job_counts(planned_jobs(work))
    assert counts["train_rung"] == 12 and "train" not in counts  # the first rung is known before anything runs
    snakemake(work, "--cores", "2")
    rungs = work / "results/tiny/rungs/h"
    # the decisions after rungs 0 and 1 (stages 1 and 2 of the staged study), one generic checkpoint each
    stages = work / "results/tiny/studies/h/stages"
    picked = [json.loads((stages / f"stage{k}.json").read_text())["selected"] for k in (1, 2)]
    assert len(picked[0]) == 3 and len(picked[1]) == 2 and set(picked[1]) <= set(picked[0])  # 6 → 3 → 2
    trained = {r: sorted(p.parent.parent.name for p in rungs.glob(f"r{r}/*/seed1/model.json")) for r in (0, 1, 2)}
    assert len(trained[0]) == 6 and trained[1] == sorted(picked[0]) and trained[2] == sorted(picked[1])
    # the report marks where each point stopped
    runs = {(r["topology"], r["seed"]): r for r in csv.DictReader(open(work / "results/tiny/report/runs.csv"))}
    assert len(runs) == 12
    epochs = {
        p: json.loads(
            (rungs / f"r{max(r for r in (0, 1, 2) if p in trained[r])}/eval/{p}/seed1/metrics.json").read_text()
        )["epochs_completed"]
        for p in trained[0]
    }
    assert sorted(epochs.values()) == [1, 1, 1, 2, 3, 3]
    assert "stopped at epoch" in (work / "results/tiny/report/report.html").read_text()
    # a resumed point ends bit for bit where a point trained straight through to that epoch ends
    winner = picked[1][0]
    from mlpsweep.plan import plan
    import yaml

    settings = plan(yaml.safe_load((work / "config/config.yaml").read_text())).topology(winner)
    train_job.run_one(work / "results/tiny/data", settings, 1, tmp_path / "straight")
    straight, _ = load_network(tmp_path / "straight/model.npz")
    resumed, _ = load_network(rungs / f"r2/{winner}/seed1/model.npz")
    assert straight.params.tobytes() == resumed.params.tobytes()
