"""Numba kernels of exact arithmetic: the building blocks of the compiled step (:mod:`.compiled`).

Each is the same mathematics as its NumPy counterpart in :mod:`.exact`, so it gives the same bytes:

* :func:`fsum` is CPython's ``math.fsum`` (Shewchuk's exact partials, then the sum correctly rounded to
  float64) and :func:`round_sum` is :func:`.exact.round_sum` (that sum rounded once to float32, the
  residual deciding the one case where rounding twice could err);
* :func:`dot22`, :func:`axpy4`, :func:`axpy` and :func:`axpy_abs` accumulate a product's float64 value and the
  sum of its terms' magnitudes (or a bound's ends) in any order — the only functions here with fast-math
  flags (``reassoc``, ``contract``: the bound holds for any order, with or without FMA);
* :func:`settle` is :func:`.exact.bracket` for one element; :func:`near` is :func:`.exact_functions.check`'s test.

Importing this module imports Numba; :mod:`.compiled` imports it only where Numba is there.  Compiled code
is cached (``cache=True``), so a job loads it instead of compiling it.
"""

from __future__ import annotations

import math

import numba
import numpy as np

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
def settle_row(a, b, out, n, centred):
    """:func:`settle` of ``n`` elements at once, branch-free (it vectorises): the bracket is ``[a, b]``, or
    ``[a − b, a + b]`` when ``centred`` (value ``a``, bound ``b``); ``out`` = its upper end rounded (zeros as +0).
    Returns how many are undecided, which the caller then finds (:func:`settle`) and recomputes."""
    bad = 0
    for q in range(n):
        lo, hi = (a[q] - b[q], a[q] + b[q]) if centred else (a[q], b[q])
        o = np.float32(hi) + ZERO
        out[q] = o
        bad += o != np.float32(lo)
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


@fast
def dot22(x0, x1, w0, w1, n):
    """Dot products (the value and the sum of the terms' magnitudes) of two rows against two weight rows, each
    load used twice: (v00, e00, v01, e01, v10, e10, v11, e11), ``vij`` = Σ xᵢw_j."""
    v00 = e00 = v01 = e01 = v10 = e10 = v11 = e11 = 0.0
    for q in range(n):
        a, b = np.float64(x0[q]), np.float64(x1[q])
        c, d = np.float64(w0[q]), np.float64(w1[q])
        t00, t01, t10, t11 = a * c, a * d, b * c, b * d
        v00 += t00
        e00 += abs(t00)
        v01 += t01
        e01 += abs(t01)
        v10 += t10
        e10 += abs(t10)
        v11 += t11
        e11 += abs(t11)
    return v00, e00, v01, e01, v10, e10, v11, e11


@fast
def axpy4(lo, hi, rows, rows_hi, first, cl, ch, n):
    """``lo += Σᵢ clᵢ·rows[first+i]`` and ``hi += Σᵢ chᵢ·rows_hi[first+i]`` over four rows of ``n`` (2-D arrays;
    ``rows_hi`` is ``rows`` or their magnitudes), each load of ``lo`` and ``hi`` serving four rows."""
    r0, r1, r2, r3 = rows[first], rows[first + 1], rows[first + 2], rows[first + 3]
    s0, s1, s2, s3 = rows_hi[first], rows_hi[first + 1], rows_hi[first + 2], rows_hi[first + 3]
    l0, l1, l2, l3 = cl[0], cl[1], cl[2], cl[3]
    h0, h1, h2, h3 = ch[0], ch[1], ch[2], ch[3]
    for q in range(n):
        lo[q] += l0 * np.float64(r0[q]) + l1 * np.float64(r1[q]) + l2 * np.float64(r2[q]) + l3 * np.float64(r3[q])
        hi[q] += h0 * np.float64(s0[q]) + h1 * np.float64(s1[q]) + h2 * np.float64(s2[q]) + h3 * np.float64(s3[q])


@fast
def axpy(acc, c, row, n):
    """``acc += c·row`` in float64 (any order)."""
    for i in range(n):
        acc[i] += c * np.float64(row[i])


@fast
def axpy_abs(acc, c, row, n):
    """``acc += c·|row|`` in float64 (any order)."""
    for i in range(n):
        acc[i] += c * abs(np.float64(row[i]))


# -- activations: codes shared with mlpsweep.nn.compiled ---------------------------------------------------------

SIGMOID, TANH, RELU, IDENTITY, SQUARE, SOFTMAX = range(6)


@njit
def activate(code, z, a, n_rows, n, v, bits, pend):
    """``a = σ(z)`` for ``n_rows`` rows of ``n`` (flat float32 blocks), exact: IEEE-basic activations as they are,
    sigmoid, tanh and softmax from their float64 values where those round with certainty.  The others' flat
    indices go to ``pend`` (the caller recomputes them exactly); returns how many."""
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
