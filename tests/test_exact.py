"""Correctly rounded float32 products (mlpsweep.nn.exact): every element the exact dot product rounded once,
against an independent rounding of the exact rational value; the same bits in any summation order."""

import math
from fractions import Fraction

import numpy as np
import pytest

from mlpsweep.nn import exact, exact_functions


def nearest_float32(x: Fraction) -> np.float32:
    """The float32 nearest ``x`` (ties to the even significand), found among the neighbours of a first guess:
    a rounding written apart from exact.round_to_float32's."""
    guess = np.float32(float(x))
    candidates = {guess, np.nextafter(guess, np.float32(np.inf)), np.nextafter(guess, np.float32(-np.inf))}
    finite = [c for c in candidates if np.isfinite(c)]
    best = min(abs(Fraction(float(c)) - x) for c in finite)
    tied = [c for c in finite if abs(Fraction(float(c)) - x) == best]
    return min(tied, key=lambda c: int(np.array(c).view(np.uint32)) & 1)


def fractions(rng, n):
    out = []
    for _ in range(n):
        e = int(rng.integers(-155, 30))
        m = int(rng.integers(1, 2**40))
        out.append(Fraction(m) * Fraction(2) ** (e - 40) * (1 if rng.random() < 0.5 else -1))
    return out


def test_rounding_to_float32_is_to_nearest_ties_to_even():
    rng = np.random.default_rng(0)
    cases = fractions(rng, 3000)
    # exact midpoints between neighbouring float32 numbers, normal and subnormal, and the smallest values
    for f in (1.0, 1.5, 3.0e-39, 1.0e-45, 2.0**-126, 1.0e38):
        a = np.float32(f)
        b = np.nextafter(a, np.float32(np.inf))
        cases += [(Fraction(float(a)) + Fraction(float(b))) / 2, -(Fraction(float(a)) + Fraction(float(b))) / 2]
    cases += [Fraction(2) ** -150, Fraction(3) * Fraction(2) ** -151, Fraction(2) ** -151]
    for x in cases:
        got, want = exact.round_to_float32(x), nearest_float32(x)
        assert np.array(got).view(np.uint32) == np.array(want).view(np.uint32), x


def reference(a, b):
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32)
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            out[i, j] = nearest_float32(exact.exact_dot(a[i], b[:, j]))
    return out


