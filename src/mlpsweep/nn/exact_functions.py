"""Exact arithmetic's element-wise functions and costs: σ, tanh, softmax, |w|^p and a sample's cost, each the
exact value rounded once to float32 (:mod:`.exact` has the products and the sums).

σ, tanh, softmax, ``|w|^p`` and the costs are computed in float64 from float64 ``exp``,
``log1p``, ``tanh`` and ``pow`` of the C library or NumPy, whose documented errors are a few float64
ulps (glibc: ≤ 2; NumPy's AVX-512 loops: ≤ 4); the check allows :data:`MARGIN` = 4,096 ulps, a
thousandfold safety factor, plus the few ulps the formulas add (sums of non-negative terms only).  The
check is one pass over the float64 result's bits: a float64 value lies within M of its ulps from a
float32 rounding boundary exactly when its 29 low significand bits are within M of 2²⁸ (about one value
in 65,000).  Below 2⁻¹²⁵, where float32's spacing is fixed at 2⁻¹⁴⁹, the value times 2¹⁴⁹ decides by its
fraction's distance from ½ (a saturated sigmoid's tiny outputs are common).  Undecided values are
recomputed with :mod:`decimal`, whose ``exp``, ``ln`` and ``sqrt`` are correctly rounded, at precisions
raised until the result's float32 rounding is certain (Ziv's strategy).

A value the check cannot decide is counted (:class:`.exact.Counter`) and recomputed.
"""

from __future__ import annotations

import decimal
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np

from .exact import _ZERO32, COUNTER, Counter, round_to_float32

#: The float64 ulps a function's float64 value may be off (libm error plus the formula's own roundings).
MARGIN = 4096
_HALF = 1 << 28  # a float32 rounding boundary: the 29 bits float32 drops equal 2²⁸
_SHIFT = np.uint64(MARGIN - _HALF + (1 << 29))  # (bits + shift) mod 2²⁹ < 2M+1 ⇔ |low bits − 2²⁸| ≤ M
_WIDTH = np.uint64(2 * MARGIN + 1)
_LOWMASK = np.uint64((1 << 29) - 1)
#: Below this magnitude float32's spacing is fixed at 2⁻¹⁴⁹ (its lowest binade and its subnormals), where the
#: bit check does not apply (:func:`check` decides those on their own).
_TINY = 2.0**-125
_TINY_BITS = np.array(_TINY).view(np.uint64)


def check(v: np.ndarray, out: np.ndarray, buffers: tuple | None = None, nonnegative: bool = False):
    """Round the float64 values ``v`` (each within :data:`MARGIN` float64 ulps of its exact value) to float32
    into ``out``; return the indices whose rounding that cannot decide (near a float32 rounding boundary, or
    below float32's normal range), or None.  ``buffers``: :func:`check_buffers` of ``v``'s shape, so that
    the passes allocate nothing; ``nonnegative``: ``v`` is never negative (σ), which saves one."""
    bits, mag, near, small = buffers or check_buffers(v.shape)
    np.copyto(out, v, casting="same_kind")
    raw = v.view(np.uint64)
    np.add(raw, _SHIFT, out=bits)
    np.bitwise_and(bits, _LOWMASK, out=bits)
    np.less(bits, _WIDTH, out=near)
    if nonnegative:  # non-negative float64 numbers order as their bits do
        np.less(raw, _TINY_BITS, out=small)
    else:
        np.add(out, _ZERO32, out=out)  # a result that rounds to zero is +0
        np.abs(v, out=mag)
        np.less(mag, _TINY, out=small)
    if small.any():
        # below 2⁻¹²⁵ float32's spacing is 2⁻¹⁴⁹ (its lowest binade and its subnormals): v·2¹⁴⁹ (exact) is
        # below 2²⁴, its error below 2⁻¹⁶, and its fraction's distance from ½ decides the rounding
        flat = np.flatnonzero(small)
        t = np.abs(v.ravel()[flat]) * 2.0**149
        near.ravel()[flat] = np.abs(t - np.floor(t) - 0.5) <= 2.0**-16
    if not near.any():
        return None
    return np.argwhere(near)


