"""The compiled exact product (mlpsweep.nn.compiled, Numba): the bytes of exact.matmul, whatever order and
instructions it sums with — random shapes and magnitudes over the whole float32 range, every boundary class,
special values."""

import numpy as np
import pytest
from test_exact import BOUNDARIES

from mlpsweep.nn import compiled, exact


def test_numba_is_there():
    """A dependency of the project: without it the NumPy code runs (the same bytes), slower."""
    assert compiled.available()


def same(a, b):
    x, y = exact.matmul(a, b), compiled.matmul(a, b)
    assert x.tobytes() == y.tobytes(), np.argwhere(x.view(np.uint32) != y.view(np.uint32))[:5]


@pytest.mark.parametrize("seed", range(6))
def test_random_products_are_byte_equal_to_the_numpy_code(seed):
    rng = np.random.default_rng(seed)
    for _ in range(30):
        m, n, p = (int(v) for v in rng.integers(1, 50, 3))
        a = (rng.standard_normal((m, n)) * np.exp(rng.uniform(-40, 40, (m, n)))).astype(np.float32)
        a[rng.random((m, n)) < 0.3] = 0  # zeros are skipped by the kernel: they add nothing, bound included
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
    x, y = exact.matmul(a, b), compiled.matmul(a, b)
    assert np.array_equal(x.view(np.uint32), y.view(np.uint32)) or (
        np.array_equal(np.isnan(x), np.isnan(y)) and np.array_equal(x[~np.isnan(x)], y[~np.isnan(y)])
    )
