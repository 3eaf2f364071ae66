"""The compiled exact product (mlpsweep.nn.compiled, Numba): the bytes of exact.matmul, whatever order and
instructions it sums with — random shapes and magnitudes over the whole float32 range, every boundary class,
special values."""

from pathlib import Path

import numpy as np
import pytest
from test_exact import BOUNDARIES

from mlpsweep.nn import compiled, exact, jit


def test_numba_is_there():
    """A dependency of the project: without it the NumPy code runs (the same bytes), slower."""
    assert compiled.available()


def same(a, b):
    x, y = exact.matmul(a, b), jit.matmul(a, b)
    assert x.tobytes() == y.tobytes(), np.argwhere(x.view(np.uint32) != y.view(np.uint32))[:5]


@pytest.mark.parametrize("seed", range(6))
def test_random_products_are_byte_equal_to_the_numpy_code(seed):
    rng = np.random.default_rng(seed)
    for _ in range(30):
        m, n, p = (int(v) for v in rng.integers(1, 50, 3))
        a = (rng.standard_normal((m, n)) * np.exp(rng.uniform(-40, 40, (m, n)))).astype(np.float32)
        a[rng.random((m, n)) < 0.3] = 0  # zeros, as in background pixels and dead ReLUs
        b = (rng.standard_normal((n, p)) * np.exp(rng.uniform(-40, 40, (n, p)))).astype(np.float32)
        same(a, b)


def test_training_shaped_products_are_byte_equal():
    rng = np.random.default_rng(7)
    x = rng.random((10, 784)).astype(np.float32)
    x[x < 0.8] = 0  # mostly background pixels
    w = rng.standard_normal((784, 30)).astype(np.float32)
    same(x, w)
    d = (rng.standard_normal((10, 30)) * 1e-3).astype(np.float32)
    same(d.T.copy(), x)  # a weight gradient's shape


@pytest.mark.parametrize("case", BOUNDARIES)
def test_every_boundary_class_is_rounded_as_the_numpy_code_does(case):
    a_row, b_col = BOUNDARIES[case]
    same(np.array([a_row], dtype=np.float32), np.array(b_col, dtype=np.float32).reshape(-1, 1))


def test_special_values_are_left_as_the_numpy_code_leaves_them():
    a = np.array([[np.inf, 1.0], [np.nan, 0.0], [3e38, 3e38], [-3e38, 3e38]], dtype=np.float32)
    b = np.array([[1.0, -1.0], [2.0, 1.0]], dtype=np.float32)
    x, y = exact.matmul(a, b), jit.matmul(a, b)
    assert np.array_equal(x.view(np.uint32), y.view(np.uint32)) or (
        np.array_equal(np.isnan(x), np.isnan(y)) and np.array_equal(x[~np.isnan(x)], y[~np.isnan(y)])
    )


# ---- the compiled step against the reference step, byte for byte (#39) -------------------------------------------

#: (name, each run's settings, batch size): every activation, output and cost, penalties p = 2, 1, ½ and 1.5,
#: dropout, every built-in rule, K = 1, 10 and 128 (the 300 training rows end in a short batch at K = 7 and 128),
#: stacks of 1 and 5.
MATRIX = [
    ("sigmoid-quadratic-sgd", [{}], 10),
    ("five-runs-L2-momentum", [{"penalty": {"p": 2, "lambda": 1e-3}, "momentum": 0.5, "eta": 1.0 + s}
                               for s in range(5)], 128),
    ("tanh-crossentropy-K1", [{"activation": "tanh", "cost": "cross_entropy", "init": "xavier", "eta": 0.5}], 1),
    (
        "relu-softmax-adamw-dropout",
        [
            {"activation": "relu", "output": "softmax", "cost": "log_likelihood", "init": "he", "eta": 0.003,
             "optimizer": {"name": "adam", "weight_decay": w}, "dropout": d}
            for w, d in ((0.0, 0.0), (0.01, 0.2))
        ],
        7,
    ),
    (
        "penalties-nesterov",
        [
            {"penalty": {"p": 1, "lambda": 1e-3}},
            {"penalty": {"p": 0.5, "lambda": 1e-3}, "batch_size": 10},
            {"penalty": {"p": 1.5, "lambda": 1e-3}, "optimizer": {"name": "nesterov", "momentum": 0.8}, "eta": 0.5},
        ],
        10,
    ),
    ("linear-square-identity", [{"activation": "square", "output": "linear", "eta": 0.01}], 10),
    ("identity-dropout", [{"activation": "identity", "eta": 0.1, "dropout": 0.3, "hidden": [10, 10]}], 10),
]  # fmt: skip