@pytest.mark.parametrize("shape", [(6, 40, 5), (3, 200, 4), (10, 1, 7)])
def test_every_element_is_the_exact_dot_product_rounded_once(shape):
    m, k, n = shape
    rng = np.random.default_rng(k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = (rng.standard_normal((k, n)) * np.exp(rng.uniform(-20, 20, (k, n)))).astype(np.float32)
    got = exact.matmul(a, b)
    assert got.view(np.uint32).tolist() == reference(a, b).view(np.uint32).tolist()


def test_ties_and_cancellation_fall_back_to_exact_arithmetic():
    tiny = np.float32(2.0**-24)
    # 1 + 2⁻²⁴ is the midpoint of 1 and 1 + 2⁻²³: ties to even give 1; 1 + 3·2⁻²⁴ rounds up to 1 + 2⁻²²
    a = np.array([[1.0, tiny, 0.0], [1.0, tiny, tiny], [1e8, 1.0, -1e8], [1.0, -1.0, 0.0]], dtype=np.float32)
    b = np.array([[1.0], [1.0], [1.0]], dtype=np.float32)
    b2 = np.array([[1.0], [3.0], [0.0]], dtype=np.float32)
    counter = exact.Counter()
    got = exact.matmul(a, b, counter=counter)
    assert got[:, 0].tolist() == [1.0, 1.0 + 2.0**-23, 1.0, 0.0]
    assert np.array(got[3, 0]).view(np.uint32) == 0  # an exact zero is +0
    assert exact.matmul(a[:1], b2)[0, 0] == np.float32(1.0 + 2.0**-22)
    assert counter.fallbacks >= 1


def test_the_same_bits_in_any_summation_order():
    """Reordering the k terms changes a float32 (or float64) product's last bits; never the exact one's."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((30, 784)).astype(np.float32)
    b = rng.standard_normal((784, 10)).astype(np.float32)
    base = exact.matmul(a, b)
    changed = 0
    for seed in range(5):
        p = np.random.default_rng(seed).permutation(784)
        assert exact.matmul(a[:, p], b[p, :]).view(np.uint32).tolist() == base.view(np.uint32).tolist()
        changed += int(((a[:, p] @ b[p, :]) != (a @ b)).any())
    assert changed  # the plain float32 product does depend on the order here


def test_batched_products_and_an_output_buffer():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4, 50)).astype(np.float32)
    b = rng.standard_normal((3, 50, 6)).astype(np.float32)
    out = np.empty((3, 4, 6), dtype=np.float32)
    assert exact.matmul(a, b, out=out) is out
    for s in range(3):
        assert out[s].view(np.uint32).tolist() == exact.matmul(a[s], b[s]).view(np.uint32).tolist()
    with pytest.raises(TypeError, match="float32 operands"):
        exact.matmul(a.astype(np.float64), b)


def test_fallbacks_are_rare_on_training_shaped_products():
    rng = np.random.default_rng(7)
    counter = exact.Counter()
    for _ in range(20):
        exact.matmul(
            rng.random((10, 784), dtype=np.float32), rng.standard_normal((784, 30)).astype(np.float32), counter=counter
        )
    assert counter.fallbacks <= 0.01 * 20 * 300
    assert math.isfinite(exact.gamma(784)) and exact.gamma(784) > 784 * 2.0**-53


# -- functions, costs and powers: each element the exact value rounded once ---------------------------------


def hard_inputs(rng, n):
    """float32 arguments across the whole range: small and huge, zeros of both signs, subnormals, ±inf."""
    z = (rng.standard_normal(n) * np.exp(rng.uniform(-12, 5, n))).astype(np.float32)
    special = [0.0, -0.0, 1e-45, -1e-45, 1e-40, 2.0**-126, -88.0, -87.3, -103.9, -104.0, 50.0, 88.0, -1e30, 1e30]
    return np.concatenate([z, np.array(special, dtype=np.float32)])


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
def test_functions_are_the_exact_values_rounded_once(name):
    rng = np.random.default_rng(11)
    z = hard_inputs(rng, 4000)
    got = exact_functions.function(name, z)
    want = [(exact_functions.sigmoid_exact if name == "sigmoid" else exact_functions.tanh_exact)(float(t)) for t in z]
    assert got.view(np.uint32).tolist() == np.array(want, dtype=np.float32).view(np.uint32).tolist()


def test_the_decimal_fallbacks_agree_with_an_independent_rounding_of_the_exact_value():
    """σ(z) for a z where e^{−z} is rational only in the limit: a 60-digit evaluation rounded by hand."""
    import decimal

    for z in (0.5, -3.25, 17.0, -80.0, 1e-7, -1e-20):
        with decimal.localcontext() as ctx:
            ctx.prec = 80
            value = 1 / (1 + (-decimal.Decimal(z)).exp())
        want = nearest_float32(Fraction(value))
        assert np.array(exact_functions.sigmoid_exact(z)).view(np.uint32) == np.array(want).view(np.uint32), z


def test_a_result_that_rounds_to_zero_is_plus_zero():
    z = np.array([-0.0, 0.0, -1e-45, -200.0], dtype=np.float32)
    assert exact_functions.function("tanh", z)[:2].view(np.uint32).tolist() == [0, 0]
    assert exact_functions.function("sigmoid", z)[3].view(np.uint32) == 0


def test_softmax_costs_and_powers_are_rounded_once():
    rng = np.random.default_rng(12)
    z = (rng.standard_normal((300, 10)) * 8).astype(np.float32)
    z[0] = [-200.0, 60.0, 60.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
    out = np.empty_like(z)
    exact_functions.softmax(z, out)
    for i in range(0, 300, 7):
        row = [Fraction(float(t)) for t in z[i]]
        for j in range(10):
            terms = [exact_functions.Decimal(float(t)) for t in z[i]]
            want = exact_functions.ziv(
                lambda ctx, terms=terms, j=j: ctx.divide(1, exact_functions._sum_exp(terms, terms[j], ctx))
            )
            assert out[i, j].view(np.uint32) == np.array(want).view(np.uint32), (i, j, row[j])
    y = np.eye(10)[rng.integers(0, 10, 300)]
    a = exact_functions.function("sigmoid", z)
    for cost, act in (("quadratic", a), ("cross_entropy", a), ("log_likelihood", out)):
        got = exact_functions.sample_costs(cost, z, act, y)
        want = np.array([exact_functions._cost_exact(cost, z[i], act[i], y[i]) for i in range(300)], dtype=np.float32)
        assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist(), cost
    w = hard_inputs(rng, 2000)
    w = w[np.isfinite(w)]
    for p in (0.5, 1.5, -0.5):
        got = exact_functions.power(w, p, np.empty_like(w))
        want = np.array([exact_functions.power_exact(float(t), p) for t in w], dtype=np.float32)
        assert got.view(np.uint32).tolist() == want.view(np.uint32).tolist(), p


def test_every_fallback_gives_what_the_check_gives(monkeypatch):
    """With the check made to doubt every element, each is recomputed exactly: the same bits, so the fast
    path's answers are the exact ones wherever it is sure."""
    rng = np.random.default_rng(13)
    a = rng.standard_normal((8, 60)).astype(np.float32)
    b = (rng.standard_normal((60, 9)) * np.exp(rng.uniform(-30, 30, (60, 9)))).astype(np.float32)
    z = hard_inputs(rng, 500)
    fast = exact.matmul(a, b), exact_functions.function("sigmoid", z), exact_functions.function("tanh", z)
    monkeypatch.setattr(exact_functions, "MARGIN", 2**28)
    monkeypatch.setattr(exact_functions, "_SHIFT", np.uint64(1 << 29))
    monkeypatch.setattr(exact_functions, "_WIDTH", np.uint64(1 << 30))
    counter = exact.Counter()
    doubted = exact_functions.function("sigmoid", z), exact_functions.function("tanh", z)
    for name, want in (("sigmoid", doubted[0]), ("tanh", doubted[1])):  # in place, as the training step calls it
        inplace = z.copy()
        with np.errstate(over="ignore"):
            exact_functions.Function(name, inplace, inplace)()
        assert inplace.view(np.uint32).tolist() == want.view(np.uint32).tolist(), name
    monkeypatch.setattr(exact, "bound_factor", lambda n: 1e30)
    slow = exact.matmul(a, b, counter=counter), *doubted
    assert counter.fallbacks == a.shape[0] * b.shape[1]
    for f, s in zip(fast, slow):
        assert f.view(np.uint32).tolist() == s.view(np.uint32).tolist()


def as_plus_zero(x: np.float32) -> np.float32:
    return np.float32(x + np.float32(0.0))  # exact mode writes every zero as +0


F = np.float32
_FLT_MAX = float(np.finfo(np.float32).max)
#: Rows whose exact dot product with a column of ones lands at a float32 boundary class, with a residual far
#: below float64's resolution there that decides the rounding (#39: the float64 sum alone lands on the tie).
BOUNDARIES = {
    "subnormal tie, just above": ([2.0**-75, 2.0**-105], [2.0**-75, 2.0**-105]),
    "subnormal tie, just below": ([2.0**-75, -(2.0**-105)], [2.0**-75, 2.0**-105]),
    "negative subnormal tie, beyond": ([-(2.0**-75), -(2.0**-105)], [2.0**-75, 2.0**-105]),
    "negative subnormal tie, inside": ([-(2.0**-75), 2.0**-105], [2.0**-75, 2.0**-105]),
    "subnormal tie exactly": ([2.0**-75], [2.0**-75]),
    "smallest normal, from below": ([2.0**-63, -(2.0**-75), 2.0**-105], [2.0**-63, 2.0**-75, 2.0**-105]),
    "overflow threshold, just below": ([_FLT_MAX, 2.0**103, -(2.0**-10)], [1.0, 1.0, 1.0]),
    "overflow threshold, just above": ([_FLT_MAX, 2.0**103, 2.0**-10], [1.0, 1.0, 1.0]),
    "overflow threshold exactly": ([_FLT_MAX, 2.0**103], [1.0, 1.0]),
    "negative overflow threshold, inside": ([-_FLT_MAX, -(2.0**103), 2.0**-10], [1.0, 1.0, 1.0]),
    "a normal tie, just above": ([1.0, 2.0**-24, 2.0**-60], [1.0, 1.0, 2.0**-60]),
}


@pytest.mark.parametrize("case", BOUNDARIES)
def test_a_dot_product_at_a_float32_boundary_is_rounded_as_its_exact_value(case):
    a_row, b_col = BOUNDARIES[case]
    a = np.array([a_row], dtype=np.float32)
    b = np.array(b_col, dtype=np.float32).reshape(-1, 1)
    assert a.astype(np.float64).ravel().tolist() == a_row and b.astype(np.float64).ravel().tolist() == b_col
    want = as_plus_zero(exact.round_to_float32(exact.exact_dot(a[0], b[:, 0])))
    got = exact.matmul(a, b)[0, 0]
    assert np.array(got).view(np.uint32) == np.array(want).view(np.uint32), (case, got, want)


def sequential(values) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def worst_cases(n):
    """(a, b) pairs whose float64 dot products err most: one large term then n − 1 that each round away (ties to
    even), in either order; random magnitudes over 60 binades with cancellation; products below float32's range."""
    big, small = np.float32(1.0), np.float32(2.0**-27)  # small · 2⁻²⁶ = 2⁻⁵³: half an ulp of 1, each add lost
    worst = []
    for sign in (1.0, -1.0):
        a = np.array([big] + [small * np.float32(sign)] * (n - 1), dtype=np.float32)
        b = np.array([1.0] + [2.0**-26] * (n - 1), dtype=np.float32)
        worst.append((a, b))
        worst.append((a[::-1].copy(), b[::-1].copy()))
    rng = np.random.default_rng(n)
    for _ in range(20):  # random magnitudes over 60 binades, with cancellation
        a = (rng.standard_normal(n) * 2.0 ** rng.integers(-30, 30, n)).astype(np.float32)
        worst.append((a, np.where(rng.random(n) < 0.5, -1, 1).astype(np.float32) * np.abs(a[::-1])))
    for _ in range(3):  # every product below float32's smallest subnormal (a float32 sum of them is 0)
        a = (rng.random(n) * 2.0**-80).astype(np.float32)
        worst.append((a, (rng.standard_normal(n) * 2.0**-75).astype(np.float32)))
    return worst


def worst_error(a, b) -> Fraction:
    """The largest error of the float64 dot product of ``a`` and ``b`` over its erring orders."""
    terms = [float(x) * float(y) for x, y in zip(a.astype(np.float64), b.astype(np.float64))]
    exact_sum = exact.exact_dot(a, b)
    orders = (terms, terms[::-1], sorted(terms, key=abs), sorted(terms, key=abs, reverse=True))
    return max(abs(Fraction(sequential(order)) - exact_sum) for order in orders)


@pytest.mark.parametrize("n", [2, 3, 10, 100, 1000])
def test_the_product_bound_covers_a_worst_case_summation_order(n):
    """The error bound of a float64 dot product of float32 numbers, bound_factor(n)·Σ|aᵢbᵢ|, checked directly
    against an exact sum in the orders that err most — not through recorded bytes."""
    u = 2.0**-53
    worst = worst_cases(n)
    for a, b in worst:
        bound = exact.bound_factor(n) * sum(abs(float(x) * float(y)) for x, y in zip(a, b))
        assert worst_error(a, b) <= Fraction(bound), (n, bound)
    # the bound is not loose by a factor of 16 (γ/4 instead of 4γ would fail the worst order above)
    a, b = worst[0]
    terms = [float(x) * float(y) for x, y in zip(a.astype(np.float64), b.astype(np.float64))]
    err = abs(Fraction(sequential(terms)) - exact.exact_dot(a, b))
    assert err == (n - 1) * Fraction(u)  # every small term lost
    assert float(err) > exact.bound_factor(n) / 16 * sum(abs(t) for t in terms)


@pytest.mark.parametrize("n", [2, 3, 10, 100, 1000])
def test_the_compiled_steps_cheaper_bounds_cover_a_worst_case_summation_order(n):
    """The compiled step's bounds, each at the least its own roundings can make it, cover the worst orders'
    errors: a forward product's c·‖a‖₂·‖b‖₂ (float64 sums of squares, square roots), a weight gradient's
    magnitude_factor(n)·(M + n·2⁻¹⁴⁹) with M the float32 sum of float32 products of magnitudes (each
    product rounded, or flushed below float32's range, the sum erring by γ₃₂ₙ) — and neither is 16× too small."""
    u, u32 = 2.0**-53, 2.0**-24
    low = 1 - 8 * u  # covers the float arithmetic of this test's own lower ends
    g, g32 = n * u / (1 - n * u), n * u32 / (1 - n * u32)
    for i, (a, b) in enumerate(worst_cases(n)):
        err = worst_error(a, b)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        squares = [float(sum(Fraction(float(v)) ** 2 for v in w)) * (1 - g) for w in (a64, b64)]
        cauchy_schwarz = exact.bound_factor(n) * math.sqrt(squares[0]) * math.sqrt(squares[1]) * low**4
        flushed = [max(abs(float(x) * float(y)) * (1 - u32) - 2.0**-150, 0.0) for x, y in zip(a64, b64)]
        magnitudes = exact.magnitude_factor(n) * (sum(flushed) * (1 - g32) + n * 2.0**-149) * low**2
        assert err <= Fraction(cauchy_schwarz) and err <= Fraction(magnitudes), (n, i, float(err))
        if i == 0:  # the order that loses every small term: a 16× smaller factor would not cover it
            assert err > Fraction(cauchy_schwarz / 16 / low**4) and err > Fraction(magnitudes / 16 / low**2)


# ---- one registry of exact kernels: nothing computed natively in exact mode without a word (#39) -----------------


def test_every_activation_and_cost_has_an_exact_kernel():
    from mlpsweep.nn import activations, costs

    for registry in (activations.HIDDEN, activations.OUTPUT):
        for name, act in registry.items():
            assert act.ieee or type(act).exact is not activations.Activation.exact, name
    assert set(costs.COSTS) == set(exact_functions.SAMPLE_COSTS)


def test_an_activation_without_an_exact_kernel_is_refused_when_registered():
    from mlpsweep.nn import activations

    class Swish(activations.Activation):  # x·σ(x) needs exp: not IEEE-basic, and no exact kernel of its own
        name = "swish"

        def forward(self, z, out=None):
            return np.multiply(z, 1 / (1 + np.exp(-z)), out=out)

    with pytest.raises(TypeError, match="activation 'swish' declares no exact kernel"):
        activations.check_exact(Swish)
    with pytest.raises(NotImplementedError, match="no exact kernel"):
        Swish().exact(np.zeros(2, np.float32), np.zeros(2, np.float32), exact.Counter())

    class Halve(activations.Activation):  # IEEE-basic, declared so: exact as it is
        name = "halve"
        ieee = True

        def forward(self, z, out=None):
            return np.multiply(z, np.float32(0.5), out=out)

    assert activations.check_exact(Halve) is Halve


def test_a_cost_without_an_exact_kernel_is_refused_not_computed_as_another():
    z = np.zeros((2, 3), np.float32)
    with pytest.raises(NotImplementedError, match="cost 'hinge' has no exact kernel"):
        exact_functions.sample_costs("hinge", z, z, z)
