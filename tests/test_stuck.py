"""Stuck runs: a class the network (almost) never predicts on validation, named and decided on twice."""

import json

import numpy as np
import pandas as pd
import pytest

from mlpsweep import evaluate
from mlpsweep import train as train_job
from mlpsweep.report.build import stuck_tables
from mlpsweep.report.comparison import mark_stuck
from mlpsweep.report.sections import Data, dead_classes
from mlpsweep.studies import kind
from mlpsweep.verdicts import Outcome

HEALTHY = [100] * 10


def metrics(topology, seed, acc, predicted=HEALTHY, depth=3, status="ok"):
    return {
        "topology": topology,
        "seed": seed,
        "status": status,
        "sizes": [784] + [30] * (depth - 2) + [10],
        "settings": {"activation": "sigmoid"},
        "final_epoch": {"val_accuracy": acc},
        "validation": {"images_per_class": [100] * 10, "predicted_per_class": list(predicted)},
    }


def test_a_class_below_the_share_of_its_images_is_dead():
    assert dead_classes(metrics("a", 1, 0.9), 0.1) == []
    starved = [0, 3, 10, 197, 100, 100, 100, 100, 200, 190]
    assert dead_classes(metrics("a", 1, 0.7, starved), 0.1) == [0, 1]  # 10 of 100 is not below a tenth
    assert dead_classes(metrics("a", 1, 0.7, starved), 0.0) == []
    assert dead_classes(metrics("a", 1, 0.7, status="diverged"), 0.1) is None  # diverged, not stuck
    old = metrics("a", 1, 0.9)
    del old["validation"]
    assert dead_classes(old, 0.1) is None  # cannot be told


#: Fashion-MNIST's validation images per class in the default split (the last 10,000 training rows): unequal
REAL_COUNTS = [1023, 1021, 1009, 1021, 1050, 996, 970, 1011, 968, 931]


