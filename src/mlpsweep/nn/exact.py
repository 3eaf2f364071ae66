"""Correctly rounded float32 matrix products: each element the exact dot product, rounded once.

The building block of exact arithmetic (issue #31): a float32 product whose every element is the correctly
rounded value (IEEE-754 round to nearest, ties to even) of the exact mathematical dot product of its float32
inputs, whatever BLAS library, kernel, SIMD level, thread count or CPU computes it.

How, at BLAS speed:

1. **Float64 from float32.**  A product of two float32 numbers is exact in float64 (24 + 24 significand bits
   ≤ 53), and no partial sum can overflow or fall into float64's subnormals (|products| lie between 2⁻²⁹⁸ and
   2²⁵⁶), so the float64 product ``v`` of the widened matrices, in any summation order and with or without
   FMA, differs from the exact dot product ``s`` of n terms by at most γₙ·Σ|aᵢbᵢ|, γₙ = nu/(1 − nu), u = 2⁻⁵³
   (Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §3.1, eq. 3.5).
2. **A rigorous bound.**  Σ|aᵢbᵢ| is itself computed as the float64 product ``|A|·|B|``, at most (1 + γₙ)
   times too small; the bound used is γₙ(1 + γₙ)·that, times (1 + 2u) for the rounding of the bound's own
   two multiplications.
3. **One check.**  The interval [v − bound, v + bound] (its ends moved one float64 outward, so that their own
   rounding cannot shrink it) holds ``s``.  Rounding to float32 is monotone, so where both ends round to the
   same float32 — compared as bits, so that −0 and +0 differ — that is ``s`` rounded: the result.
4. **Exact fallback.**  Elsewhere (``s`` near a float32 rounding boundary: rare, see the shared README's
   measurement) the dot product is computed exactly with Python integers (every float32 is an integer times
   a power of two) and rounded to float32 by :func:`round_to_float32`.  :func:`matmul` counts them.

The result depends only on the inputs: the float64 product may differ from kernel to kernel, but every
element of the output is the one number the mathematics defines.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

U = 2.0**-53  # the unit roundoff of float64


def gamma(n: int) -> float:
    """γₙ = nu/(1 − nu) for float64 (an upper bound, rounded up)."""
    nu = n * U
    return math.nextafter(nu / (1.0 - nu), math.inf)


class Counter:
    """How many elements fell back to exact integer arithmetic, and how many were computed."""

    def __init__(self):
        self.fallbacks = 0
        self.elements = 0


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, counter: Counter | None = None):
    """``a @ b`` for float32 ``a`` (…, m, k) and ``b`` (…, k, n): every element the exact dot product rounded
    once to float32 (round to nearest, ties to even).  ``counter`` adds up the exact fallbacks."""
    if a.dtype != np.float32 or b.dtype != np.float32:
        raise TypeError(f"exact.matmul takes float32 operands, got {a.dtype} and {b.dtype}")
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    value = np.matmul(a64, b64)
    k = a.shape[-1]
    g = gamma(k)
    bound = np.matmul(np.abs(a64), np.abs(b64))
    bound *= g * (1.0 + g) * (1.0 + 2.0 * U)
    lo = np.nextafter(value - bound, -np.inf).astype(np.float32)
    hi = np.nextafter(value + bound, np.inf).astype(np.float32)
    if out is None:
        result = hi
    else:
        np.copyto(out, hi)
        result = out
    # where the ends round alike (as bits: −0 is not +0), that is the exact value rounded; a non-finite value
    # (an input already inf or nan: a run that diverged) is left as the product gives it
    finite = np.isfinite(value)
    result[~finite] = value[~finite]
    unsure = (lo.view(np.uint32) != hi.view(np.uint32)) & finite
    if counter is not None:
        counter.elements += result.size
    if unsure.any():
        index = np.argwhere(unsure)
        if counter is not None:
            counter.fallbacks += len(index)
        for idx in map(tuple, index):
            lead, i, j = idx[:-2], idx[-2], idx[-1]
            row = a[lead + (i,)] if a.ndim > 2 else a[i]
            col = b[lead + (slice(None), j)] if b.ndim > 2 else b[:, j]
            result[idx] = round_to_float32(exact_dot(row, col))
    return result


def exact_dot(x: np.ndarray, y: np.ndarray) -> Fraction:
    """The exact dot product of two float32 vectors, as a fraction (every float32 is m·2^e, m and e integers)."""
    total = Fraction(0)
    for p, q in zip(x.tolist(), y.tolist()):  # float32 → Python float is exact
        total += Fraction(p) * Fraction(q)
    return total


#: float32: 24 significand bits, the smallest normal 2⁻¹²⁶, the smallest subnormal 2⁻¹⁴⁹.
_MANT, _EMIN, _ETINY = 24, -126, -149


def round_to_float32(x: Fraction) -> np.float32:
    """``x`` rounded once to float32, to nearest, ties to even (overflow to ±inf)."""
    if x == 0:
        return np.float32(0.0)
    sign = -1.0 if x < 0 else 1.0
    x = abs(x)
    # the exponent e with 2^e ≤ x < 2^(e+1)
    e = x.numerator.bit_length() - x.denominator.bit_length()
    if Fraction(2) ** e > x:
        e -= 1
    quantum = max(e - (_MANT - 1), _ETINY)  # the spacing of float32 numbers at x (subnormals: 2⁻¹⁴⁹)
    scaled = x / Fraction(2) ** quantum
    n, rest = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and n % 2 == 1):
        n += 1
    value = math.ldexp(n, quantum)  # exact: n < 2²⁵
    if value > float(np.finfo(np.float32).max):
        return np.float32(sign * math.inf)
    return np.float32(sign * value)
