"""The report's pairwise numbers agree with the verdicts' (regressions found by recomputing a report)."""

import numpy as np
import pytest
import pandas as pd

from mlpsweep import verdicts
from mlpsweep.report.build import study_pairs
from mlpsweep.studies import kind

ACC = {
    "30": [0.85, 0.84, 0.76, 0.85, 0.86],
    "30-30": [0.86, 0.85, 0.86, 0.84, 0.85],
    "tanh": [0.87, 0.86, 0.88, 0.80, 0.60],
}


def runs_table(acc=ACC):
    rows = [
        {
            "topology": t,
            "seed": s + 1,
            "sizes": "[784,30,10]",
            "n_params": 1,
            "status": "ok",
            "diverged_epoch": None,
            "test_accuracy": v,
            "test_accuracy_at_best_val": v,
            "best_val_epoch": 3,
            "train_seconds": 1.0,
        }
        for t, vals in acc.items()
        for s, v in enumerate(vals)
    ]
    return pd.DataFrame(rows)


def pairs(studies, order=("30", "30-30", "tanh")):
    runs = runs_table()
    y = np.zeros(20, dtype=int)
    preds = {(t, s): y.copy() for t in ACC for s in range(1, 6)}
    return study_pairs(runs, list(order), studies, kind, preds, y, {t: t for t in ACC}, alpha=0.05, power=0.8)


def test_the_detectable_difference_is_the_pairs_own_test_at_holms_first_step():
    table = pairs([])
    row = table[(table["a"] == "30") & (table["b"] == "30-30")].iloc[0]
    k = len(table)  # three topologies: three pairs
    rule = dict(power=0.8, df="min", trim=verdicts.TRIM)
    want = verdicts.difference(ACC["30"], ACC["30-30"], alpha=0.05 / k, **rule).mde
    assert k == 3 and row["detectable_level"] == pytest.approx(0.05 / 3)
    assert row["detectable_pp"] == 100 * want
    assert row["detectable_pp"] > 100 * verdicts.difference(ACC["30"], ACC["30-30"], alpha=0.05, **rule).mde


def test_a_studys_pairs_use_its_own_seeds():
    study = {"name": "activations", "kind": "compare", "topologies": ["30", "tanh"], "seeds": [1, 2, 3]}
    row = pairs([study]).iloc[0]
    assert (row["a"], row["b"]) == ("30", "tanh")
    want = np.mean(ACC["tanh"][:3]) - np.mean(ACC["30"][:3])  # seeds 1-3, not all five of the baseline
    assert row["difference_pp"] == 100 * want
    assert row["median_seed_a"] in (1, 2, 3) and row["median_seed_b"] in (1, 2, 3)


def test_the_lecture_table_shows_the_recipe_run_of_each_layer_size():
    from mlpsweep.report.build import lecture_rows, summary_table

    runs = runs_table({"30": [0.83, 0.84], "K50000": [0.18, 0.19], "relu30": [0.85, 0.86]})
    recipe = {
        "activation": "sigmoid",
        "output": "sigmoid",
        "cost": "quadratic",
        "init": "normal",
        "eta": 3.0,
        "batch_size": 10,
        "epochs": 30,
        "dtype": "float32",
    }
    settings = {"30": recipe, "K50000": {**recipe, "batch_size": 50000}, "relu30": {**recipe, "activation": "relu"}}
    rows, _ = lecture_rows("fashion-mnist", summary_table(runs, ["relu30", "30", "K50000"]), settings)
    first = rows[0]  # [784,30,10]: the recipe run, not the last topology with those sizes (the GD run)
    assert first[0] == "[784,30,10]" and first[2].startswith("83.50 %") and first[4] == ""


def test_a_pair_a_verdict_decides_prints_the_verdicts_difference_on_the_same_runs_and_names_it():
    """One answer per question: the pairwise line of a pair the depth verdict decides gives the same difference
    (the 25 % trimmed means of the runs that trained: the stuck seed left out, not the mean of every run), its
    interval from the same statistic (two-sided at α, so wider than the verdict's one-sided 1 − 2α one), and
    names the study; a pair no verdict decides names none."""
    from mlpsweep.studies.compare import Arm, decide_deeper_not_better

    runs = runs_table()
    runs["sizes"] = runs["topology"].map({"30": "[784,30,10]", "30-30": "[784,30,30,10]", "tanh": "[784,30,10]"})
    runs["stuck"] = (runs["topology"] == "30") & (runs["seed"] == 3)  # the 0.76 run
    y = np.zeros(20, dtype=int)
    preds = {(t, s): y.copy() for t in ACC for s in range(1, 6)}
    study = {"name": "depth", "kind": "compare", "expect": "deeper_not_better", "topologies": ["30", "30-30"]}
    study["seeds"] = [1, 2, 3, 4, 5]
    table = study_pairs(runs, ["30", "30-30"], [study], kind, preds, y, {t: t for t in ACC}, alpha=0.05, power=0.8)
    row = table.iloc[0]
    trained_30 = [a for i, a in enumerate(ACC["30"]) if i != 2]
    verdict = decide_deeper_not_better(
        [Arm("30", np.array(trained_30), 3, 1, 5), Arm("30-30", np.array(ACC["30-30"]), 4, 0, 5)],
        margin=0.01,
        alpha=0.05,
        min_seeds=2,
        failure_margin=0.2,
    )
    part1 = verdict.numbers["comparisons"][0]
    assert row["difference_pp"] == pytest.approx(100 * part1["diff"], abs=1e-12)
    assert (row["trained_a"], row["trained_b"]) == (4, 5) and row["df"] == part1["df"] == 1  # h = 2 of 4 kept
    assert row["ci_low_pp"] < 100 * part1["low"] and row["ci_high_pp"] > 100 * part1["high"]
    assert row["verdict"] == "depth" and "Study depth's verdict decides this pair" in row["sentence"]
    assert "25 % trimmed means of the 5 and 4 runs that trained" in row["sentence"]
    assert row["difference_pp"] != pytest.approx(100 * (np.mean(ACC["30-30"]) - np.mean(ACC["30"])))
    other = pairs([{**study, "topologies": ["30", "tanh"]}]).iloc[0]  # same depth: no verdict decides it
    assert other["verdict"] == "" and "verdict decides" not in other["sentence"]
