"""Numba kernels of exact arithmetic: the building blocks of the compiled step (:mod:`.compiled`).

Each is the same mathematics as its NumPy counterpart in :mod:`.exact`, so it gives the same bytes:

* :func:`fsum` is CPython's ``math.fsum`` (Shewchuk's exact partials, then the sum correctly rounded to
  float64) and :func:`round_sum` is :func:`.exact.round_sum` (that sum rounded once to float32, the
  residual deciding the one case where rounding twice could err);
* :func:`dot42`, :func:`dot22`, :func:`axpy42`, :func:`mag42`, :func:`axpy`, :func:`axpy_abs` and
  :func:`sum_of_squares` accumulate a product's float64 value, or the magnitudes its bound is made of, in any
  order — the only functions here with fast-math flags (``reassoc``, ``contract``: the bound holds for any
  order, with or without FMA);
* :func:`settle` is :func:`.exact.bracket` for one element; :func:`near` is :func:`.exact_functions.check`'s test.

Importing this module imports Numba; :mod:`.compiled` imports it only where Numba is there.  Compiled code
is cached (``cache=True``), so a job loads it instead of compiling it.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.extending import overload

from .exact_functions import MARGIN

FLT_MAX = float(np.finfo(np.float32).max)
OVERFLOW_TIE = 2.0**128 - 2.0**103  # halfway between FLT_MAX and 2^128
UNDERFLOW_TIE = 2.0**-150  # halfway between zero and the smallest subnormal
SMALLEST = 2.0**-149
HALF = 1 << 28
SHIFT = np.uint64(MARGIN - HALF + (1 << 29))
WIDTH = np.uint64(2 * MARGIN + 1)
LOWMASK = np.uint64((1 << 29) - 1)
TINY = 2.0**-125
ZERO = np.float32(0.0)
ZERO64 = 0.0  # the sums of products: in float64 (exact arithmetic) when started from ZERO64, float32 from ZERO

njit = numba.njit(cache=True, error_model="numpy")
fast = numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})


@njit
def fsum(terms, n, partials):
    """The exact sum of ``terms[:n]`` (finite float64 numbers) correctly rounded to float64: CPython's
    ``math.fsum``, with ``partials`` as scratch (64 entries: float64 numbers have at most ~40 non-overlapping
    partials)."""
    count = 0
    for idx in range(n):
        x = terms[idx]
        i = 0
        for j in range(count):
            y = partials[j]
            if abs(x) < abs(y):
                x, y = y, x
            hi = x + y
            lo = y - (hi - x)
            if lo != 0.0:
                partials[i] = lo
                i += 1
            x = hi
        count = i
        partials[count] = x
        count += 1
    if count == 0:
        return 0.0
    count -= 1
    hi = partials[count]
    lo = 0.0
    while count > 0:
        x = hi
        count -= 1
        y = partials[count]
        hi = x + y
        lo = y - (hi - x)
        if lo != 0.0:
            break
    # round half to even where the rest of the partials decide a tie
    if count > 0 and ((lo < 0.0 and partials[count - 1] < 0.0) or (lo > 0.0 and partials[count - 1] > 0.0)):
        y = lo * 2.0
        x = hi + y
        if y == x - hi:
            hi = x
    return hi


@njit
def round_sum(terms, n, partials):
    """The exact sum of ``terms[:n]`` rounded once to float32 (ties to even; a zero is +0): what
    :func:`.exact.round_sum` gives.  ``terms`` needs room for one more entry (the residual's)."""
    s = fsum(terms, n, partials)
    f = np.float32(s)
    ff = np.float64(f)
    a = abs(s)
    if a == OVERFLOW_TIE or a == UNDERFLOW_TIE or (ff != s and math.isfinite(ff) and ff != 0.0):
        terms[n] = -s
        r = fsum(terms, n + 1, partials)
        if a == OVERFLOW_TIE:  # between ±FLT_MAX and ±2^128 (which is ±inf)
            if r != 0.0 and (r < 0.0) == (s > 0.0):
                return np.float32(math.copysign(FLT_MAX, s))
            return f
        if a == UNDERFLOW_TIE:  # between 0 and the smallest subnormal
            if r != 0.0 and (r > 0.0) == (s > 0.0):
                return np.float32(math.copysign(SMALLEST, s))
            return ZERO
        g = np.float32(np.nextafter(f, np.float32(math.copysign(math.inf, s - ff))))
        gg = np.float64(g)
        if (ff + gg) / 2.0 == s and r != 0.0:
            return g if (r > 0.0) == (gg > s) else f
    if f == 0:
        return ZERO
    return f


@njit
def settle(lo, hi, value):
    """(float32 result, decided): ``hi`` rounded where ``lo`` and ``hi`` round to the same float32 (a zero as
    +0); a non-finite ``value`` (a diverged run's) counts as decided and is left as it is."""
    out = np.float32(hi) + ZERO
    return out, out == np.float32(lo) or not math.isfinite(value)


@njit
def settle_scaled(v, mag, tiny, scale, out, n):
    """:func:`settle` of ``n`` elements at once, branch-free (it vectorises): values ``v`` with bounds
    ``scale``·(``mag`` + ``tiny``), ``mag`` float32; ``out`` = the upper ends rounded (zeros as +0).  Returns how
    many are undecided, which the caller then finds (:func:`settle`) and recomputes."""
    bad = 0
    for q in range(n):
        e = scale * (np.float64(mag[q]) + tiny)
        o = np.float32(v[q] + e) + ZERO
        out[q] = o
        bad += o != np.float32(v[q] - e)
    return bad


@njit
def near(v, bits, nonnegative):
    """Whether float64 ``v`` (within :data:`MARGIN` ulps of an exact value; ``bits`` its bits as uint64) is too
    near a float32 rounding boundary to round it with certainty: :func:`.exact_functions.check`'s test for one value."""
    small = v < TINY if nonnegative else abs(v) < TINY
    if small:  # float32's spacing is 2⁻¹⁴⁹ here: the fraction of v·2¹⁴⁹ decides
        t = abs(v) * 2.0**149
        return abs(t - math.floor(t) - 0.5) <= 2.0**-16
    return ((bits + SHIFT) & LOWMASK) < WIDTH


def widen(x, like):
    """``x`` in ``like``'s type when that is float64, else as it is (chosen when compiled: no conversion is
    executed for float32)."""
    return np.float64(x) if isinstance(like, float) else x


@overload(widen)
def _widen(x, like):
    if like == numba.types.float64:
        return lambda x, like: np.float64(x)
    return lambda x, like: x


@fast
def dot42(x0, x1, x2, x3, w0, w1, n, zero):
    """Four rows' dot products with two weight rows, each load used two or four times, summed from ``zero``
    in its type (float64: the exact products of exact arithmetic; float32: native arithmetic's):
    (v00, v01, v10, v11, v20, v21, v30, v31), ``vij`` = Σ xᵢw_j."""
    v00 = v01 = v10 = v11 = v20 = v21 = v30 = v31 = zero
    for q in range(n):
        a, b, c, d = widen(x0[q], zero), widen(x1[q], zero), widen(x2[q], zero), widen(x3[q], zero)
        e, f = widen(w0[q], zero), widen(w1[q], zero)
        v00 += a * e
        v01 += a * f
        v10 += b * e
        v11 += b * f
        v20 += c * e
        v21 += c * f
        v30 += d * e
        v31 += d * f
    return v00, v01, v10, v11, v20, v21, v30, v31


@fast
def dot22(x0, x1, w0, w1, n, zero):
    """:func:`dot42` for two rows: (v00, v01, v10, v11)."""
    v00 = v01 = v10 = v11 = zero
    for q in range(n):
        a, b = widen(x0[q], zero), widen(x1[q], zero)
        e, f = widen(w0[q], zero), widen(w1[q], zero)
        v00 += a * e
        v01 += a * f
        v10 += b * e
        v11 += b * f
    return v00, v01, v10, v11


@fast
def sum_of_squares(row, n):
    """Σ row² in float64 (exact squares, any order; relative error at most γₙ)."""
    t = 0.0
    for q in range(n):
        v = np.float64(row[q])
        t += v * v
    return t


@fast
def mag42(h0, h1, r0, r1, r2, r3, c0, c1, n):
    """:func:`axpy42` of magnitudes in float32 (``c0``, ``c1`` ≥ 0 float32; any order): the sums a weight
    gradient's bounds are made of, at twice float64's width (their rounding is covered:
    :func:`.exact.magnitude_factor`)."""
    a0, a1, a2, a3 = c0[0], c0[1], c0[2], c0[3]
    b0, b1, b2, b3 = c1[0], c1[1], c1[2], c1[3]
    for q in range(n):
        x0, x1, x2, x3 = abs(r0[q]), abs(r1[q]), abs(r2[q]), abs(r3[q])
        h0[q] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
        h1[q] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3


@fast
def axpy42(acc0, acc1, r0, r1, r2, r3, c0, c1, n):
    """``acc0 += Σᵢ c0ᵢ·rᵢ`` and ``acc1 += Σᵢ c1ᵢ·rᵢ`` over four rows of ``n`` (any order; in float64 for
    float64 coefficients, whose products with float32 rows are exact): each load of a row serves both
    accumulators, each load of an accumulator four rows."""
    a0, a1, a2, a3 = c0[0], c0[1], c0[2], c0[3]
    b0, b1, b2, b3 = c1[0], c1[1], c1[2], c1[3]
    for q in range(n):
        x0, x1, x2, x3 = r0[q], r1[q], r2[q], r3[q]
        acc0[q] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
        acc1[q] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3


@fast
def axpy(acc, c, row, n):
    """``acc += c·row`` in ``c``'s type (any order)."""
    for i in range(n):
        acc[i] += c * row[i]


@fast
def axpy_abs(acc, c, row, n):
    """``acc += c·|row|`` in float64 (any order)."""
    for i in range(n):
        acc[i] += c * abs(np.float64(row[i]))


# -- activations: codes shared with mlpsweep.nn.compiled ---------------------------------------------------------

SIGMOID, TANH, RELU, IDENTITY, SQUARE, SOFTMAX = range(6)


@njit
def activate(code, z, a, n_rows, n, v, bits, pend, exact):
    """``a = σ(z)`` for ``n_rows`` rows of ``n`` (flat float32 blocks): IEEE-basic activations as they are,
    sigmoid, tanh and softmax their float64 values rounded — where those round with certainty when ``exact``,
    the others' flat indices going to ``pend`` (the caller recomputes them exactly); returns how many."""
    size = n_rows * n
    if code == RELU:
        for q in range(size):
            t = z[q]
            a[q] = t if (t >= 0 or t != t) else ZERO  # np.maximum(z, 0): NaN propagates, −0 stays
        return 0
    if code == IDENTITY:
        a[:size] = z[:size]
        return 0
    if code == SQUARE:
        for q in range(size):
            a[q] = z[q] * z[q]
        return 0
    if code == SOFTMAX:
        for i in range(n_rows):
            top = -math.inf
            for j in range(n):
                top = max(top, np.float64(z[i * n + j]))
            total = 0.0
            for j in range(n):
                v[i * n + j] = math.exp(np.float64(z[i * n + j]) - top)
                total += v[i * n + j]
            for j in range(n):
                v[i * n + j] = v[i * n + j] / total
    elif code == SIGMOID:
        for q in range(size):
            v[q] = 1.0 / (1.0 + math.exp(-np.float64(z[q])))
    else:  # TANH
        for q in range(size):
            v[q] = math.tanh(np.float64(z[q]))
    if not exact:
        for q in range(size):
            a[q] = np.float32(v[q]) + ZERO
        return 0
    nonnegative = code != TANH
    count = 0
    for q in range(size):
        a[q] = np.float32(v[q]) + ZERO
        if near(v[q], bits[q], nonnegative):
            pend[count] = q
            count += 1
    return count


@njit
def derivative_times(code, d, a, z, n_rows, n):
    """``d ⊙= σ'`` of a hidden layer, σ' written with a = σ(z) (square's with z), in float32."""
    one = np.float32(1.0)
    for q in range(n_rows * n):
        if code == SIGMOID:
            t = (one - a[q]) * a[q]
        elif code == TANH:
            t = one - a[q] * a[q]
        elif code == RELU:
            t = a[q]
            t = one if t > 0 else (ZERO if t == 0 else t)  # np.sign(a), a ≥ 0 (NaN stays)
        elif code == SQUARE:
            t = z[q] * np.float32(2.0)
        else:
            return
        d[q] = d[q] * t