def check_buffers(shape) -> tuple:
    """Scratch for :func:`check` of values shaped ``shape``."""
    return np.empty(shape, np.uint64), np.empty(shape), np.empty(shape, bool), np.empty(shape, bool)


#: Overflow gives Infinity and underflow 0 (both far beyond float32's range), rather than an exception.
_CTX = decimal.Context(
    prec=40,
    Emin=-(10**6),
    Emax=10**6,
    rounding=decimal.ROUND_HALF_EVEN,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero],
)


def ziv(compute, digits: int = 34) -> np.float32:
    """float32 rounding of ``compute()``'s Decimal value, computed at ``digits`` significant digits and more
    until the float32 rounding is certain.  ``compute(ctx)`` must give its value within 10^−digits relative
    (plus 2⁻²⁰⁰ absolute) when ``ctx.prec`` is ``digits`` + 12."""
    tiny = Fraction(1, 1 << 200)
    while True:
        ctx = _CTX.copy()
        ctx.prec = digits + 12
        value = compute(ctx)
        if not value.is_finite():
            return np.float32(float(value))
        r = Fraction(value)
        err = abs(r) / 10**digits + tiny
        lo, hi = round_to_float32(r - err), round_to_float32(r + err)
        if lo.view(np.uint32) == hi.view(np.uint32) or digits > 2000:
            return round_to_float32(r) if digits > 2000 else hi
        digits *= 2


def _ln1p(x: Decimal, ctx) -> Decimal:
    """ln(1 + x) for x ≥ 0 without losing the digits of a small x."""
    if x > Decimal("1e-4"):
        return ctx.ln(ctx.add(1, x))
    total, term, k = Decimal(0), x, 1  # x − x²/2 + x³/3 − …
    while True:
        piece = ctx.divide(term, k)
        if piece == 0 or abs(piece) < abs(total) * Decimal(10) ** (-(ctx.prec + 2)):
            return ctx.add(total, piece)
        total = ctx.add(total, piece)
        term = ctx.multiply(term, -x)
        k += 1


def sigmoid_exact(z: float) -> np.float32:
    """σ(z) = 1/(1 + e^{−z}) rounded once to float32."""
    d = Decimal(z)
    return ziv(lambda ctx: ctx.divide(1, ctx.add(1, ctx.exp(-d))))


def tanh_exact(z: float) -> np.float32:
    """tanh z rounded once to float32 (computed as sgn·(1 − e^{−2|z|})/(1 + e^{−2|z|}), more digits for a small
    z)."""
    if z == 0:
        return np.float32(0.0)
    d = abs(Decimal(z))
    extra = max(0, -d.adjusted())

    def compute(ctx):
        ctx.prec += extra
        e = ctx.exp(-2 * d)
        return ctx.divide(ctx.subtract(1, e), ctx.add(1, e))

    r = ziv(compute)
    return r if r == 0 or z > 0 else np.float32(-r)  # a result that rounds to zero is +0


def power_exact(x: float, p: float) -> np.float32:
    """|x|^p rounded once to float32 (0^p = 0 for p > 0, inf for p < 0)."""
    x = abs(x)
    if x == 0:
        return np.float32(0.0 if p > 0 else (1.0 if p == 0 else math.inf))
    dx, dp = Decimal(x), Decimal(p)
    return ziv(lambda ctx: ctx.exp(ctx.multiply(dp, ctx.ln(dx))))


#: The element-wise functions, in float64 with their few-ulp errors (``v = f(z64)``), and their exact forms.
_ONE = np.array(1.0)


def _sigmoid64(w, out):
    """σ from w = −z: 1/(1 + e^w)."""
    np.exp(w, out=out)
    np.add(out, _ONE, out=out)
    return np.divide(_ONE, out, out=out)