@pytest.mark.parametrize("dead", [0, 4, 9], ids=["first class", "a middle class", "last class"])
def test_each_class_dead_in_turn_with_unequal_counts(dead):
    """The rule pairs each class's predictions with that class's own images: a dead first, middle or last class
    is found, and a class predicted a little below its own share but above another class's is not dead."""
    predicted = [c + (40 if i == 1 else 0) for i, c in enumerate(REAL_COUNTS)]
    predicted[dead] = int(0.1 * REAL_COUNTS[dead]) - 1  # just below a tenth of its own images
    m = {"status": "ok", "validation": {"images_per_class": REAL_COUNTS, "predicted_per_class": predicted}}
    assert dead_classes(m, 0.1) == [dead]
    predicted[dead] = -(-REAL_COUNTS[dead] // 10)  # a tenth of its own images, rounded up: not below it
    assert dead_classes(m, 0.1) == []
    # a threshold that only the class's own count decides: 96 of 968 (Bag) is below a tenth, 96 of 931 is not
    counts = [968 if i == dead else 931 for i in range(10)]
    m = {
        "status": "ok",
        "validation": {
            "images_per_class": counts,
            "predicted_per_class": [96 if i == dead else 931 for i in range(10)],
        },
    }
    assert dead_classes(m, 0.1) == [dead]


STUCK = [0, 0, 100, 100, 100, 100, 100, 100, 200, 300]  # classes 0 and 1 never predicted
SHALLOW = [0.85, 0.849, 0.70, 0.851, 0.852]  # seed 3 is stuck
DEEP = [0.846, 0.848, 0.847, 0.845, 0.849]


def study_data(tmp_path, shallow=SHALLOW, deep=DEEP, stuck_seed=3):
    m, rows = {}, []
    for topo, accs, depth in (("30", shallow, 3), ("30-30", deep, 4)):
        for seed, acc in enumerate(accs, start=1):
            m[(topo, seed)] = metrics(topo, seed, acc, STUCK if (topo, seed) == ("30", stuck_seed) else HEALTHY, depth)
            rows.append(
                {
                    "topology": topo,
                    "seed": seed,
                    "status": "ok",
                    "test_accuracy": acc,
                    "sizes": str(m[(topo, seed)]["sizes"]).replace(" ", ""),
                }
            )
    runs = pd.DataFrame(rows)
    mark_stuck(runs, m, 0.1)
    return Data(
        runs=runs,
        hist=pd.DataFrame(),
        metrics=m,
        labels={"30": "30", "30-30": "30-30"},
        study_files={},
        plot_dir=tmp_path,
        dataset="synthetic",
        reference={},
    )


STUDY = {
    "name": "depth",
    "kind": "compare",
    "expect": "deeper_not_better",
    "margin_pp": 1.0,
    "topologies": ["30", "30-30"],
    "seeds": [1, 2, 3, 4, 5],
    "alpha": 0.05,
    "power": 0.8,
    "min_seeds": 2,
    "stuck_below": 0.1,
}


def test_one_stuck_seed_decides_twice_all_runs_and_the_runs_that_trained(tmp_path):
    sec = kind("compare").section("depth", STUDY, study_data(tmp_path))
    # all runs: the stuck seed widens the interval over the margin; the runs that trained: the deeper net is not better
    assert sec.verdict.outcome is Outcome.INCONCLUSIVE
    ((on, trained),) = sec.more_verdicts
    assert on.startswith("on the runs that trained")
    assert trained.outcome is Outcome.SUPPORTED
    assert trained.numbers["comparisons"][0]["n_a"] == 4 and sec.verdict.numbers["comparisons"][0]["n_a"] == 5
    finding = next(f for f in sec.findings if f.startswith("Stuck"))
    assert "30 seed 3 (classes 0, 1)" in finding
    assert "30-30 0/5 against 30 1/5: p = 1" in finding  # Fisher: 1 of 5 against 0 of 5 tells nothing
    assert sec.thresholds["stuck_below"] == 0.1


def test_without_stuck_runs_there_is_one_verdict_and_the_report_says_so(tmp_path):
    healthy = [0.85, 0.849, 0.848, 0.851, 0.852]
    sec = kind("compare").section("depth", STUDY, study_data(tmp_path, shallow=healthy, stuck_seed=None))
    assert sec.more_verdicts == [] and sec.verdict.outcome is Outcome.SUPPORTED
    assert any(f.startswith("No run of this study is stuck") for f in sec.findings)


def test_the_report_names_every_stuck_run_and_each_topologys_exact_rate(tmp_path):
    data = study_data(tmp_path)
    named, rates = stuck_tables(data.runs, ["30", "30-30"], data.metrics, [f"c{i}" for i in range(10)])
    assert named == [["30", 3, "0 c0 (0 / 100), 1 c1 (0 / 100)", "70.00", "70.00"]]
    assert rates[0][:3] == ["30", "1/5", "20 %"]
    low, high = (float(x) for x in rates[0][3].rstrip(" %").split("–"))
    assert (low, high) == (1, 72)  # Clopper–Pearson 95 % for 1 of 5: 0.005–0.716
    assert rates[1][:3] == ["30-30", "0/5", "0 %"] and rates[1][3] == "0–52 %"


def test_evaluation_counts_predictions_per_class_on_validation(tmp_path):
    from datagen import preprocessed
    from mlpsweep.data import preprocess

    data_dir = preprocessed(tmp_path, n_train=300, n_test=50, validation_size=80, seed=2)
    train_job.run_one(data_dir, {"hidden": [8], "epochs": 1, "batch_size": 10}, 1, tmp_path / "m", name="a")
    m = evaluate.run(data_dir, tmp_path / "m", tmp_path / "e")
    v = json.loads((tmp_path / "e" / "metrics.json").read_text())["validation"]
    assert v == m["validation"]
    y_val = np.asarray(preprocess.load(data_dir).y_val)
    assert v["images_per_class"] == np.bincount(y_val, minlength=10).tolist()
    assert sum(v["predicted_per_class"]) == len(y_val) == 80


@pytest.mark.parametrize("share,expect", [(0.1, [True, False]), (0.0, [False, False])])
def test_mark_stuck_columns(share, expect):
    m = {("a", 1): metrics("a", 1, 0.7, STUCK), ("a", 2): metrics("a", 2, 0.9)}
    runs = pd.DataFrame({"topology": ["a", "a"], "seed": [1, 2]})
    mark_stuck(runs, m, share)
    assert list(runs["stuck"]) == expect
    assert runs["dead_classes"].tolist() == (["0 1", ""] if share else ["", ""])