def trained(data_dir, folder, runs, K, engine):
    from mlpsweep import evaluate, train
    from mlpsweep.nn.history import results_csv

    jobs = [
        train.Run(f"r{i}", 3 + i, {"epochs": 2, "batch_size": K, "hidden": [12], **st}, str(folder / f"r{i}"))
        for i, st in enumerate(runs)
    ]
    train.run(data_dir, jobs, name="m", engine=engine, track_gradients=True)
    out = []
    for job in jobs:
        model = Path(job.out_dir)
        evaluate.run(data_dir, model, model / "eval")
        out.append(
            (
                (model / "model.npz").read_bytes(),
                (model / "eval" / "predictions.npy").read_bytes(),
                results_csv((model / "history.csv").read_text()),
            )
        )
    return out


@pytest.fixture(scope="module")
def matrix_data(tmp_path_factory):
    from datagen import preprocessed

    return preprocessed(tmp_path_factory.mktemp("data"), 360, 60, 60)


@pytest.mark.parametrize("name,runs,K", MATRIX, ids=[m[0] for m in MATRIX])
def test_the_compiled_step_gives_the_reference_steps_bytes(matrix_data, tmp_path, name, runs, K, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="mlpsweep.nn.compiled"):
        compiled_runs = trained(matrix_data, tmp_path / "compiled", runs, K, "compiled")
    assert "engine: the compiled step" in caplog.text  # not the reference step twice
    reference_runs = trained(matrix_data, tmp_path / "reference", runs, K, "reference")
    for i, (got, want) in enumerate(zip(compiled_runs, reference_runs)):
        for what, a, b in zip(("model.npz", "predictions.npy", "history.csv"), got, want):
            assert a == b, f"{name} run {i}: {what} differs"


def test_every_built_in_activation_and_rule_has_a_compiled_kernel():
    from mlpsweep.nn import activations, optimizers

    assert set(activations.HIDDEN) | set(activations.OUTPUT) <= set(compiled.ACTIVATIONS)
    assert set(compiled.RULES) == set(optimizers.RULES.values())


def test_without_numba_the_reference_step_runs_and_says_so_in_one_line(matrix_data, tmp_path, monkeypatch, caplog):
    import logging

    monkeypatch.setattr(compiled, "available", lambda: False)
    with caplog.at_level(logging.INFO, logger="mlpsweep.nn.compiled"):
        got = trained(matrix_data, tmp_path / "no-numba", [{}], 10, "compiled")
    notices = [r for r in caplog.records if r.name == "mlpsweep.nn.compiled"]
    assert [(r.levelname, r.getMessage()) for r in notices] == [
        ("WARNING", "engine: the reference step (Numba cannot be imported; the same bytes)")
    ]
    assert got == trained(matrix_data, tmp_path / "compiled", [{}], 10, "compiled")


def test_a_rule_of_ones_own_runs_the_reference_step(matrix_data, tmp_path, monkeypatch, caplog):
    import logging

    from mlpsweep import plugins

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "rules"))
    monkeypatch.setattr(plugins, "_DECLARED", {"rmsprop"})
    with caplog.at_level(logging.INFO, logger="mlpsweep.nn.compiled"):
        trained(matrix_data, tmp_path / "own", [{"optimizer": {"name": "rmsprop"}, "eta": 0.01}], 10, "compiled")
    assert "engine: the reference step (the update rule 'rmsprop' is not built in; the same bytes)" in caplog.text


@pytest.mark.parametrize("name,runs,K", [MATRIX[0], MATRIX[3]], ids=[MATRIX[0][0], MATRIX[3][0]])
def test_native_arithmetic_runs_the_compiled_step_near_numpys(
    matrix_data, tmp_path, monkeypatch, name, runs, K, caplog
):
    """Native arithmetic trains in the compiled step too (float32 sums in the compiler's order): not NumPy's
    bytes — neither step promises native bytes — but the same training to float32's precision."""
    import io
    import logging

    monkeypatch.setenv("MLPSWEEP_ARITHMETIC", "native")
    with caplog.at_level(logging.INFO, logger="mlpsweep.nn.compiled"):
        compiled_runs = trained(matrix_data, tmp_path / "compiled", runs, K, "compiled")
    assert "engine: the compiled step" in caplog.text
    reference_runs = trained(matrix_data, tmp_path / "reference", runs, K, "reference")
    for (got, *_), (want, *_) in zip(compiled_runs, reference_runs):
        a, b = np.load(io.BytesIO(got)), np.load(io.BytesIO(want))
        assert got != want  # another order of sums: other bytes (so the compiled step did run)
        for key in b.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-3, atol=1e-4, err_msg=f"{name}: {key}")
