"""Exact arithmetic for float32 networks: every result the correctly rounded value of its mathematics.

In ``reproducibility: exact`` (:mod:`mlpsweep.arithmetic`) every floating-point value that reaches a float32
network's parameters, its predictions, its history or a report is the correctly rounded result (IEEE-754
round to nearest, ties to even) of an exact mathematical operation on float32 inputs:

* IEEE-754's basic operations (+, −, ×, ÷, √) already are, whoever computes them: the training step's
  element-wise arithmetic (the update rules, σ'(z) = a(1 − a), the mean's 1/k, dropout's scale) is left as
  it is;
* a matrix product's element is the exact dot product rounded once (:func:`product`, :func:`matmul`), and
  a sum over a batch (the bias gradient) the exact sum rounded once;
* σ(z) = 1/(1 + e^{−z}), tanh, softmax, |w|^p and a sample's cost are the exact function rounded once
  (:mod:`.exact_functions`); a mean cost, a penalty's value
  and a gradient norm are exact sums rounded once to float64 (``math.fsum``).

Then a run's bytes depend on its settings, seed and data only: not on the BLAS library or its kernel, the
SIMD level, the thread count, the C library or the CPU.  (A zero that is exactly zero is +0.)

**How, at BLAS speed: compute in float64, bound the error rigorously, round, and check.**

1. *Products.*  A product of two float32 numbers is exact in float64 (24 + 24 ≤ 53 significand bits) and
   no partial sum can overflow or fall into float64's subnormals, so the float64 product ``v`` of the
   widened operands, by any BLAS kernel, in any summation order, with or without FMA, differs from the
   exact dot product ``s`` of n terms by at most γₙ·Σ|aᵢbᵢ|, γₙ = nu/(1 − nu), u = 2⁻⁵³ (Higham, *Accuracy
   and Stability of Numerical Algorithms*, 2nd ed., §3.1).  (This assumes a BLAS that sums the n products
   in some order, as every BLAS does at these sizes; no Strassen-like scheme.)  The bound used is
   e = 4γₙ·|a|·|b|: the factor 4 covers the roundings of the bound's own product and of ``v ± e``.  Rounding
   is monotone, so where ``v − e`` and ``v + e`` round to the same float32 that is ``s`` rounded
   (:func:`settle`).  The training step's gradients against a non-negative operand (pixels, σ, the ones
   of a bias sum) take their two ends directly: for x ≥ 0, Σ(δ ∓ 4γ|δ|)x brackets Σδx (:func:`bracket`),
   so the check of the step's largest product is two casts and a comparison.  Elsewhere (``s`` within the bound of
   a float32 rounding boundary: rare) the element is recomputed exactly: its n products are exact float64
   numbers, ``math.fsum`` gives their exact sum correctly rounded to float64, and a second ``fsum`` of the
   residual decides the one case where that double rounding could err (a float64 sum exactly on a float32
   midpoint).  The compiled step (:mod:`.kernel_step`) bounds more cheaply where that stays tight: a forward
   product by Cauchy–Schwarz, c·‖xᵢ‖₂·‖w_j‖₂ (rows of data against rows of weights: loose by a small
   factor, only a few more fallbacks), a weight gradient by its magnitudes summed in float32
   (:func:`magnitude_factor`).  A gradient's norm bound (‖δ_j‖·‖x_q‖ or max|δ_j|·Σ|x_q|) would not do: it
   misses which rows pair with which (a pixel lit in one image of the batch, a δ tiny in that image and
   large in another) and sent a tenth of a gradient's elements to the fallback.
2. *Functions.*  σ, tanh, softmax, ``|w|^p`` and the costs: :mod:`.exact_functions`.

Every fallback is counted (:class:`Counter`); a training run records them per epoch (``exact_fallbacks``: a
diagnostic about the machine, not part of the byte contract, since whether a float64 value lands near a
float32 boundary depends on the order it was summed in).
A result that rounds to zero is +0 (the sign of an underflowing product's zero would be the BLAS's).  What
it costs here: the float64 products do the work of two float32 ones each (value and bound), plus the
checks' passes (the compiled step's cost: README, Speed).

float64 networks have no wider format to compute in cheaply, so ``exact`` refuses them (the train command
and the workflow say so in one line); a :class:`~mlpsweep.nn.network.Network` of float64 built directly
computes natively.
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


def bound_factor(n: int) -> float:
    """The factor of the Hölder bound ‖a‖₁·max|b| on an n-term float64 dot product's error (module docstring):
    4γₙ, which also covers the bound's own roundings and those of ``v ± bound``."""
    return 4.0 * gamma(max(n, 1)) * (1.0 + 16 * U)


