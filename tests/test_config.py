"""Configuration: the schema's defaults, and every invalid value named before any job."""

import pytest
import yaml
from workflow_helpers import REPO

from mlpsweep.config import ConfigError
from mlpsweep.plan import plan

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
SHA = "a" * 64


def test_empty_config_is_the_lecture_table():
    p = plan({}, SCHEMA)
    assert p.datasets == ["mnist"] and p.seeds == [1, 2, 3, 4, 5]
    assert list(p.topologies) == ["30", "30-30", "30-30-30"]
    t = p.topology("30-30")
    assert t.hidden == (30, 30) and t.eta == 3.0 and t.batch_size == 10 and t.epochs == 30
    assert (t.activation, t.output, t.cost, t.init) == ("sigmoid", "sigmoid", "quadratic", "normal")


def test_shipped_config_runs_what_the_schema_defaults_run():
    shipped = plan(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), SCHEMA)
    default = plan({}, SCHEMA)
    assert shipped.topologies == default.topologies and shipped.runs == default.runs
    assert (shipped.datasets, shipped.seeds, shipped.studies) == (default.datasets, default.seeds, default.studies)
    assert len(shipped.runs) == 15


def test_every_shipped_study_is_valid():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["studies"] = list(config["study_definitions"])
    p = plan(config, SCHEMA)
    assert set(p.study_defs) == {
        "depth",
        "depth-extended",
        "activations",
        "regularisation",
        "dropout",
        "vanishing-gradient",
        "gd-vs-sgd",
        "universal-approximation",
        "best",
    }
    assert p.topology("300-d0.5").dropout == 0.5 and p.topology("300-d0.5").hidden == (300,)
    assert p.study_defs["universal-approximation"]["widths"][-1] == 256
    assert p.study_runs("dropout") == [(t, s) for t in p.study_defs["dropout"]["topologies"] for s in (1, 2)]


def test_topology_inherits_and_overrides_defaults():
    p = plan({"defaults": {"eta": 0.5}, "topologies": {"30": {"hidden": [30], "penalty": {"lambda": 0.1}}}}, SCHEMA)
    assert p.topology("30").eta == 0.5 and p.topology("30").to_dict()["penalty"] == {"p": 2, "lambda": 0.1}
    assert p.topology("30-30").to_dict()["penalty"] == {"p": 2, "lambda": 0}


def test_strings_from_snakemake_command_line_are_coerced():
    p = plan({"seeds": ["1", "2"], "defaults": {"epochs": "3", "eta": "0.5"}}, SCHEMA)
    assert p.seeds == [1, 2] and p.topology("30").epochs == 3 and p.topology("30").eta == 0.5


def topo(**kw):
    return {"topologies": {"x": {"hidden": [5], **kw}}, "study_definitions": {"depth": {"topologies": ["x"]}}}


def dataset(**kw):
    files = {
        r: {"name": f"{r}.gz", "sha256": SHA, "bytes": 10}
        for r in ("train_images", "train_labels", "test_images", "test_labels")
    }
    d = {"files": files, "sources": ["/data"], **kw}
    return {"datasets": ["mine"], "dataset_definitions": {"mine": d}}


