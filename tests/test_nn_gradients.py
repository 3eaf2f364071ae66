"""Backprop is exact: finite differences, and the lecture's per-sample algorithm."""

import itertools
import zlib

import numpy as np
import pytest
from sgd_settings import recipe
from hypothesis import given, settings
from hypothesis import strategies as st
from lecture_reference import LectureNetwork

from mlpsweep.nn import LpPenalty, Network, train
from mlpsweep.nn import activations as act
from mlpsweep.nn.costs import PAIRINGS

HIDDEN = list(act.HIDDEN)  # every activation the training core has
PAIRS = [(out, cost) for cost, outs in PAIRINGS.items() for out in outs]
PENALTIES = [None, 2.0, 1.5, 1.0]


def make_batch(rng, net, m=7, labels=True):
    x = rng.standard_normal((m, net.sizes[0]))
    if labels:
        return x, rng.integers(0, net.sizes[-1], m)
    return x, rng.random((m, net.sizes[-1]))


def objective(net, x, y, penalty, masks):
    value = net.total_cost(x, y, masks)
    if penalty is not None:
        value += penalty.value(net.weights)
    return value


def numeric_gradient(net, x, y, penalty, masks, h=1e-6):
    grad = np.empty_like(net.params)
    for i in range(net.n_params):
        old = net.params[i]
        net.params[i] = old + h
        up = objective(net, x, y, penalty, masks)
        net.params[i] = old - h
        down = objective(net, x, y, penalty, masks)
        net.params[i] = old
        grad[i] = (up - down) / (2 * h)
    return grad


def analytic_gradient(net, x, y, penalty, masks):
    gw, gb = net.backprop(x, y, masks)
    if penalty is not None:
        gw = [g + penalty.gradient(w) for g, w in zip(gw, net.weights)]
    return np.concatenate([g.ravel() for g in gw] + [g.ravel() for g in gb])


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize(
    "hidden,pair,p,dropout",
    [(h, pr, p, d) for h, pr, p in itertools.product(HIDDEN, PAIRS, PENALTIES) for d in (False, True)],
    ids=lambda v: str(v),
)
def test_finite_differences(hidden, pair, p, dropout):
    output, cost = pair
    rng = np.random.default_rng(zlib.crc32(repr((hidden, pair, p, dropout)).encode()))
    net = Network([4, 5, 3, 3], activation=hidden, output=output, cost=cost, init="xavier", rng=rng)
    x, y = make_batch(rng, net)
    masks = None
    if dropout:
        keep = 1 / (1 - 0.4)
        masks = [(rng.random((x.shape[0], n)) >= 0.4) * keep for n in net.sizes[1:-1]]
    penalty = None if p is None else LpPenalty(p, 0.03)
    num = numeric_gradient(net, x, y, penalty, masks)
    ana = analytic_gradient(net, x, y, penalty, masks)
    assert relative_error(num, ana) <= 1e-6


@settings(max_examples=30, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=5),
    m=st.integers(1, 6),
    pair=st.sampled_from(PAIRS),
    hidden=st.sampled_from(["sigmoid", "tanh"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_finite_differences_random_architectures(sizes, m, pair, hidden, seed):
    output, cost = pair
    if output == "softmax" and sizes[-1] < 2:
        sizes = sizes[:-1] + [2]
    rng = np.random.default_rng(seed)
    net = Network(sizes, activation=hidden, output=output, cost=cost, rng=rng)
    x, y = make_batch(rng, net, m=m, labels=output != "linear")
    num = numeric_gradient(net, x, y, None, None)
    ana = analytic_gradient(net, x, y, None, None)
    assert relative_error(num, ana) <= 1e-6 or np.abs(num - ana).max() < 1e-9


@pytest.mark.parametrize("hidden", ["sigmoid", "relu", "tanh", "identity"])
@pytest.mark.parametrize("output", ["linear", "sigmoid"])
def test_matrix_form_equals_per_sample_reference(hidden, output):
    rng = np.random.default_rng(3)
    net = Network([6, 5, 4, 3], activation=hidden, output=output, cost="quadratic", rng=rng)
    x = rng.standard_normal((9, 6))
    y = np.eye(3)[rng.integers(0, 3, 9)]
    gw, gb = net.backprop(x, y)
    ref = LectureNetwork(net.weights, net.biases, hidden, output)
    rw, rb = ref.batch_gradient(x, y)
    for g, r in zip(gw, rw):
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)
    for g, r in zip(gb, rb):
        np.testing.assert_allclose(g, r.ravel(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch_size", [1, 4, 10, 37])
def test_one_sgd_epoch_equals_reference(batch_size):
    """Same weights, same batch order: the same weights after one epoch (K=37 leaves a short batch)."""
    rng = np.random.default_rng(5)
    x = rng.random((37 * 2 + 5, 8))
    labels = rng.integers(0, 4, x.shape[0])
    net = Network([8, 6, 5, 4], rng=rng)
    ref = LectureNetwork(net.weights, net.biases)
    order = np.random.default_rng(11).permutation(x.shape[0])
    train(net, x, labels, recipe(epochs=1, batch_size=batch_size, eta=3.0), np.random.default_rng(11))
    ref.sgd_epoch(x, np.eye(4)[labels], order, batch_size, 3.0)
    for w, r in zip(net.weights, ref.weights):
        np.testing.assert_allclose(w, r, rtol=1e-12, atol=1e-12)
    for b, r in zip(net.biases, ref.biases):
        np.testing.assert_allclose(b, r.ravel(), rtol=1e-12, atol=1e-12)


def test_gd_is_batch_size_m():
    """K = m: one step per epoch with the full gradient."""
    rng = np.random.default_rng(8)
    x = rng.random((20, 3))
    labels = rng.integers(0, 2, 20)
    net = Network([3, 4, 2], rng=rng)
    expected = net.copy()
    gw, gb = expected.backprop(x, labels)
    for w, g in zip(expected.weights, gw):
        w -= 0.5 / 20 * g
    for b, g in zip(expected.biases, gb):
        b -= 0.5 / 20 * g
    train(net, x, labels, recipe(epochs=1, batch_size=20, eta=0.5), np.random.default_rng(0))
    np.testing.assert_allclose(net.params, expected.params, rtol=1e-13, atol=1e-14)


def test_training_step_gradient_matches_backprop_with_penalty_and_dropout():
    """The fast loop's step equals η·(backprop/|B| + penalty gradient) for the masks it drew."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    labels = rng.integers(0, 3, 5)
    net = Network([4, 6, 3], activation="relu", output="softmax", cost="log_likelihood", init="he", rng=rng)
    before = net.copy()
    cfg = recipe(epochs=1, batch_size=5, eta=0.1, penalty_p=1.5, penalty_lambda=0.01, dropout=0.3)
    gen = np.random.default_rng(4)
    train(net, x, labels, cfg, gen)
    # Replay the generator: permutation first, then one mask per hidden layer.
    replay = np.random.default_rng(4)
    order = replay.permutation(5)
    u = replay.random((5, 6))
    masks = [(u >= 0.3) / 0.7]
    gw, gb = before.backprop(x[order], labels[order], masks)
    pen = LpPenalty(1.5, 0.01)
    for w, g, w0 in zip(net.weights, gw, before.weights):
        np.testing.assert_allclose(w, w0 - 0.1 * (g / 5 + pen.gradient(w0)), rtol=1e-12, atol=1e-14)
    for b, g, b0 in zip(net.biases, gb, before.biases):
        np.testing.assert_allclose(b, b0 - 0.1 * g / 5, rtol=1e-12, atol=1e-14)