def magnitude_factor(n: int) -> float:
    """The factor f with f·(M + n·2⁻¹⁴⁹) ≥ 4γₙ·Σ|aᵢbᵢ|, where M is the sum of the n float32 magnitudes
    fl(|aᵢ|·|bᵢ|) of float32 numbers computed in float32 in any order: each such product is within a relative
    u₃₂ = 2⁻²⁴ or, below float32's normal range, an absolute 2⁻¹⁵⁰ of |aᵢbᵢ|, and the sum within γ₃₂,ₙ of theirs,
    so Σ|aᵢbᵢ| ≤ (M + n·2⁻¹⁵⁰) / ((1 − u₃₂)(1 − γ₃₂,ₙ)).  (The compiled step's weight gradients bound their
    float64 values this way: the magnitudes at twice float64's width.)"""
    u32 = 2.0**-24
    nu = max(n, 1) * u32
    if nu >= 0.5:
        return math.inf
    return bound_factor(n) / ((1.0 - u32) * (1.0 - nu / (1.0 - nu))) * (1.0 + 2.0**-40)


class Counter:
    """How many elements fell back to exact recomputation, per run of a stack (``stacked``: arrays carry the
    run as their first axis) or for one run."""

    def __init__(self, runs: int = 1, stacked: bool = False):
        self.per_run = [0] * runs
        self.stacked = stacked

    def count(self, idx: tuple) -> None:
        self.per_run[idx[0] if self.stacked else 0] += 1

    @property
    def fallbacks(self) -> int:
        return sum(self.per_run)

    def take(self) -> list[int]:
        """Each run's fallbacks since the last call (a training epoch's), counting from zero again."""
        n, self.per_run = self.per_run, [0] * len(self.per_run)
        return n


#: The process's count (training reads it once per epoch).
COUNTER = Counter()

# -- products -----------------------------------------------------------------------------------------------


def product(a64, b64, counter: Counter | None = None) -> np.ndarray:
    """``a64 @ b64`` rounded to float32, every element the exact dot product rounded once: a float64 product,
    its error bound 4γₙ·|a|·|b| (a second float64 product, of the magnitudes) and :func:`settle`.  ``a64``
    (…, m, n) and ``b64`` (…, n, p) are float64 arrays holding float32 values (widening is exact)."""
    e = np.matmul(np.abs(a64), np.abs(b64))
    e *= bound_factor(a64.shape[-1])
    return settle(np.matmul(a64, b64), e, a64, b64, COUNTER if counter is None else counter)


def _dot_terms(a64, b64, idx) -> np.ndarray:
    lead, i, j = idx[:-2], idx[-2], idx[-1]
    a_lead = lead[len(lead) - (a64.ndim - 2) :] if a64.ndim > 2 else ()
    b_lead = lead[len(lead) - (b64.ndim - 2) :] if b64.ndim > 2 else ()
    return a64[a_lead + (i, slice(None))] * b64[b_lead + (slice(None), j)]  # each product exact in float64


def settle(v, err, a64, b64, counter: Counter) -> np.ndarray:
    """The float32 results of a product ``a64 @ b64`` from its float64 value ``v`` and a bound ``err`` on that
    value's error: where ``v − err`` and ``v + err`` round to the same float32 that is the exact value's
    rounding; elsewhere the element is recomputed from the products of ``a64``'s row and ``b64``'s column.  A
    result that rounds to zero is +0 (which end of an interval around zero gives −0 would depend on the BLAS)."""
    return bracket(v - err, v + err, a64, b64, counter, v)


def bracket(lo, hi, a64, b64, counter: Counter, value=None) -> np.ndarray:
    """The float32 results of a product ``a64 @ b64`` from float64 ``lo`` and ``hi`` known to bracket the exact
    values (``lo`` ≤ exact ≤ ``hi``): where both round to the same float32 that is the result; elsewhere the
    element is recomputed exactly (a non-finite ``value``, default ``hi``, is a diverged run's: left as it is)."""
    out = hi.astype(np.float32)
    out += _ZERO32
    unsure = out != lo.astype(np.float32)
    if unsure.any():
        _fix(out, unsure, hi if value is None else value, lambda idx: _dot_terms(a64, b64, idx), counter)
    return out


_ZERO32 = np.array(0.0, dtype=np.float32)


def _fix(out, unsure, v, terms, counter: Counter) -> None:
    index = np.argwhere(unsure & np.isfinite(v))  # a non-finite value is a diverged run's, left as it is
    for idx in map(tuple, index):
        counter.count(idx)
        out[idx] = round_sum(terms(idx))


