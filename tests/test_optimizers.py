"""Update rules own η and their state: each against its textbook recursion, stacked = solo, resumed exactly,
and a rule of one's own (tests/rules/rmsprop.py) used by name with nothing in mlpsweep changed."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from sgd_settings import recipe
from workflow_helpers import mlpsweep_cli

from mlpsweep.nn import Network, train, train_stack
from mlpsweep.nn.optimizers import RULES, make_rule
from mlpsweep.settings import SettingsError, resolve

RULES_DIR = Path(__file__).resolve().parent / "rules"


def data(m=120, d=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, d))
    return x, (x[:, :classes] + 0.3 * rng.standard_normal((m, classes))).argmax(axis=1)


def steps_of(optimizer, grads, eta=0.1, decay=1.0, params=None):
    """Run a rule over a list of gradients from ``params`` (float64): the parameters after each step."""
    rule = make_rule(optimizer, eta=eta, eta_decay=decay, n_params=grads[0].size, n_weights=2, dtype=np.float64)
    p = np.array(params if params is not None else np.linspace(-1, 1, grads[0].size))
    out = []
    for g in grads:
        rule.step(p, g.copy())
        out.append(p.copy())
    return out


GRADS = [np.random.default_rng(i).standard_normal(4) for i in range(6)]


def test_sgd_is_the_lectures_step():
    p0 = np.linspace(-1, 1, 4)
    assert np.array_equal(steps_of({"name": "sgd"}, GRADS[:1])[0], p0 - 0.1 * GRADS[0])


def test_momentum_and_nesterov_follow_their_recursions():
    p, v = np.linspace(-1, 1, 4), np.zeros(4)
    q, u = p.copy(), np.zeros(4)
    for got_m, got_n, g in zip(
        steps_of({"name": "momentum", "momentum": 0.9}, GRADS),
        steps_of({"name": "nesterov", "momentum": 0.9}, GRADS),
        GRADS,
    ):
        v = 0.9 * v + 0.1 * g
        p = p - v
        u = 0.9 * u - 0.1 * g
        q = q + 0.9 * u - 0.1 * g
        np.testing.assert_allclose(got_m, p, rtol=1e-14)
        np.testing.assert_allclose(got_n, q, rtol=1e-14)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_adam_is_bias_corrected_and_adamw_decays_the_weights_only(weight_decay):
    b1, b2, eps, eta = 0.9, 0.999, 1e-8, 0.1
    p, m, v = np.linspace(-1, 1, 4), np.zeros(4), np.zeros(4)
    got = steps_of({"name": "adam", "beta1": b1, "beta2": b2, "epsilon": eps, "weight_decay": weight_decay}, GRADS)
    for t, (g, after) in enumerate(zip(GRADS, got), start=1):
        p[:2] -= eta * weight_decay * p[:2]  # the two weights; the biases never decay
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p = p - eta * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        np.testing.assert_allclose(after, p, rtol=1e-13)
    # the first step of Adam moves every parameter by about η, whatever the gradient's scale
    first = steps_of({"name": "adam"}, [1e-3 * GRADS[0]], params=np.zeros(4))[0]
    np.testing.assert_allclose(np.abs(first), 0.1, rtol=1e-4)


def test_the_rule_owns_eta_and_its_decay():
    rule = make_rule({"name": "sgd"}, eta=3.0, eta_decay=0.5, n_params=1, n_weights=1, dtype=np.float32)
    assert rule.eta.dtype == np.float32 and float(rule.eta) == 3.0
    rule.start_epoch(3)
    assert float(rule.eta) == 0.75


def test_optimizer_settings_are_checked_and_completed():
    assert resolve({"optimizer": {"name": "adam"}}).rule == {
        "name": "adam",
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
        "weight_decay": 0.0,
    }
    assert resolve({"momentum": 0.5}).rule == {"name": "momentum", "momentum": 0.5}  # the shorthand
    assert resolve({}).rule == {"name": "sgd"}
    for bad, says in [
        ({"optimizer": {"name": "adam", "beta1": 1.0}}, "optimizer.beta1"),
        ({"optimizer": {"name": "adam", "momentum": 0.9}}, "'momentum' was unexpected"),
        ({"optimizer": {"name": "nope"}}, "optimizer.name: unknown optimizer 'nope'"),
        ({"optimizer": {"name": "../x"}}, "optimizer.name: '../x' is neither a built-in"),
        ({"optimizer": {"name": "adam"}, "momentum": 0.9}, "momentum 0.9 is the shorthand"),
        (
            {"optimizer": {"name": "adam"}, "penalty": {"p": 1, "lambda": 0.1}},
            "adam cannot be combined with a penalty of p <= 1",
        ),
    ]:
        with pytest.raises(SettingsError, match=None) as info:
            resolve(bad)
        assert says in str(info.value) and "\n" not in str(info.value), (bad, str(info.value))


def stacked_and_solo(configs, dtype="float32", epochs=3):
    x, labels = data()
    xv, lv = data(m=30, seed=1)
    outs = []
    for stacked in (False, True):
        nets = [Network([6, 7, 3], dtype=dtype, rng=np.random.default_rng(s)) for s in range(len(configs))]
        rngs = [np.random.default_rng(s + 50) for s in range(len(configs))]
        cfgs = [recipe(epochs=epochs, batch_size=8, **c) for c in configs]
        if stacked:
            hists = train_stack(nets, x, labels, cfgs, rngs, validation=(xv, lv))
        else:
            hists = [train(n, x, labels, c, r, validation=(xv, lv)) for n, c, r in zip(nets, cfgs, rngs)]
        outs.append((nets, hists))
    return outs


MIXED = [
    {"eta": 0.5},
    {"eta": 0.1, "momentum": 0.9},
    {"eta": 0.1, "optimizer": {"name": "nesterov", "momentum": 0.8}},
    {"eta": 0.01, "optimizer": {"name": "adam", "weight_decay": 0.01}, "dropout": 0.2},
    {"eta": 0.01, "optimizer": {"name": "adam"}, "penalty": {"p": 2, "lambda": 1e-3}, "eta_decay": 0.9},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_stack_of_every_rule_equals_each_run_alone(dtype):
    (solo, hs), (stack, hk) = stacked_and_solo(MIXED, dtype)
    for a, b, ha, hb in zip(solo, stack, hs, hk):
        assert a.params.tobytes() == b.params.tobytes()
        assert [{k: v for k, v in r.items() if "seconds" not in k} for r in ha.records] == [
            {k: v for k, v in r.items() if "seconds" not in k} for r in hb.records
        ]
    assert len({n.params.tobytes() for n in solo}) == len(MIXED)  # the rules differ


def test_every_built_in_rule_is_named_in_the_schema_description():
    from mlpsweep.config import load_schema

    text = load_schema()["definitions"]["settings"]["properties"]["optimizer"]["description"]
    assert all(f"name: {name}" in text for name in RULES)


# ---- a rule of one's own, and resuming: through the train command -------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    from datagen import preprocessed

    return preprocessed(tmp_path_factory.mktemp("data"), 200, 40, 40)


def train_command(args, env_path=None):
    return mlpsweep_cli("-q", "--plugin", "rmsprop", "train", *args, pythonpath=env_path or "")


def outcome(folder):
    with np.load(folder / "model.npz", allow_pickle=False) as f:
        params = {k: f[k].tobytes() for k in f.files if k != "meta"}
    return params, (folder / "history.csv").read_text().splitlines()


def strip_seconds(lines):
    head = lines[0].split(",")
    keep = [i for i, c in enumerate(head) if "seconds" not in c]
    return [[row.split(",")[i] for i in keep] for row in lines]


@pytest.mark.slow
def test_a_rule_of_ones_own_trains_stacked_and_alone_with_nothing_changed_in_mlpsweep(data_dir, tmp_path):
    settings = [
        {"hidden": [8], "epochs": 3, "eta": 0.01, "optimizer": {"name": "rmsprop", "rho": r}} for r in (0.9, 0.8)
    ]
    runs = [
        {"name": f"r{i}", "seed": i, "settings": s, "out_dir": str(tmp_path / "stack" / f"r{i}")}
        for i, s in enumerate(settings)
    ]
    proc = train_command(["--data", str(data_dir), "--runs", json.dumps(runs)], str(RULES_DIR))
    assert proc.returncode == 0, proc.stderr
    for i, s in enumerate(settings):
        solo = tmp_path / "solo" / f"r{i}"
        proc = train_command(
            ["--data", str(data_dir), "--settings", json.dumps(s), "--seed", str(i), "--out-dir", str(solo)],
            str(RULES_DIR),
        )
        assert proc.returncode == 0, proc.stderr
        (p1, h1), (p2, h2) = outcome(solo), outcome(tmp_path / "stack" / f"r{i}")
        assert p1 == p2 and strip_seconds(h1) == strip_seconds(h2)
    meta = json.loads((tmp_path / "solo/r0/model.json").read_text())
    assert meta["settings"]["optimizer"] == {"name": "rmsprop", "rho": 0.9, "epsilon": 1e-8}
    # declared but not on the path, the name is refused in one line
    proc = train_command(
        [
            "--data",
            str(data_dir),
            "--settings",
            json.dumps(settings[0]),
            "--seed",
            "1",
            "--out-dir",
            str(tmp_path / "none"),
        ]
    )
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "plugin 'rmsprop': no such module" in proc.stderr and not (tmp_path / "none").exists()
    # on the path but not declared: refused without importing it
    proc = mlpsweep_cli(
        "-q", "train", "--data", data_dir, "--settings", json.dumps(settings[0]), "--seed", "1",
        "--out-dir", tmp_path / "none", pythonpath=RULES_DIR,
    )  # fmt: skip
    assert proc.returncode == 1 and "must be listed under the config's plugins" in proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer", [{"name": "adam", "weight_decay": 0.001}, {"name": "rmsprop"}], ids=["adam", "rmsprop"]
)
def test_killed_mid_run_and_resumed_is_identical(data_dir, tmp_path, optimizer):
    """The rule's state (Adam's m, v and β powers; RMSProp's square) goes into the checkpoint by name."""
    import random

    from test_faults import kill_9_during

    s = {"hidden": [16], "epochs": 12, "eta": 0.01, "optimizer": optimizer}
    args = ["--data", str(data_dir), "--settings", json.dumps(s), "--seed", "3"]
    assert train_command([*args, "--out-dir", str(tmp_path / "clean")], str(RULES_DIR)).returncode == 0

    env_args = [
        sys.executable,
        "-m",
        "mlpsweep",
        "--plugin",
        "rmsprop",
        "train",
        *args,
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
        "--out-dir",
        str(tmp_path / "run"),
    ]
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(RULES_DIR)  # for the child kill_9_during starts
    try:
        moment = kill_9_during(env_args, random.Random(30), max_pause=0.0)  # epochs of milliseconds
    finally:
        os.environ.pop("PYTHONPATH") if old is None else os.environ.__setitem__("PYTHONPATH", old)
    assert list((tmp_path / "ckpt").glob("*.npz")), "killed before the first checkpoint"
    proc = train_command(
        [*args, "--checkpoint-dir", str(tmp_path / "ckpt"), "--out-dir", str(tmp_path / "run")], str(RULES_DIR)
    )
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((tmp_path / "run/model.json").read_text())
    assert meta["resumed_from_epoch"] is not None, moment
    (p1, h1), (p2, h2) = outcome(tmp_path / "clean"), outcome(tmp_path / "run")
    assert p1 == p2 and strip_seconds(h1) == strip_seconds(h2), moment
