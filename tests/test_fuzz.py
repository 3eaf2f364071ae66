"""Generated configs and settings: planning succeeds with every output inside, or refuses in one line.

Hypothesis draws a valid config and changes one thing in it — a value of any type (huge, negative,
unicode, empty, nested), a name, an unknown key, a removed key — anywhere in the document, and the
train command's settings the same way. Any exception other than a one-line ``ConfigError`` fails.
``derandomize`` fixes the examples, so the suite is reproducible and its time bounded.
"""

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workflow_helpers import REPO

from mlpsweep.config import ConfigError, registry_names
from mlpsweep.plan import check_inside, plan
from mlpsweep.settings import resolve

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"

BASE = {
    "datasets": ["mnist"],
    "seeds": [1, 2],
    "studies": ["depth", "reg"],
    "verdicts": {"alpha": 0.05, "min_seeds": 2},
    "study_definitions": {
        "depth": {
            "kind": "compare",
            "margin_pp": 1.0,
            "topologies": ["30", "30-30"],
            "replication": {"start": 2, "step": 1, "max": 4},
        },
        "reg": {"kind": "regularisation", "topologies": ["30", "L1"], "seeds": [1]},
        "ua": {"kind": "universal_approximation", "widths": [1, 4], "epochs": 10},
        "sw": {"kind": "sweep", "base": "30", "grid": {"eta": [0.1, 1.0]}},
    },
    "defaults": {"epochs": 3, "eta": 3.0, "batch_size": 10, "penalty": {"p": 2, "lambda": 0}},
    "topologies": {
        "30": {"hidden": [30]},
        "30-30": {"hidden": [30, 30]},
        "L1": {"hidden": [30], "penalty": {"p": 1, "lambda": 1e-4}},
    },
    "training": {"runs_per_job": "auto", "monitor_rows": 100},
    "data": {"validation_size": 100},
}

WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["..", ".", "-rf", "a/b", "é", "", " ", "30", "auto", "sigmoid"]),
    st.lists(st.integers(-3, 5), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
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
    check_inside(
        [
            f"results/{d}/models/{t}/seed{s}/model.npz"
            for d in p.datasets
            for st_ in p.study_defs
            for t, s in p.study_runs(st_)
        ]
        + [f for st_ in p.study_defs for f in p.extra_outputs(st_)]
    )
    for topo in p.all_topologies.values():
        assert topo.epochs >= 1 and topo.batch_size >= 1 and math.isfinite(topo.eta) and topo.eta > 0


SETTING_KEYS = [
    "hidden",
    "activation",
    "output",
    "cost",
    "init",
    "eta",
    "batch_size",
    "epochs",
    "penalty",
    "dropout",
    "dtype",
    "momentum",
    "eta_decay",
    "unknown",
]


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
        plan(
            {
                **copy.deepcopy(BASE),
                "studies": ["depth"],
                "study_definitions": {"depth": {"kind": kind, "topologies": ["30"]}},
            },
            SCHEMA,
        )
    refused_in_one_line(info.value)
    assert "study_definitions.depth.kind" in str(info.value)


@pytest.mark.parametrize("hidden", [[0], [-1], [], [1.5], ["8"]])
def test_impossible_layer_sizes_are_refused(hidden):
    with pytest.raises(ConfigError) as info:
        resolve({"hidden": hidden})
    refused_in_one_line(info.value)


# ---- what runs, not only what parses (#29) -------------------------------------------------------------------------

#: Values a setting may plausibly take (so that many generated runs train), beside WEIRD ones (so that many are
#: refused): a case either trains and writes its three files, or is refused in one line and writes nothing.
PLAUSIBLE = {
    "hidden": st.lists(st.integers(1, 12), min_size=1, max_size=3),
    "activation": st.sampled_from(registry_names()["activation"]),
    "output": st.sampled_from(registry_names()["output"]),
    "cost": st.sampled_from(registry_names()["cost"]),
    "init": st.sampled_from(registry_names()["init"]),
    "eta": st.floats(1e-6, 1e6),
    "batch_size": st.integers(1, 10**9),
    "epochs": st.integers(1, 10**15),
    "penalty": st.fixed_dictionaries({"p": st.sampled_from([0.5, 1, 2]), "lambda": st.floats(0, 1)}),
    "dropout": st.floats(0, 0.99),
    "dtype": st.sampled_from(["float32", "float64"]),
    "momentum": st.floats(0, 0.99),
    "eta_decay": st.floats(0.01, 1),
}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from datagen import preprocessed

    return preprocessed(tmp_path_factory.mktemp("fuzzdata"), 60, 20, 20)


@settings(
    max_examples=200,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    keys=st.sets(st.sampled_from(SETTING_KEYS), min_size=1, max_size=4),
    data=st.data(),
    seed=st.one_of(st.integers(0, 2**64), st.sampled_from([-1, 2**200])),
    threads=st.sampled_from(["1"] * 6 + ["2", "0", "-1", "x"]),
)
def test_the_train_command_trains_or_refuses_in_one_line(
    tiny_data, tmp_path_factory, capsys, keys, data, seed, threads
):
    """The train command, in process, on generated settings: trained (three files) or refused in one line
    (nothing written); never a traceback.  ``--stop-at-epoch 1`` keeps a run of 10¹⁵ epochs to one epoch; such
    a run is still checked whole against the limits (a memory and a time estimate)."""
    from mlpsweep import cli

    # mostly a plausible value for its key (3 in 4), else anything
    changes = {k: data.draw(st.one_of(*[PLAUSIBLE.get(k, WEIRD)] * 3, WEIRD), label=k) for k in sorted(keys)}
    out = tmp_path_factory.mktemp("run") / "out"
    args = [
        "-q",
        "train",
        "--data",
        str(tiny_data),
        "--settings",
        json.dumps({"hidden": [4], **changes}),
        "--seed",
        str(seed),
        "--out-dir",
        str(out),
        "--threads",
        threads,
        "--stop-at-epoch",
        "1",
        "--max-mem-mb",
        "400",
        "--max-runtime",
        "5",
    ]
    try:
        code = cli.main(args)
    except SystemExit as exc:  # argparse: a usage error
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    if code == 0:
        assert {p.name for p in out.iterdir()} == {"history.csv", "model.npz", "model.json"}
        return
    assert code in (1, 2) and "Traceback" not in "\n".join(err), err
    if code == 1:
        assert len(err) == 1 and err[0].startswith("mlpsweep train: error: "), err
    else:
        assert err[-1].startswith("mlpsweep train: error: argument"), err
    assert not out.exists()


@pytest.fixture(scope="module")
def tiny_upstream(tmp_path_factory):
    from datagen import write_dataset

    folder = tmp_path_factory.mktemp("upstream")
    return folder, write_dataset(folder, n_train=120, n_test=40, seed=3)


def tiny_workflow_config(folder, definition) -> dict:
    return {
        "datasets": ["tiny"],
        "seeds": [1, 2],
        "studies": ["s"],
        "study_definitions": {"s": {"topologies": ["a", "b"], "margin_pp": 1.0}},
        "defaults": {"epochs": 1, "batch_size": 10, "eta": 3.0},
        "topologies": {"a": {"hidden": [6]}, "b": {"hidden": [6, 4]}},
        "training": {"monitor_rows": 0, "runs_per_job": 2},
        "data": {"validation_size": 40},
        "dataset_definitions": {"tiny": {**definition, "sources": [str(folder)]}},
    }


@pytest.mark.slow
@settings(
    max_examples=6,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_the_workflow_plans_and_runs_a_job_or_refuses_in_one_line(tiny_upstream, tmp_path_factory, data):
    """Generated configs through Snakemake itself: a dry run, then one real training job (download, preprocess
    and the stack that makes ``a``'s model) — or one ``mlpsweep:`` line before anything is written."""
    from workflow_helpers import snakemake, write_config

    folder, definition = tiny_upstream
    base = tiny_workflow_config(folder, definition)
    where = [p for p, _ in paths(base) if p and p[0] not in ("dataset_definitions",)]
    path = data.draw(st.sampled_from(where), label="path")
    how = data.draw(st.sampled_from(["set", "delete", "unknown key"]), label="how")
    key = path[-1] if isinstance(path[-1], str) else path[-2]
    value = data.draw(st.one_of(PLAUSIBLE.get(key, WEIRD), WEIRD), label="value")
    work = tmp_path_factory.mktemp("wf")
    write_config(work, change(base, path, how, value))
    proc = snakemake(work, "--dry-run", "--cores", "1", check=False)
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text[-3000:]
    if proc.returncode != 0:
        lines = [ln for ln in text.splitlines() if ln.startswith("mlpsweep: ")]
        assert len(lines) == 1, text[-3000:]
        assert not any((work / d).exists() for d in ("results", "resources", "logs"))
        return
    p = plan(yaml_load(work / "config/config.yaml"), SCHEMA)
    topology, seed = p.runs[0]
    target = f"results/tiny/models/{topology}/seed{seed}/model.json"
    run = snakemake(work, "--cores", "1", target, check=False)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert (work / target).exists()


def yaml_load(path):
    import yaml

    return yaml.safe_load(path.read_text())