#: name: (widen z into float64 — for σ as −z, saving a pass —, the float64 form of the widened value, the exact
#: form of z from the widened value, whether f ≥ 0).
FUNCTIONS = {
    "sigmoid": (np.negative, _sigmoid64, lambda w: sigmoid_exact(-w), True),
    "tanh": (np.positive, lambda w, out: np.tanh(w, out=out), tanh_exact, False),
}


class Function:
    """``out = f(z)`` for float32 ``z`` and ``f`` sigmoid or tanh, rounded once to float32, on fixed buffers
    (``out`` may be ``z``: z is widened before anything is written, and a fallback reads the widened copy)."""

    def __init__(self, name: str, z, out, counter: Counter | None = None):
        self.widen, self.f64, self.exact, self.nonnegative = FUNCTIONS[name]
        self.z, self.out = z, out
        self.counter = COUNTER if counter is None else counter
        self.w, self.v = np.empty(z.shape), np.empty(z.shape)
        self.buffers = check_buffers(z.shape)

    def __call__(self) -> None:
        self.widen(self.z, out=self.w)  # float32 → float64 is exact
        self.f64(self.w, self.v)
        unsure = check(self.v, self.out, self.buffers, self.nonnegative)
        if unsure is not None:
            for idx in map(tuple, unsure):
                self.counter.count(idx)
                self.out[idx] = self.exact(float(self.w[idx]))


