"""Training behaviour: learning, reproducibility, divergence, persistence, numerics."""

import pickle

import numpy as np
import pytest
from sgd_settings import recipe

from mlpsweep.settings import SettingsError

from mlpsweep.nn import (
    Diverged,
    History,
    LpPenalty,
    ModelFileError,
    Network,
    load_network,
    save_network,
    sgd,
    sparsity,
    train,
)
from mlpsweep.nn import activations as act
from mlpsweep.nn import step as step_module
from mlpsweep.nn.penalties import step as penalty_step


def blobs(rng, m=200):
    """Two well separated Gaussian clouds in 2-D."""
    labels = rng.integers(0, 2, m)
    centres = np.array([[-2.0, -2.0], [2.0, 2.0]])
    return centres[labels] + 0.5 * rng.standard_normal((m, 2)), labels


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_learns_separable_problem_to_full_training_accuracy(dtype):
    rng = np.random.default_rng(0)
    x, labels = blobs(rng)
    net = Network([2, 8, 2], dtype=dtype, rng=rng)
    hist = train(net, x, labels, recipe(epochs=30, batch_size=10, eta=3.0), rng)
    assert hist[-1]["train_accuracy"] == 1.0
    assert net.accuracy(x, labels) == 1.0


def test_one_hidden_layer_fits_sine():
    """Universal approximation in miniature: sup |Φ − sin| < 0.05 on [−π, π]."""
    x = np.linspace(-np.pi, np.pi, 512)[:, None]
    net = Network(
        [1, 20, 1], activation="tanh", output="linear", cost="quadratic", init="xavier", rng=np.random.default_rng(1)
    )
    train(net, x, np.sin(x), recipe(epochs=300, batch_size=16, eta=0.1), np.random.default_rng(2))
    grid = np.linspace(-np.pi, np.pi, 4001)[:, None]
    assert np.abs(net(grid) - np.sin(grid)).max() < 0.05


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_is_bit_identical(dtype):
    rng = np.random.default_rng(3)
    x, labels = blobs(rng, 120)
    runs = []
    for _ in range(2):
        net = Network([2, 6, 5, 2], dtype=dtype, rng=np.random.default_rng(7))
        cfg = recipe(epochs=3, batch_size=7, eta=1.0, dropout=0.2, penalty_p=1.0, penalty_lambda=1e-3)
        hist = train(net, x, labels, cfg, np.random.default_rng(8), validation=(x[:30], labels[:30]))
        runs.append((net.params.copy(), hist))
    assert runs[0][0].tobytes() == runs[1][0].tobytes()
    strip = lambda h: [{k: v for k, v in r.items() if "seconds" not in k} for r in h.records]  # noqa: E731
    assert strip(runs[0][1]) == strip(runs[1][1])


def test_different_seeds_differ():
    rng = np.random.default_rng(3)
    x, labels = blobs(rng, 50)
    a = Network([2, 3, 2], rng=np.random.default_rng(1))
    b = Network([2, 3, 2], rng=np.random.default_rng(2))
    assert not np.array_equal(a.params, b.params)  # the seed draws the initial weights
    # … and the batch order: the same start trained with two seeds ends elsewhere.
    c = a.copy()
    train(a, x, labels, recipe(epochs=1, batch_size=5, eta=1.0), np.random.default_rng(1))
    train(c, x, labels, recipe(epochs=1, batch_size=5, eta=1.0), np.random.default_rng(2))
    assert not np.array_equal(a.params, c.params)


def test_float32_and_float64_start_from_the_same_draws():
    a = Network([5, 4, 3], dtype="float64", rng=np.random.default_rng(1))
    b = Network([5, 4, 3], dtype="float32", rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.params.astype(np.float32), b.params)
    assert b.params.dtype == np.float32


@pytest.mark.parametrize("init,scale", [("normal", 1.0), ("xavier", 1 / np.sqrt(400)), ("he", np.sqrt(2 / 400))])
def test_initialisations(init, scale):
    net = Network([400, 300, 10], init=init, rng=np.random.default_rng(0))
    assert net.weights[0].std() == pytest.approx(scale, rel=0.02)
    if init == "he":
        assert not net.biases[0].any()
    else:
        assert net.biases[0].std() == pytest.approx(1.0, rel=0.2)


