"""Stacked training equals training each run alone, bit for bit."""

import numpy as np
import pytest
from sgd_settings import recipe

from mlpsweep.nn import Diverged, Network, train, train_stack


def data(m=230, d=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((m, d))
    labels = (x[:, :classes] + 0.3 * rng.standard_normal((m, classes))).argmax(axis=1)
    return x, labels


def strip(h):
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in h.records]


def solo_and_stacked(specs, dtype, sizes=(12, 9, 7, 4), **net_kw):
    x, labels = data()
    xv, lv = data(m=40, seed=1)
    solo, stacked_nets = [], []
    for seed, cfg in specs:
        solo.append(Network(list(sizes), dtype=dtype, rng=np.random.default_rng(seed), **net_kw))
        stacked_nets.append(Network(list(sizes), dtype=dtype, rng=np.random.default_rng(seed), **net_kw))
    solo_out = []
    for net, (seed, cfg) in zip(solo, specs):
        try:
            solo_out.append(train(net, x, labels, cfg, np.random.default_rng(seed + 100), validation=(xv, lv)))
        except Diverged as exc:
            solo_out.append(exc)
    stacked_out = train_stack(
        stacked_nets,
        x,
        labels,
        [c for _, c in specs],
        [np.random.default_rng(seed + 100) for seed, _ in specs],
        validation=(xv, lv),
    )
    return solo, solo_out, stacked_nets, stacked_out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("S", [1, 2, 3])
def test_stacked_equals_solo_bit_for_bit(dtype, S):
    # K = 16 leaves a short last batch (230 = 14·16 + 6); runs differ in η, decay and dropout
    specs = [
        (s, recipe(epochs=3, batch_size=16, eta=0.5 + 0.25 * s, eta_decay=1.0 - 0.1 * s, dropout=0.2 * (s % 2)))
        for s in range(S)
    ]
    solo, solo_out, stacked, stacked_out = solo_and_stacked(specs, dtype)
    for a, b, ha, hb in zip(solo, stacked, solo_out, stacked_out):
        assert a.params.tobytes() == b.params.tobytes()
        assert strip(ha) == strip(hb)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stacked_with_momentum_and_penalties(dtype):
    specs = [
        (1, recipe(epochs=2, batch_size=10, eta=0.3, momentum=0.9)),
        (2, recipe(epochs=2, batch_size=10, eta=0.3, penalty_p=1.0, penalty_lambda=1e-3)),
        (3, recipe(epochs=2, batch_size=10, eta=0.3, penalty_p=0.5, penalty_lambda=1e-4, dropout=0.5)),
        (4, recipe(epochs=2, batch_size=10, eta=0.3, penalty_p=2.0, penalty_lambda=1e-3, momentum=0.5)),
    ]
    solo, solo_out, stacked, stacked_out = solo_and_stacked(
        specs, dtype, activation="relu", output="softmax", cost="log_likelihood", init="he"
    )
    for a, b, ha, hb in zip(solo, stacked, solo_out, stacked_out):
        assert a.params.tobytes() == b.params.tobytes()
        assert strip(ha) == strip(hb)


def test_a_diverging_run_leaves_the_others_unchanged():
    specs = [
        (1, recipe(epochs=3, batch_size=10, eta=0.5)),
        (2, recipe(epochs=3, batch_size=10, eta=1e6)),  # diverges
        (3, recipe(epochs=3, batch_size=10, eta=0.8)),
    ]
    solo, solo_out, stacked, stacked_out = solo_and_stacked(specs, "float64", output="linear")
    assert isinstance(solo_out[1], Diverged) and isinstance(stacked_out[1], Diverged)
    assert stacked_out[1].epoch == solo_out[1].epoch
    for i in (0, 2):
        assert solo[i].params.tobytes() == stacked[i].params.tobytes()
        assert strip(solo_out[i]) == strip(stacked_out[i])


def test_runs_that_cannot_stack_are_refused():
    a = Network([4, 3, 2], rng=np.random.default_rng(0))
    b = Network([4, 5, 2], rng=np.random.default_rng(0))
    cfg = recipe(epochs=1, batch_size=5, eta=1.0)
    x, y = np.zeros((10, 4)), np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match="sizes"):
        train_stack([a, b], x, y, [cfg, cfg], [np.random.default_rng(0)] * 2)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stacked_equals_solo_at_mnist_shapes(dtype):
    """[784,30,10] at K = 10 and 128: the BLAS kernels of real runs, not just small ones."""
    rng = np.random.default_rng(5)
    x = rng.random((600, 784))
    labels = rng.integers(0, 10, 600)
    for K in (10, 128):
        specs = [(s, recipe(epochs=1, batch_size=K, eta=3.0 / (s + 1))) for s in range(4)]
        solo = [Network([784, 30, 10], dtype=dtype, rng=np.random.default_rng(s)) for s, _ in specs]
        both = [Network([784, 30, 10], dtype=dtype, rng=np.random.default_rng(s)) for s, _ in specs]
        for net, (s, cfg) in zip(solo, specs):
            train(net, x, labels, cfg, np.random.default_rng(s + 7))
        train_stack(both, x, labels, [c for _, c in specs], [np.random.default_rng(s + 7) for s, _ in specs])
        for a, b in zip(solo, both):
            assert a.params.tobytes() == b.params.tobytes(), K
