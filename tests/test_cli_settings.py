"""The train command checks its settings with the config schema: one line, a non-zero exit, no output."""

import json
import subprocess
import sys

import pytest
from datagen import preprocessed

from mlpsweep import settings as st
from mlpsweep.nn import Network

pytestmark = pytest.mark.slow  # a battery of train commands, each a subprocess


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return preprocessed(tmp_path_factory.mktemp("data"), 200, 50, 50)


def train(data_dir, out, settings, *extra):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mlpsweep",
            "-q",
            "train",
            "--data",
            str(data_dir),
            "--settings",
            json.dumps(settings) if not isinstance(settings, str) else settings,
            "--seed",
            "1",
            "--out-dir",
            str(out),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


GOOD = {"hidden": [8], "epochs": 1}


@pytest.mark.parametrize(
    "bad, key, says",
    [
        ({"hidden": []}, "hidden", "non-empty"),
        ({"epochs": 2.7}, "epochs", "2.7 is not of type 'integer'"),
        ({"batch_size": 2.5}, "batch_size", "2.5 is not of type 'integer'"),
        ({"learning_rate": 0.1}, "(top level)", "'learning_rate' was unexpected"),
        ({"epochs": "abc"}, "epochs", "'abc' is not of type 'integer'"),
        ({"hidden": "30"}, "hidden", "'30' is not of type 'array'"),
        ({"activation": "swish"}, "activation", "'swish' is not one of"),
        ({"penalty": {"p": 0}}, "penalty.p", "less than or equal to the minimum of 0"),
        ({"output": "softmax", "cost": "quadratic"}, "cost", "softmax"),
        ({"momentum": 0.9, "penalty": {"p": 1, "lambda": 0.1}}, "momentum", "cannot be combined"),
    ],
)
def test_bad_settings_give_one_line_and_no_output(data_dir, tmp_path, bad, key, says):
    out = tmp_path / "out"
    proc = train(data_dir, out, {**GOOD, **bad})
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"mlpsweep train: error: settings key {key}:") and says in lines[0], lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_settings_that_are_not_an_object(data_dir, tmp_path):
    proc = train(data_dir, tmp_path / "out", "[1, 2]")
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1


def test_missing_keys_take_the_schemas_defaults(data_dir, tmp_path):
    out = tmp_path / "out"
    proc = train(data_dir, out, GOOD)  # no dropout, eta, cost, …: the lecture's recipe
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((out / "model.json").read_text())["settings"]
    assert saved == st.resolve(GOOD).to_dict() and saved["dropout"] == st.defaults()["dropout"]


def test_divergence_under_fail_on_divergence_is_one_line_and_exit_3(data_dir, tmp_path):
    out = tmp_path / "out"
    proc = train(data_dir, out, {"hidden": [8], "output": "linear", "eta": 1e6, "epochs": 3}, "--fail-on-divergence")
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "diverged at epoch" in lines[0] and "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_network_is_built_from_settings_resolved_against_the_schema():
    settings = st.resolve({"activation": "relu"})
    net = Network.from_config([4, 3, 2], settings.to_dict(), rng=__import__("numpy").random.default_rng(0))
    assert net.activation_name == "relu" and net.dtype.name == st.defaults()["dtype"] == settings.dtype
    with pytest.raises(st.SettingsError, match="settings key init: 'glorot' is not one of"):
        st.resolve({"init": "glorot"})
    with pytest.raises(ValueError, match="a network needs output, cost, init, dtype; resolve the settings first"):
        Network.from_config([4, 3, 2], {"activation": "relu"})