INVALID = [
    (topo(eta=0), "topologies.x.eta", "minimum of 0"),
    (topo(eta=-1.5), "topologies.x.eta", "minimum of 0"),
    (topo(batch_size=0), "topologies.x.batch_size", "minimum of 1"),
    (topo(epochs=0), "topologies.x.epochs", "minimum of 1"),
    ({"topologies": {"x": {"hidden": []}}}, "topologies.x.hidden", "should be non-empty"),
    ({"topologies": {"x": {"hidden": [30, 0]}}}, "topologies.x.hidden[1]", "minimum of 1"),
    (topo(activation="swish"), "topologies.x.activation", "'relu'"),
    (topo(output="tanh"), "topologies.x.output", "'softmax'"),
    (topo(cost="hinge"), "topologies.x.cost", "'log_likelihood'"),
    (topo(output="softmax", cost="quadratic"), "topologies.x.cost", "needs output 'linear' or 'sigmoid'"),
    (topo(output="linear", cost="cross_entropy"), "topologies.x.cost", "needs output 'sigmoid'"),
    (topo(penalty={"p": 0, "lambda": 1}), "topologies.x.penalty.p", "minimum of 0"),
    (topo(penalty={"p": 1, "lambda": -1}), "topologies.x.penalty.lambda", "minimum of 0"),
    (topo(dropout=1.0), "topologies.x.dropout", "maximum of 1"),
    (topo(dropout=-0.1), "topologies.x.dropout", "minimum of 0"),
    (topo(dtype="float16"), "topologies.x.dtype", "'float32'"),
    (topo(init="zeros"), "topologies.x.init", "'he'"),
    (topo(etta=3), "topologies.x", "'etta' was unexpected"),
    ({"seeds": [1, 1]}, "seeds", "non-unique"),
    ({"seeds": []}, "seeds", "should be non-empty"),
    ({"seeds": [-1]}, "seeds[0]", "minimum of 0"),
    ({"datasets": ["cifar"]}, "datasets[0]", "unknown dataset 'cifar'"),
    ({"datasets": ["../etc"]}, "datasets[0]", "does not match"),
    ({"topologies": {"a/b": {"hidden": [3]}}}, "topologies", "does not match"),
    ({"studies": ["nope"]}, "studies[0]", "unknown study 'nope'"),
    (
        {"study_definitions": {"depth": {"topologies": ["ghost"]}}},
        "study_definitions.depth.topologies[0]",
        "unknown topology 'ghost'",
    ),
    (dataset(sources=["ftp://example.org/mnist/"]), "dataset_definitions.mine.sources[0]", "does not match"),
    (
        {
            **dataset(),
            "dataset_definitions": {
                "mine": {
                    **dataset()["dataset_definitions"]["mine"],
                    "files": {
                        **dataset()["dataset_definitions"]["mine"]["files"],
                        "test_labels": {"name": "t.gz", "sha256": "abc", "bytes": 1},
                    },
                }
            },
        },
        "dataset_definitions.mine.files.test_labels.sha256",
        "does not match",
    ),
    ({"data": {"validation_size": 0}}, "data.validation_size", "minimum of 1"),
    ({"data": {"normalize": "zscore"}}, "data.normalize", "'standardize'"),
    ({"download": {"timeout": 0}}, "download.timeout", "minimum of 0"),
    ({"resources": {"train": {"threads": 0}}}, "resources.train.threads", "minimum of 1"),
    (
        {"datasets": ["mine"], "dataset_definitions": {"mine": {"sources": ["/x"]}}},
        "dataset_definitions.mine.files",
        "must define",
    ),
    ({"epochz": 3}, "(top level)", "'epochz' was unexpected"),
    ({"training": {"runs_per_job": 0}}, "training.runs_per_job", "minimum of 1"),
    ({"training": {"runs_per_job": 2.5}}, "training.runs_per_job", "is not of type 'integer', 'string'"),
    ({"training": {"runs_per_job": "many"}}, "training.runs_per_job", "does not match '^auto$'"),
    # integers are integers: JSON Schema would take 2.0, the job that uses it would not (#29)
    (
        {"defaults": {"epochs": 2.0}},
        "defaults.epochs",
        "2.0 is not of type 'integer' (write 2, without a decimal point)",
    ),
    ({"defaults": {"batch_size": 10.0}}, "defaults.batch_size", "not of type 'integer' (write 10"),
    ({"topologies": {"x": {"hidden": [8.0]}}}, "topologies.x.hidden[0]", "not of type 'integer' (write 8"),
    ({"seeds": [1.0]}, "seeds[0]", "not of type 'integer'"),
    ({"training": {"monitor_rows": 100.0}}, "training.monitor_rows", "not of type 'integer'"),
    (
        {"data": {"validation_size": 1_000_000}},
        "data.validation_size",
        "leaves no training rows of mnist's 60,000; use at most 59,999",
    ),
    ({"data": {"validation_size": 60_000}}, "data.validation_size", "leaves no training rows"),
    # names: at most 80 characters, and never a run Snakemake takes for a recursion
    ({"topologies": {"x" * 81: {"hidden": [3]}}}, "topologies", "is too long (at most 80 characters)"),
    (
        {"topologies": {"t" * 80: {"hidden": [3]}}, "study_definitions": {"depth": {"topologies": ["t" * 80]}}},
        "topologies." + "t" * 80,
        "ends in 't' repeated 20 times or more",
    ),
    (
        {
            "topologies": {"net-" + "ab" * 20: {"hidden": [3]}},
            "study_definitions": {"depth": {"topologies": ["net-" + "ab" * 20]}},
        },
        "topologies.net-" + "ab" * 20,
        "ends in 'ab' repeated 20 times",
    ),
    (
        {"studies": ["s" * 30], "study_definitions": {"s" * 30: {"topologies": ["30"]}}},
        "study_definitions." + "s" * 30,
        "repeated 20 times",
    ),
    ({"seeds": [2**32]}, "seeds[0]", "maximum of 4294967295"),
]


