"""Generated configs and settings: planning succeeds with every output inside, or refuses in one line.

Hypothesis draws a valid config and changes one thing in it — a value of any type (huge, negative,
unicode, empty, nested), a name, an unknown key, a removed key — anywhere in the document, and the
train command's settings the same way. Any exception other than a one-line ``ConfigError`` fails.
``derandomize`` fixes the examples, so the suite is reproducible and its time bounded.
"""

import copy
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workflow_helpers import REPO

from mlpsweep.config import ConfigError
from mlpsweep.plan import check_inside, plan
from mlpsweep.settings import resolve

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

BASE = {
    "datasets": ["mnist"],
    "seeds": [1, 2],
    "studies": ["depth", "reg"],
    "verdicts": {"alpha": 0.05, "min_seeds": 2},
    "study_definitions": {
        "depth": {"kind": "compare", "margin_pp": 1.0, "topologies": ["30", "30-30"],
                  "replication": {"start": 2, "step": 1, "max": 4}},
        "reg": {"kind": "regularisation", "topologies": ["30", "L1"], "seeds": [1]},
        "ua": {"kind": "universal_approximation", "widths": [1, 4], "epochs": 10},
        "sw": {"kind": "sweep", "base": "30", "grid": {"eta": [0.1, 1.0]}},
    },
    "defaults": {"epochs": 3, "eta": 3.0, "batch_size": 10, "penalty": {"p": 2, "lambda": 0}},
    "topologies": {"30": {"hidden": [30]}, "30-30": {"hidden": [30, 30]},
                   "L1": {"hidden": [30], "penalty": {"p": 1, "lambda": 1e-4}}},
    "training": {"runs_per_job": "auto", "monitor_rows": 100},
    "data": {"validation_size": 100},
}

WEIRD = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["..", ".", "-rf", "a/b", "é", "", " ", "30", "auto", "sigmoid"]),
    st.lists(st.integers(-3, 5), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def paths(doc, prefix=()):
    """Every (path, value) in a nested document."""
    yield prefix, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, (*prefix, i))


ALL_PATHS = [p for p, _ in paths(BASE) if p]


def change(doc, path, how, value):
    out = copy.deepcopy(doc)
    parent = out
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if how == "set":
        parent[last] = value
    elif how == "delete" and isinstance(parent, dict):
        del parent[last]
    elif how == "unknown key" and isinstance(parent, dict):
        parent[f"{last}_x" if isinstance(last, str) else "extra"] = value
    elif how == "rename" and isinstance(parent, dict):
        parent[value if isinstance(value, str) else str(value)] = parent.pop(last)
    return out


def test_the_unchanged_config_plans():
    p = plan(copy.deepcopy(BASE), SCHEMA)
    assert p.design("depth").sizes == [2, 3, 4] and len(p.study_defs["sw"]["topologies"]) == 2


def refused_in_one_line(exc: ConfigError) -> None:
    text = str(exc)
    assert text and "\n" not in text and "Traceback" not in text, text


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(ALL_PATHS), how=st.sampled_from(["set", "delete", "unknown key", "rename"]), value=WEIRD)
def test_a_config_with_one_thing_wrong_plans_inside_or_is_refused_in_one_line(path, how, value):
    config = change(BASE, path, how, value)
    try:
        p = plan(config, SCHEMA)
    except ConfigError as exc:
        refused_in_one_line(exc)
        return
    # planned: every run's files and every study's outputs stay inside the three folders
    check_inside([f"results/{d}/models/{t}/seed{s}/model.npz" for d in p.datasets for st_ in p.study_defs
                  for t, s in p.study_runs(st_)] + [f for st_ in p.study_defs for f in p.extra_outputs(st_)])
    for topo in p.all_topologies.values():
        assert topo.epochs >= 1 and topo.batch_size >= 1 and math.isfinite(topo.eta) and topo.eta > 0


SETTING_KEYS = ["hidden", "activation", "output", "cost", "init", "eta", "batch_size", "epochs", "penalty", "dropout",
                "dtype", "momentum", "eta_decay", "unknown"]


@settings(max_examples=400, derandomize=True, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(SETTING_KEYS), WEIRD, min_size=1, max_size=3))
def test_train_settings_with_wrong_values_are_refused_in_one_line(changes):
    try:
        s = resolve({"hidden": [8], **changes})
    except ConfigError as exc:
        refused_in_one_line(exc)
        return
    assert all(isinstance(n, int) and n >= 1 for n in s.hidden) and math.isfinite(s.eta) and s.eta > 0


@pytest.mark.parametrize("kind", ["..", ".x", "a..b", "", "os.path/x", "1abc"])
def test_a_kind_that_is_not_a_module_name_is_refused(kind):
    with pytest.raises(ConfigError) as info:
        plan({**copy.deepcopy(BASE), "studies": ["depth"], "study_definitions": {"depth": {"kind": kind, "topologies": ["30"]}}}, SCHEMA)
    refused_in_one_line(info.value)
    assert "study_definitions.depth.kind" in str(info.value)


@pytest.mark.parametrize("hidden", [[0], [-1], [], [1.5], ["8"]])
def test_impossible_layer_sizes_are_refused(hidden):
    with pytest.raises(ConfigError) as info:
        resolve({"hidden": hidden})
    refused_in_one_line(info.value)
