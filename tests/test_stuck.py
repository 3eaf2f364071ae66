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


def test_one_stuck_seed_the_primary_verdict_has_two_parts_and_both_must_hold(tmp_path):
    sec = kind("compare").section("depth", {**STUDY, "failure_margin_pp": 10.0}, study_data(tmp_path))
    (on1, trained), (on2, failures) = sec.more_verdicts
    assert on1.startswith("part 1: the runs that trained") and on2.startswith("part 2: how often runs fail")
    # part 1 leaves the stuck seed out: the deeper net's trained runs are not better
    assert trained.outcome is Outcome.SUPPORTED and trained.numbers["comparisons"][0]["n_a"] == 4
    # part 2: 1 failed run of 5 against 0 of 5 cannot exclude that the deeper net fails 10 pp less often
    assert failures.outcome is Outcome.INCONCLUSIVE and "failed to train 0/5 against 1/5" in failures.sentence
    assert "at the observed rates about 106 runs per topology would decide it" in failures.sentence
    assert "no run failing" not in failures.sentence  # one did: the sentence that does not apply is not said
    # the primary verdict: intersection–union, so inconclusive while a part is
    assert sec.verdict.outcome is Outcome.INCONCLUSIVE and sec.verdict_on.startswith("for a user of the recipe")
    finding = next(f for f in sec.findings if f.startswith("Stuck"))
    assert "30 seed 3 (classes 0, 1)" in finding
    assert "30-30 0/5 against 30 1/5: p = 1" in finding  # Fisher: 1 of 5 against 0 of 5 tells nothing
    assert sec.thresholds["stuck_below"] == 0.1 and sec.thresholds["failure_margin_pp"] == 10.0


def test_the_verdict_is_one_line_over_a_table_of_its_parts(tmp_path):
    """The primary verdict's paragraph is one line naming what is undecided, over a table with a row per part
    and pair: the trained part's difference of trimmed means with the runs it rests on and its interval, the
    failure part's counts and exact p-values, each with a one-line reason; the section says what part 1's
    difference is about."""
    from mlpsweep.studies.compare import ESTIMAND

    sec = kind("compare").section("depth", {**STUDY, "failure_margin_pp": 10.0}, study_data(tmp_path))
    assert sec.verdict_brief == "Not decided: part 2 for 30-30."
    assert sec.parts_header[:3] == ["part", "pair", "verdict"]
    trained, failures = sec.parts_rows
    assert trained[:3] == ["1 · runs that trained", "30-30 − 30", "supported"]
    assert "(25 % trimmed means of 5 and 4 runs)" in trained[3] and "% CI [" in trained[4]
    assert trained[5] == "the interval lies below the 1 pp margin"
    assert failures[:4] == ["2 · failing to train", "30-30 − 30", "inconclusive", "0/5 against 1/5 failed"]
    assert failures[5] == "neither shown with this many runs" and ESTIMAND in sec.findings


def test_a_large_failure_margin_lets_the_trained_part_decide(tmp_path):
    """With a failure margin no five seeds can breach (90 pp), the failure part is supported and the primary
    verdict follows the runs that trained; a margin of 0 pp is refused by the schema, not here."""
    sec = kind("compare").section("depth", {**STUDY, "failure_margin_pp": 90.0}, study_data(tmp_path))
    assert [v.outcome for _, v in sec.more_verdicts] == [Outcome.SUPPORTED, Outcome.SUPPORTED]
    assert sec.verdict.outcome is Outcome.SUPPORTED and "intersection–union" in sec.verdict.sentence


def test_without_stuck_runs_the_report_says_so_and_still_decides_both_parts(tmp_path):
    healthy = [0.85, 0.849, 0.848, 0.851, 0.852]
    sec = kind("compare").section(
        "depth", {**STUDY, "failure_margin_pp": 10.0}, study_data(tmp_path, shallow=healthy, stuck_seed=None)
    )
    assert [v.outcome for _, v in sec.more_verdicts] == [Outcome.SUPPORTED, Outcome.INCONCLUSIVE]
    assert sec.verdict.outcome is Outcome.INCONCLUSIVE  # 0 of 5 against 0 of 5 cannot exclude 10 pp
    assert any(f.startswith("No run of this study is stuck") for f in sec.findings)


def test_stuck_below_zero_decides_on_every_finished_run_with_one_part(tmp_path):
    sec = kind("compare").section(
        "depth", {**STUDY, "stuck_below": 0.0, "failure_margin_pp": 10.0}, study_data(tmp_path)
    )
    assert sec.more_verdicts == [] and sec.verdict.numbers["comparisons"][0]["n_a"] == 5
    assert sec.verdict.numbers["failures"] == []


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


def test_a_topology_whose_every_run_diverged_fails_them_all_and_the_verdict_still_decides(tmp_path):
    """Every run of the deeper net diverged: part 1 has no run that trained (inconclusive, and it says so); part
    2 counts the diverged runs as failures (5 of 5 against 1 of 5: the deeper net does not fail less often)."""
    data = study_data(tmp_path)
    data.runs.loc[data.runs["topology"] == "30-30", "status"] = "diverged"
    data.runs["diverged_epoch"] = np.where(data.runs["topology"] == "30-30", 3.0, np.nan)
    for (topo, seed), m in data.metrics.items():
        if topo == "30-30":
            m["status"] = "diverged"
    sec = kind("compare").section("depth", {**STUDY, "failure_margin_pp": 20.0}, data)
    (_, trained), (_, failures) = sec.more_verdicts
    assert trained.outcome is Outcome.INCONCLUSIVE and "0 seeds that trained" in trained.sentence
    assert failures.outcome is Outcome.SUPPORTED and "failed to train 5/5 against 1/5" in failures.sentence
    assert sec.verdict.outcome is Outcome.INCONCLUSIVE