def stacks_of(config):
    """(name, runs) of the stacked training jobs of the config's own studies (not the default ``depth``)."""
    return [(s.name, s.runs) for s in plan(config, SCHEMA).stacks() if s.runs[0][0] in config["topologies"]]


def test_runs_of_one_shape_stack_in_order_and_each_run_once():
    topologies = {
        "a": {"hidden": [8]},
        "a-eta": {"hidden": [8], "eta": 0.5, "dropout": 0.2, "init": "he"},
        "b": {"hidden": [8, 4]},
        "a-k": {"hidden": [8], "batch_size": 20},
    }
    config = {
        "seeds": [1, 2, 3, 4],
        "topologies": topologies,
        "studies": ["one"],
        "study_definitions": {
            "one": {"topologies": ["a", "b", "a-eta", "a-k"]},
            "two": {"topologies": ["a", "b", "a-eta"], "seeds": [1, 5]},
        },
    }
    # auto: up to 3 per job; a and a-eta share a shape (η, dropout and init may differ), b and a-k do not
    # a stack is named after its first run and how many more it holds
    assert stacks_of(config) == [
        ("a.seed1+2", [("a", 1), ("a", 2), ("a", 3)]),
        ("a.seed4+2", [("a", 4), ("a-eta", 1), ("a-eta", 2)]),
        ("a-eta.seed3+1", [("a-eta", 3), ("a-eta", 4)]),
        ("b.seed1+2", [("b", 1), ("b", 2), ("b", 3)]),  # b's seed 4 alone trains as a plain run
        ("a-k.seed1+2", [("a-k", 1), ("a-k", 2), ("a-k", 3)]),
        ("a.seed5+1", [("a", 5), ("a-eta", 5)]),  # seed 1 of a, b and a-eta belongs to "one", defined first
    ]
    runs = [r for _, rs in stacks_of(config) for r in rs]
    assert len(runs) == len(set(runs))
    # a study that is only defined does not change the grouping of the enabled one, nor does enabling it
    assert stacks_of({**config, "studies": ["one", "two"]}) == stacks_of(config)
    assert stacks_of({**config, "training": {"runs_per_job": 1}}) == []
    assert stacks_of({**config, "training": {"runs_per_job": 8}})[0] == (
        "a.seed1+7",
        [("a", s) for s in (1, 2, 3, 4)] + [("a-eta", s) for s in (1, 2, 3, 4)],
    )


@pytest.mark.parametrize("config,key,message", INVALID, ids=[f"{k}:{m}" for _, k, m in INVALID])
def test_invalid_configs_name_the_key(config, key, message):
    with pytest.raises(ConfigError) as info:
        plan(config, SCHEMA)
    text = str(info.value)
    assert text.startswith(f"config key {key}:"), text
    assert message in text, text
    assert "\n" not in text


def test_gradient_tracking_runs_and_halving_rungs_train_alone():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["studies"] = list(config["study_definitions"])
    p = plan(config, SCHEMA)
    stacked = {t for s in p.stacks() for t, _ in s.runs}
    tracked = {t for t, _ in p.runs if p.tracks_gradients(t)}
    assert tracked and stacked and not tracked & stacked
    sweep = yaml.safe_load((REPO / "config" / "sweep-example.yaml").read_text())
    for name, extra in yaml.safe_load((REPO / "config" / "sweep-example-halving.yaml").read_text())[
        "study_definitions"
    ].items():
        sweep["study_definitions"][name].update(extra)
    halving = plan(sweep, SCHEMA)
    points = {t for st in halving.study_defs.values() if st["kind"] == "sweep" for t in st.get("points", [])}
    assert points and not points & {t for s in halving.stacks() for t, _ in s.runs}


# `snakemake --config` reads values with YAML's base loader: every scalar arrives as a string.
OVERRIDES = [  # (override as Snakemake delivers it, where to look, the value the plan must hold)
    ({"seeds": ["3", "4"]}, ("seeds",), [3, 4]),  # integer (in a list)
    ({"defaults": {"eta": "0.5"}}, ("defaults", "eta"), 0.5),  # number
    ({"defaults": {"eta": "2"}}, ("defaults", "eta"), 2),  # number written as an integer
    ({"training": {"fail_on_divergence": "true"}}, ("training", "fail_on_divergence"), True),  # boolean
    ({"defaults": {"hidden": ["12", "6"]}}, ("defaults", "hidden"), [12, 6]),  # list
    (
        {"defaults": {"penalty": {"p": "0.5", "lambda": "1e-4"}}},
        ("defaults", "penalty"),
        {"p": 0.5, "lambda": 1e-4},
    ),  # object
    ({"training": {"runs_per_job": "1"}}, ("training", "runs_per_job"), 1),  # union [integer, string]
    ({"training": {"runs_per_job": "auto"}}, ("training", "runs_per_job"), "auto"),
    ({"data": {"validation_seed": "7"}}, ("data", "validation_seed"), 7),  # union [integer, null]
    ({"data": {"validation_seed": "null"}}, ("data", "validation_seed"), None),
]