def test_history_has_every_column_and_csv_round_trips():
    rng = np.random.default_rng(1)
    x, labels = blobs(rng, 60)
    net = Network([2, 4, 3, 2], rng=rng)
    seen = []
    hist = train(
        net,
        x,
        labels,
        recipe(epochs=2, batch_size=5, eta=1.0),
        track_gradients=True,
        rng=rng,
        validation=(x[:20], labels[:20]),
        callback=lambda rec, state: seen.append((rec["epoch"], state.epoch)),
    )
    assert seen == [(1, 1), (2, 2)]
    rec = hist[-1]
    for key in (
        "train_cost",
        "train_accuracy",
        "val_cost",
        "val_accuracy",
        "grad_norm_1",
        "grad_norm_2",
        "grad_norm_3",
        "seconds",
        "eval_seconds",
        "penalty",
    ):
        assert rec[key] is not None and np.isfinite(rec[key]), key
    assert History.from_csv(hist.to_csv()) == hist


def test_gradient_norms_are_mean_bias_gradient_norms():
    """K = m (one step): the recorded norm is ‖(1/m) Σ ∂C/∂b_ℓ‖ at the start weights."""
    rng = np.random.default_rng(4)
    x, labels = blobs(rng, 40)
    net = Network([2, 5, 2], rng=rng)
    _, gb = net.copy().backprop(x, labels)
    # at initialisation, with no step taken, the same quantity
    at_init = sgd.gradient_norms(net, x, labels, batch_size=40)
    hist = train(
        net, x, labels, recipe(epochs=1, batch_size=40, eta=0.5), np.random.default_rng(0), track_gradients=True
    )
    for ell, g in enumerate(gb, start=1):
        assert hist[0][f"grad_norm_{ell}"] == pytest.approx(np.linalg.norm(g) / 40, rel=1e-12)
        assert at_init[ell - 1] == pytest.approx(np.linalg.norm(g) / 40, rel=1e-12)


def test_gradient_norms_are_opt_in():
    rng = np.random.default_rng(4)
    x, labels = blobs(rng, 40)
    hist = train(Network([2, 5, 2], rng=rng), x, labels, recipe(epochs=1, batch_size=8, eta=1.0), rng)
    assert not any(k.startswith("grad_norm_") for k in hist[0])


def test_gradient_norms_average_every_step_across_chunks(monkeypatch):
    """Several gather chunks and a short last batch: the norm is the mean over all steps."""
    # 8 rows of 2 features and 2 targets in float64: chunks of 6 rows (6, 6, 6, 2), batches 3, …, 3, 2
    monkeypatch.setattr(step_module, "GATHER_BYTES", 8 * (2 + 2) * 8)
    rng = np.random.default_rng(5)
    x, labels = blobs(rng, 20)
    net = Network([2, 5, 3, 2], rng=rng)
    ref = net.copy()
    hist = train(
        net, x, labels, recipe(epochs=1, batch_size=3, eta=0.5), np.random.default_rng(9), track_gradients=True
    )
    perm = np.random.default_rng(9).permutation(20)
    norms = []
    for start in range(0, 20, 3):
        batch = perm[start : start + 3]
        gw, gb = ref.backprop(x[batch], labels[batch])
        norms.append([np.linalg.norm(g) / len(batch) for g in gb])
        for p, g in zip(ref.weights + ref.biases, gw + gb):
            p -= 0.5 / len(batch) * g
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-12, atol=1e-14)
    for ell, expected in enumerate(np.mean(norms, axis=0), start=1):
        assert hist[0][f"grad_norm_{ell}"] == pytest.approx(expected, rel=1e-12)