_FLT_MAX = float(np.finfo(np.float32).max)
#: Halfway between float32's largest number and 2^128: a float64 sum there rounds to inf (ties to even) unless the
#: exact sum lies below it.
_OVERFLOW_TIE = 2.0**128 - 2.0**103
#: Halfway between zero and float32's smallest subnormal.
_UNDERFLOW_TIE = 2.0**-150


def round_sum(terms: np.ndarray) -> np.float32:
    """The exact sum of float64 ``terms`` rounded once to float32, to nearest, ties to even (a zero is +0).

    ``math.fsum`` gives the sum rounded once to float64; rounding that to float32 errs only where it lands
    exactly on a float32 midpoint — between two neighbours, between ±0 and the smallest subnormal, or between
    ±FLT_MAX and the overflow threshold 2¹²⁸ — and then the residual's sign says which way the exact sum lies."""
    values = terms.tolist()
    try:
        s = math.fsum(values)  # the exact sum correctly rounded to float64
    except OverflowError:
        return np.float32(math.copysign(math.inf, sum(values)))
    with np.errstate(over="ignore"):
        f = np.float32(s)
    if abs(s) in (_OVERFLOW_TIE, _UNDERFLOW_TIE) or (float(f) != s and math.isfinite(float(f)) and f != 0):
        # rounding twice errs only where s is exactly a float32 midpoint: the residual's sign decides
        r = math.fsum([*values, -s])
        if abs(s) == _OVERFLOW_TIE:  # between ±FLT_MAX and ±2^128 (which is ±inf)
            return np.float32(math.copysign(_FLT_MAX, s)) if r != 0 and (r < 0) == (s > 0) else f
        if abs(s) == _UNDERFLOW_TIE:  # between 0 and the smallest subnormal
            return np.float32(math.copysign(2.0**-149, s)) if r != 0 and (r > 0) == (s > 0) else np.float32(0.0)
        g = np.nextafter(f, np.float32(math.copysign(math.inf, s - float(f))))
        if (float(f) + float(g)) / 2 == s and r != 0.0:
            return g if (r > 0) == (float(g) > s) else f
    return np.float32(0.0) if f == 0 else f  # zero is +0, as everywhere in exact mode


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, counter: Counter | None = None):
    """``a @ b`` for float32 ``a`` (…, m, k) and ``b`` (…, k, n): every element the exact dot product rounded
    once to float32 (round to nearest, ties to even)."""
    if a.dtype != np.float32 or b.dtype != np.float32:
        raise TypeError(f"exact.matmul takes float32 operands, got {a.dtype} and {b.dtype}")
    shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    out = np.empty(shape, dtype=np.float32) if out is None else out
    with np.errstate(over="ignore", invalid="ignore"):  # beyond float32's range: ±inf, as rounding gives
        out[...] = product(a.astype(np.float64), b.astype(np.float64), counter)
    return out


def exact_dot(x: np.ndarray, y: np.ndarray) -> Fraction:
    """The exact dot product of two float32 vectors, as a fraction (every float32 is m·2^e, m and e integers)."""
    total = Fraction(0)
    for p, q in zip(x.tolist(), y.tolist()):  # float32 → Python float is exact
        total += Fraction(p) * Fraction(q)
    return total


#: float32: 24 significand bits, the smallest normal 2⁻¹²⁶, the smallest subnormal 2⁻¹⁴⁹.
_MANT, _EMIN, _ETINY = 24, -126, -149


def round_to_float32(x: Fraction) -> np.float32:
    """``x`` rounded once to float32, to nearest, ties to even (overflow to ±inf; zero is +0)."""
    if x == 0:
        return np.float32(0.0)
    sign = -1.0 if x < 0 else 1.0
    x = abs(x)
    e = x.numerator.bit_length() - x.denominator.bit_length()  # 2^e ≤ x < 2^(e+1)
    if Fraction(2) ** e > x:
        e -= 1
    quantum = max(e - (_MANT - 1), _ETINY)  # the spacing of float32 numbers at x (subnormals: 2⁻¹⁴⁹)
    scaled = x / Fraction(2) ** quantum
    n, rest = divmod(scaled.numerator, scaled.denominator)
    twice = 2 * rest
    if twice > scaled.denominator or (twice == scaled.denominator and n % 2 == 1):
        n += 1
    if e >= 128:  # at least 2¹²⁸: beyond float32's largest number and half its spacing
        return np.float32(sign * math.inf)
    value = math.ldexp(n, quantum)  # exact: n ≤ 2²⁴
    if value > float(np.finfo(np.float32).max):
        return np.float32(sign * math.inf)
    return np.float32(sign * value)


def exact_sum(values) -> float:
    """The exact sum of float values (float32 or float64) rounded once to float64."""
    return math.fsum(np.asarray(values, dtype=np.float64).ravel().tolist())