@pytest.mark.parametrize("override,path,value", OVERRIDES, ids=[".".join(p) + "=" + repr(v) for _, p, v in OVERRIDES])
def test_command_line_overrides_of_every_type(override, path, value):
    node = plan(override, SCHEMA).config
    for key in path:
        node = node[key]
    assert node == value and type(node) is type(value)


BAD_OVERRIDES = [
    ({"seeds": ["x"]}, "seeds[0]", "is not of type 'integer'"),
    ({"defaults": {"eta": "fast"}}, "defaults.eta", "is not of type 'number'"),
    ({"training": {"fail_on_divergence": "maybe"}}, "training.fail_on_divergence", "is not of type 'boolean'"),
    ({"defaults": {"hidden": "30"}}, "defaults.hidden", "is not of type 'array'"),
    ({"defaults": {"penalty": "strong"}}, "defaults.penalty", "is not of type 'object'"),
    ({"training": {"runs_per_job": "0"}}, "training.runs_per_job", "0 is less than the minimum of 1"),
    ({"training": {"runs_per_job": "many"}}, "training.runs_per_job", "does not match '^auto$'"),
    # `--config 'defaults={epochs: 2.0}'` delivers the string '2.0': refused with the same fix as the float
    ({"defaults": {"epochs": "2.0"}}, "defaults.epochs", "'2.0' is not of type 'integer' (write 2"),
]


@pytest.mark.parametrize("override,key,message", BAD_OVERRIDES, ids=[k for _, k, _ in BAD_OVERRIDES])
def test_bad_command_line_overrides_get_one_line(override, key, message):
    with pytest.raises(ConfigError) as info:
        plan(override, SCHEMA)
    text = str(info.value)
    assert text.startswith(f"config key {key}:") and message in text and "\n" not in text, text


def test_the_shipped_sequential_depth_config_plans_six_looks():
    from mlpsweep.studies.compare import look_seeds

    """config/depth-sequential.yaml on top of the shipped config, merged as Snakemake merges config files."""
    from mlpsweep.config import _deep_merge

    shipped = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    extra = yaml.safe_load((REPO / "config" / "depth-sequential.yaml").read_text())
    p = plan(_deep_merge(shipped, extra), SCHEMA)
    design = p.design("depth")
    assert design.sizes == [5, 10, 15, 20, 25, 30] and design.spending == "obrien_fleming"
    assert look_seeds(p.study_defs["depth"], 2) == list(range(1, 11))
    assert [len(b) for b in p.look_batches("depth")] == [15] * 6  # 3 topologies × 5 new seeds per look
    assert p.runs == plan(shipped, SCHEMA).runs  # the first look's runs are the fixed design's


def test_the_longest_names_plan():
    """An 80-character name that does not end in a repetition plans, its stacked job's log name far below 255."""
    name = ("net-" + "0123456789" * 8)[:80]
    p = plan(
        {
            "topologies": {name: {"hidden": [3]}},
            "study_definitions": {"depth": {"topologies": [name]}},
            "seeds": [4294967295, 4294967294],
        },
        SCHEMA,
    )
    (stack,) = p.stacks()
    assert len(f"{stack.name}.log") < 120


def test_an_integral_float_is_refused_wherever_settings_are_read():
    """The train command's settings, like the config, refuse 2.0 epochs (one rule: mlpsweep.config)."""
    from mlpsweep.settings import SettingsError, resolve

    for key, value in (("epochs", 2.0), ("batch_size", 10.0), ("hidden", [8.0])):
        with pytest.raises(SettingsError, match=f"settings key {key}.*not of type 'integer'"):
            resolve({key: value})


def test_the_shipped_optimizers_config_compares_three_update_rules():
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in yaml.safe_load((REPO / "config" / "optimizers-example.yaml").read_text()).items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    p = plan(config, SCHEMA)
    rules = [p.topology(t).rule["name"] for t in p.study_defs["optimizers"]["topologies"]]
    assert rules == ["momentum", "adam", "adam"] and p.topology("relu-adamw").rule["weight_decay"] == 0.01