def test_divergence_raises_with_epoch_and_last_finite_cost():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 5)) * 10
    labels = rng.integers(0, 3, 100)
    net = Network([5, 10, 3], activation="relu", output="linear", init="he", rng=rng)
    with pytest.raises(Diverged) as info:
        train(net, x, labels, recipe(epochs=20, batch_size=10, eta=1e4), rng)
    err = info.value
    assert err.epoch >= 1
    assert err.last_finite_cost is None or np.isfinite(err.last_finite_cost)
    assert len(err.history) == err.epoch - 1
    assert "diverged at epoch" in str(err)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "identity", "linear", "softmax"])
def test_activations_are_finite_for_huge_inputs(name, dtype):
    z = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], dtype=dtype)
    a = {**act.HIDDEN, **act.OUTPUT}[name](z)
    assert a.dtype == dtype
    assert np.all(np.isfinite(a))
    if name == "sigmoid":
        np.testing.assert_allclose(a[0], [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-15)
        np.testing.assert_array_less(-1e-300, act.HIDDEN["sigmoid"].derivative(a))
        assert act.HIDDEN["sigmoid"].derivative(np.array([0.5])).max() == 0.25


def test_costs_are_finite_for_saturated_outputs():
    z = np.array([[-1000.0, 1000.0], [1000.0, -1000.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0]])
    from mlpsweep.nn import costs

    ce = costs.get("cross_entropy").values(z, act.OUTPUT["sigmoid"](z), y)
    ll = costs.get("log_likelihood").values(z, act.OUTPUT["softmax"](z), y)
    np.testing.assert_allclose(ce, [2000.0, 0.0])
    np.testing.assert_allclose(ll, [2000.0, 0.0])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(output="softmax", cost="quadratic"), "needs output 'linear' or 'sigmoid'"),
        (dict(output="linear", cost="cross_entropy"), "needs output 'sigmoid'"),
        (dict(output="sigmoid", cost="log_likelihood"), "needs output 'softmax'"),
        (dict(activation="heaviside"), "unknown hidden activation"),
        (dict(output="tanh"), "unknown output layer"),
        (dict(cost="hinge"), "unknown cost"),
        (dict(dtype="float16"), "unknown dtype"),
        (dict(init="zeros"), "unknown init"),
    ],
)
def test_invalid_network_configurations(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Network([3, 2, 2], rng=np.random.default_rng(0), **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(eta=0),
        dict(eta=-1.0),
        dict(batch_size=0),
        dict(epochs=0),
        dict(dropout=1.0),
        dict(dropout=-0.1),
        dict(penalty_p=0.0),
        dict(penalty_lambda=-1.0),
        dict(eta=float("nan")),
    ],
)
def test_invalid_training_settings_are_refused_by_the_schema(kwargs):
    with pytest.raises(SettingsError):
        recipe(**{"epochs": 1, "batch_size": 10, "eta": 1.0, **kwargs})


@pytest.mark.parametrize("p", [1.0, 0.5])
def test_p_at_most_one_makes_exact_zeros(p):
    rng = np.random.default_rng(0)
    x, labels = blobs(rng, 200)
    net = Network([2, 30, 2], init="xavier", rng=rng)
    cfg = recipe(epochs=20, batch_size=10, eta=1.0, penalty_p=p, penalty_lambda=0.02)
    train(net, x, labels, cfg, rng)
    s = sparsity(net.weights)
    assert s["exactly_zero"] > 0.3 * s["weights"]
    assert net.accuracy(x, labels) > 0.95


def test_p_two_shrinks_but_makes_no_zeros():
    rng = np.random.default_rng(0)
    x, labels = blobs(rng, 200)
    plain = Network([2, 30, 2], init="xavier", rng=np.random.default_rng(1))
    decayed = plain.copy()
    train(plain, x, labels, recipe(epochs=10, batch_size=10, eta=1.0), np.random.default_rng(2))
    train(
        decayed,
        x,
        labels,
        recipe(epochs=10, batch_size=10, eta=1.0, penalty_p=2.0, penalty_lambda=0.01),
        np.random.default_rng(2),
    )
    assert np.abs(decayed.weights[0]).sum() < np.abs(plain.weights[0]).sum()
    assert sparsity(decayed.weights)["exactly_zero"] == 0


