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
    want = verdicts.difference(ACC["30"], ACC["30-30"], alpha=0.05 / k, power=0.8).mde
    assert k == 3 and row["detectable_level"] == pytest.approx(0.05 / 3)
    assert row["detectable_pp"] == 100 * want
    assert row["detectable_pp"] > 100 * verdicts.difference(ACC["30"], ACC["30-30"], alpha=0.05, power=0.8).mde


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