def function(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``name`` (sigmoid, tanh) of float32 ``z``, every element rounded once."""
    out = np.empty_like(z) if out is None else out
    with np.errstate(over="ignore"):  # e^{−z} overflows to inf for z < −709: σ(z) is then 0, as it should be
        Function(name, z, out)()  # (z is read into float64 before out is written: in place is fine)
    return out


def softmax(z: np.ndarray, out: np.ndarray, counter: Counter | None = None) -> np.ndarray:
    """Row-wise softmax of float32 ``z`` (…, n) into ``out``, every element e^{z_j}/Σ_k e^{z_k} rounded once.

    In float64: e^{z_j − max} (its error grows with |z_j − max| u; exp underflows to 0 only where the exact
    value is far below float32's smallest number), summed, divided: within :data:`MARGIN` ulps for up to 1,000
    classes and |z_j − max| ≤ 2,000 (beyond, the check's margin is made wider).
    """
    with np.errstate(over="ignore", under="ignore"):
        return _softmax(z, out, COUNTER if counter is None else counter)


def _softmax(z, out, counter):
    z64 = z.astype(np.float64)
    d = z64 - z64.max(axis=-1, keepdims=True)
    e = np.exp(d)
    v = e / e.sum(axis=-1, keepdims=True)
    unsure = check(v, out)
    if unsure is not None:
        for idx in map(tuple, unsure):
            counter.count(idx)
            out[idx] = softmax_exact(z64[idx[:-1]], idx[-1])  # z64: ``out`` may be ``z``, already overwritten
    return out


def softmax_exact(row: np.ndarray, j: int) -> np.float32:
    """Element ``j`` of the softmax of the float32 ``row``, e^{z_j}/Σ_k e^{z_k}, rounded once to float32."""
    values = [Decimal(float(t)) for t in row.tolist()]
    zj = values[j]
    return ziv(lambda ctx: ctx.divide(1, _sum_exp(values, zj, ctx)))


def _sum_exp(row, shift, ctx) -> Decimal:
    total = Decimal(0)
    for t in row:
        total = ctx.add(total, ctx.exp(ctx.subtract(t, shift)))
    return total


def power(x: np.ndarray, p: float, out: np.ndarray, counter: Counter | None = None) -> np.ndarray:
    """|x|^p of float32 ``x`` into float32 ``out``, every element rounded once (|0|^p: 0, or inf for p < 0)."""
    counter = COUNTER if counter is None else counter
    with np.errstate(divide="ignore", over="ignore"):
        v = np.power(np.abs(x, dtype=np.float64), p)
        unsure = check(v, out)
    if unsure is not None:
        for idx in map(tuple, unsure):
            counter.count((0,))
            out[idx] = power_exact(float(x[idx]), p)
    return out


# -- costs and sums -----------------------------------------------------------------------------------------


def sample_costs(cost: str, z: np.ndarray, a: np.ndarray, y: np.ndarray, counter: Counter | None = None):
    """Each sample's cost C_x of float32 pre-activations ``z`` and outputs ``a`` against targets ``y``
    (one-hot rows, or real targets for the quadratic cost), rounded once to float32.

    Each is computed in float64 as a sum of non-negative terms (no cancellation), so within a few ulps:
    quadratic ½Σ(a−y)²; cross-entropy Σ softplus(±z_j) (softplus(t) = ln(1 + e^t), the sign by y_j);
    log-likelihood (max z − z_y) + ln(1 + Σ_{j≠argmax} e^{z_j − max z}).
    """
    with np.errstate(over="ignore", under="ignore"):
        return _sample_costs(cost, z, a, y, COUNTER if counter is None else counter)


def _quadratic(z64, a, y64):
    diff = np.asarray(a, dtype=np.float64) - y64
    return 0.5 * (diff * diff).sum(axis=1)


def _cross_entropy(z64, a, y64):
    return np.logaddexp(0.0, np.where(y64 > 0.5, -z64, z64)).sum(axis=1)


def _log_likelihood(z64, a, y64):
    top = z64.argmax(axis=1)
    rows = np.arange(len(z64))
    zmax = z64[rows, top]
    e = np.exp(z64 - zmax[:, None])
    e[rows, top] = 0.0
    return (zmax - z64[rows, y64.argmax(axis=1)]) + np.log1p(e.sum(axis=1))


#: Each cost's per-sample value in float64 (within a few ulps, no cancellation), by the cost's name: the one
#: registry of exact costs (a cost of mlpsweep.nn.costs without an entry is refused, never computed as another).
SAMPLE_COSTS = {"quadratic": _quadratic, "cross_entropy": _cross_entropy, "log_likelihood": _log_likelihood}


def _sample_costs(cost, z, a, y, counter):
    if cost not in SAMPLE_COSTS:
        raise NotImplementedError(f"cost {cost!r} has no exact kernel (mlpsweep.nn.exact_functions.SAMPLE_COSTS)")
    y64 = np.asarray(y, dtype=np.float64)
    v = SAMPLE_COSTS[cost](np.asarray(z, dtype=np.float64), a, y64)
    out = np.empty(len(v), dtype=np.float32)
    unsure = check(v, out)
    if unsure is not None:
        for (i,) in map(tuple, unsure):
            counter.count((0,))
            out[i] = _cost_exact(cost, z[i], a[i], y64[i])
    return out


def _cost_exact(cost: str, z, a, y) -> np.float32:
    if cost == "quadratic":
        return round_to_float32(sum((Fraction(float(p)) - Fraction(float(q))) ** 2 for p, q in zip(a, y)) / 2)
    zs = [Decimal(float(t)) for t in z]
    if cost == "cross_entropy":

        def compute(ctx):
            total = Decimal(0)
            for t, target in zip(zs, y):
                t = -t if target > 0.5 else t  # softplus(t) = max(t, 0) + ln(1 + e^{−|t|})
                total = ctx.add(total, ctx.add(max(t, Decimal(0)), _ln1p(ctx.exp(-abs(t)), ctx)))
            return total

        return ziv(compute)
    if cost != "log_likelihood":
        raise NotImplementedError(f"cost {cost!r} has no exact kernel (mlpsweep.nn.exact_functions.SAMPLE_COSTS)")
    j = int(np.argmax(y))
    top = int(np.argmax(z))

    def compute(ctx):
        rest = _sum_exp(zs[:top] + zs[top + 1 :], zs[top], ctx)  # Σ_{k≠top} e^{z_k − max}
        return ctx.add(ctx.subtract(zs[top], zs[j]), _ln1p(rest, ctx))

    return ziv(compute)