def test_penalty_gradient_is_zero_at_zero():
    pen = LpPenalty(0.5, 1.0)
    g = pen.gradient(np.array([0.0, 0.25, -0.25]))
    np.testing.assert_allclose(g, [0.0, 0.5 * 0.25**-0.5, -0.5 * 0.25**-0.5])


def test_dropout_changes_training_but_not_inference():
    rng = np.random.default_rng(0)
    x, labels = blobs(rng, 100)
    a = Network([2, 20, 2], rng=np.random.default_rng(1))
    b = a.copy()
    train(a, x, labels, recipe(epochs=1, batch_size=10, eta=1.0), np.random.default_rng(2))
    train(b, x, labels, recipe(epochs=1, batch_size=10, eta=1.0, dropout=0.5), np.random.default_rng(2))
    assert not np.array_equal(a.params, b.params)
    # Inference applies no masks and no rescaling (inverted dropout scales during training only).
    hidden = 0.5 + 0.5 * np.tanh(0.5 * (x @ b.weights[0].T + b.biases[0]))
    expected = 0.5 + 0.5 * np.tanh(0.5 * (hidden @ b.weights[1].T + b.biases[1]))
    np.testing.assert_allclose(b(x), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_save_load_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(0)
    net = Network([4, 3, 2], activation="relu", output="softmax", cost="log_likelihood", dtype=dtype, rng=rng)
    path = tmp_path / "model.npz"
    save_network(net, path, extra={"training": {"eta": 0.1}})
    loaded, meta = load_network(path)
    x = rng.standard_normal((10, 4))
    np.testing.assert_array_equal(loaded(x), net(x))
    assert meta["training"] == {"eta": 0.1}
    assert loaded.config() == net.config()
    assert list(tmp_path.iterdir()) == [path]  # no temporary left behind


def test_load_refuses_pickle_and_truncation(tmp_path):
    net = Network([4, 3, 2], rng=np.random.default_rng(0))
    good = tmp_path / "model.npz"
    save_network(net, good)
    pickled = tmp_path / "pickled.npz"
    pickled.write_bytes(pickle.dumps({"params": net.params}))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for bad in (pickled, truncated, objects, tmp_path / "missing.npz"):
        with pytest.raises(ModelFileError, match=str(bad.name)):
            load_network(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, params=net.params)
    with pytest.raises(ModelFileError, match="lacks"):
        load_network(foreign)


def test_momentum_matches_the_heavy_ball_recursion():
    rng = np.random.default_rng(0)
    x, labels = blobs(rng, 30)
    net = Network([2, 4, 2], rng=np.random.default_rng(1))
    ref = net.copy()
    train(net, x, labels, recipe(epochs=1, batch_size=10, eta=0.5, momentum=0.9), np.random.default_rng(2))
    order = np.random.default_rng(2).permutation(30)
    v = np.zeros_like(ref.params)
    for start in range(0, 30, 10):
        idx = order[start : start + 10]
        gw, gb = ref.backprop(x[idx], labels[idx])
        g = np.concatenate([a.ravel() for a in gw] + [b.ravel() for b in gb])
        v = 0.9 * v + 0.5 / 10 * g
        ref.params -= v
    np.testing.assert_allclose(net.params, ref.params, rtol=1e-12, atol=1e-14)


def test_eta_decay_schedule():
    from mlpsweep.nn.optimizers import make_rule

    cfg = recipe(epochs=3, batch_size=10, eta=0.4, eta_decay=0.5)
    rule = make_rule(cfg.rule, eta=cfg.eta, eta_decay=cfg.eta_decay, n_params=1, n_weights=1, dtype=np.float64)
    etas = []
    for epoch in (1, 2, 3):
        rule.start_epoch(epoch)
        etas.append(float(rule.eta))
    assert etas == [0.4, 0.2, 0.1]
    with pytest.raises(ValueError, match="momentum cannot be combined"):
        recipe(epochs=1, batch_size=10, eta=1.0, momentum=0.9, penalty_p=1.0, penalty_lambda=0.1)


def test_l1_step_is_soft_thresholding():
    w = np.array([0.5, -0.5, 0.01, 0.0, -0.015])
    data = np.array([0.0, 0.0, 0.0, 0.0, -0.03])  # the last weight's data step crosses zero
    penalty_step(LpPenalty(1.0, 0.02), w, data, 1.0, np.empty_like(w))
    np.testing.assert_allclose(w, [0.48, -0.48, 0.0, 0.0, 0.0], atol=1e-15)
    w = np.array([0.25, 0.0])
    with np.errstate(divide="ignore"):
        penalty_step(LpPenalty(0.5, 0.1), w, np.array([0.0, -0.1]), 1.0, np.empty_like(w))
    np.testing.assert_allclose(w, [0.25 - 0.1 * 0.5 * 0.25**-0.5, 0.0])  # a zero weight stays zero


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("p", [1.0, 0.5, 0.3, 0.75])
def test_the_fast_penalty_step_equals_the_textbook_form(p, dtype, monkeypatch):
    """The training step computes u − clip(u, −t, t); the textbook form is sgn(u)·max(|u| − t, 0).  Equal values
    (a stopped weight may be +0.0 where the textbook gives −0.0) for p = 1 and any p with a general power; for
    p = ½ (1/sqrt instead of a power) within round-off.  Weights at zero, crossing zero and far from it."""
    from mlpsweep.nn.penalties import reference_step

    # the textbook form takes NumPy's own power; exact arithmetic rounds |w|^(p−1) once (test_exact holds it)
    monkeypatch.setenv("MLPSWEEP_ARITHMETIC", "native")
    rng = np.random.default_rng(int(10 * p))
    w = (rng.standard_normal(5000) * 0.05).astype(dtype)
    w[::17] = 0.0
    data = (rng.standard_normal(5000) * 0.01).astype(dtype)
    pen = LpPenalty(p, 1e-2)
    fast, slow = w.copy(), w.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        penalty_step(pen, fast, data.copy(), 0.5, np.empty_like(w))
        reference_step(pen, slow, data, 0.5)
    assert fast.dtype == dtype
    zeros = slow == 0
    assert 200 < zeros.sum() < 4900  # the case has weights stopped at zero and weights that move
    if p == 0.5:  # within a few units in the last place of the terms, |u| and t, that the step subtracts
        moving = w != 0
        u = (w - data).astype(np.float64)[moving]
        t = 0.5 * 1e-2 * p * np.abs(w[moving].astype(np.float64)) ** (p - 1)
        bound = 4 * np.finfo(dtype).eps * (np.abs(u) + t)
        assert (np.abs(fast[moving].astype(np.float64) - slow[moving]) <= bound).all()
        assert (fast[~moving] == 0).all()  # a weight at zero stays there
    else:
        np.testing.assert_array_equal(fast, slow)  # == : −0.0 equals +0.0


def test_l1_training_with_the_fast_step_equals_the_textbook_step(monkeypatch):
    """Twenty epochs of an L1 run: the same values (==) as with the textbook step, every weight."""
    from mlpsweep.nn import penalties
    from mlpsweep.nn.step import Steps

    def textbook(self, s):  # the data step, then sgn(u)·max(|u| − t, 0) on the weights
        params, grad, rule = self.P[s], self.G[s], self.rules[s]
        np.multiply(grad, rule.eta, out=grad)
        penalties.reference_step(self.penalties[s], params[: self.nw], grad[: self.nw], float(rule.eta))
        np.subtract(params[self.nw :], grad[self.nw :], out=params[self.nw :])

    runs = []
    for use_textbook in (False, True):
        if use_textbook:
            monkeypatch.setattr(Steps, "update", textbook)
        rng = np.random.default_rng(0)
        x, labels = blobs(rng, 200)
        net = Network([2, 30, 2], init="xavier", rng=rng)
        train(net, x, labels, recipe(epochs=20, batch_size=10, eta=1.0, penalty_p=1.0, penalty_lambda=0.02), rng)
        runs.append(net.params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    assert (runs[0] == 0).sum() > 10


def test_monitoring_by_need_changes_the_history_never_the_weights():
    """A sample of training rows and the test set only where it is read: the same weights, byte for byte; the
    same validation numbers; test numbers at the best-validation epoch (its weights kept in memory) and the
    last, equal to full monitoring's there, None elsewhere; training numbers those of the sampled rows."""
    from mlpsweep.nn.monitoring import monitored_rows
    from mlpsweep.nn.sgd import train_stack

    rng = np.random.default_rng(3)
    x, labels = blobs(rng, 300)
    xv, yv = blobs(rng, 80)
    xt, yt = blobs(rng, 60)
    cfg = recipe(epochs=12, batch_size=10, eta=0.5)
    runs = {}
    for mode, kw in (("full", {}), ("need", {"monitor_rows": 100, "test_by_need": True})):
        net = Network([2, 6, 2], rng=np.random.default_rng(1))
        (h,) = train_stack(
            [net], x, labels, [cfg], [np.random.default_rng(2)], validation=(xv, yv), test=(xt, yt), **kw
        )
        runs[mode] = (net, h)
    (full_net, full), (need_net, need) = runs["full"], runs["need"]
    assert full_net.params.tobytes() == need_net.params.tobytes()
    assert full.column("val_accuracy") == need.column("val_accuracy")
    best = int(np.argmax(need.column("val_accuracy")))  # what evaluate.py reads: the first best epoch
    assert 0 < best < cfg.epochs - 1  # the case has a best epoch that is neither the first nor the last
    # and epochs after the first that were a new best then but are not the best in the end
    assert any(r["val_accuracy"] > max(full.column("val_accuracy")[:i]) for i, r in enumerate(full.records[:best]) if i)
    for i, (f, n) in enumerate(zip(full.records, need.records)):
        tested = i in (best, cfg.epochs - 1)
        assert (n["test_accuracy"], n["test_cost"]) == (
            (f["test_accuracy"], f["test_cost"]) if tested else (None, None)
        )
    rows = monitored_rows(300, 100)
    assert len(rows) == 100 and (np.diff(rows) > 0).all() and np.array_equal(rows, monitored_rows(300, 100))
    assert monitored_rows(300, 300) is None and monitored_rows(300, None) is None and monitored_rows(300, 0) is None
    assert need[-1]["train_accuracy"] == need_net.accuracy(x[rows], labels[rows])
    assert full[-1]["train_accuracy"] == full_net.accuracy(x, labels)


def test_a_run_that_diverges_keeps_the_test_numbers_of_its_best_epoch():
    """The test set by need, in a stack whose second run diverges at epoch 5: that run's best-validation epoch
    (before it diverged) has the test numbers full monitoring gives it; the other run is as it is alone."""
    from mlpsweep.nn.sgd import train_stack

    rng = np.random.default_rng(3)
    x, labels = blobs(rng, 300)
    xv, yv = blobs(rng, 80)
    xt, yt = blobs(rng, 60)
    cfg = recipe(epochs=8, batch_size=10, eta=0.5)

    def poison(records, state):  # the second run's weights become non-finite after epoch 4
        if state.epoch == 4:
            state.nets[1].params[0] = np.inf

    out = {}
    for mode, kw in (("full", {}), ("need", {"test_by_need": True})):
        nets = [Network([2, 6, 2], rng=np.random.default_rng(s)) for s in (1, 2)]
        out[mode] = train_stack(
            nets,
            x,
            labels,
            [cfg, cfg],
            [np.random.default_rng(s) for s in (5, 6)],
            validation=(xv, yv),
            test=(xt, yt),
            callback=poison,
            **kw,
        )
    full, need = out["full"][1], out["need"][1]
    assert isinstance(need, Diverged) and need.epoch == 5 and len(need.history) == 4
    best = int(np.argmax(need.history.column("val_accuracy")))
    for i, (f, n) in enumerate(zip(full.history.records, need.history.records)):
        assert (n["test_accuracy"], n["test_cost"]) == (
            (f["test_accuracy"], f["test_cost"]) if i == best else (None, None)
        )
    assert out["need"][0].column("val_accuracy") == out["full"][0].column("val_accuracy")
