"""Compiled kernels of exact arithmetic (Numba): the same mathematics as :mod:`.exact`, so the same bytes.

Exact arithmetic makes every element the correctly rounded value of its mathematics, so a kernel computed in
any order, with any instructions, gives the bytes of :func:`.exact.matmul` as long as it decides each element
the same way: a float64 value and a rigorous bound, the element settled where both ends of its interval round to
the same float32, and recomputed exactly (:func:`.exact.round_sum`) where they do not.  This module holds the
first of those kernels, the product; the compiled training step (#39) builds on it.

Fast-math flags land on every floating-point instruction of the function they are given to.  The dot products
may use ``reassoc`` and ``contract`` (the bound holds for any order, with or without FMA: :func:`.exact.bound_factor`);
the element-wise finish (``v ± e``, the casts, the comparison) is a function of its own without them, because a
fused multiply-add there would round once where the bound's arithmetic assumes twice.

Numba is optional: :func:`available` says whether it imports, and callers fall back to :mod:`.exact`'s NumPy
code, which gives the same bytes.  Compiled code is cached beside this module (or under ``NUMBA_CACHE_DIR``),
so a job loads it instead of compiling it.
"""

from __future__ import annotations

import functools

import numpy as np

from . import exact


@functools.cache
def available() -> bool:
    """Whether Numba imports in this process."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _accumulate():
    import numba

    @numba.njit(cache=True, fastmath={"reassoc", "contract"})
    def accumulate(a, b, v, s, nonzero):
        """``v = a @ b`` and ``s = |a| @ |b|`` in float64 by rank-1 updates along ``b``'s contiguous rows (they
        vectorise), four rows of ``b`` per pass over the accumulators (a quarter of their loads and stores); a
        zero of ``a`` adds exactly nothing to either and is skipped."""
        m, n = a.shape
        for i in range(m):
            vi, si = v[i], s[i]
            vi[:] = 0.0
            si[:] = 0.0
            count = 0
            for k in range(n):
                if a[i, k] != 0:
                    nonzero[count] = k
                    count += 1
            q = 0
            while q + 4 <= count:
                k0, k1, k2, k3 = nonzero[q], nonzero[q + 1], nonzero[q + 2], nonzero[q + 3]
                x0, x1 = np.float64(a[i, k0]), np.float64(a[i, k1])
                x2, x3 = np.float64(a[i, k2]), np.float64(a[i, k3])
                m0, m1, m2, m3 = abs(x0), abs(x1), abs(x2), abs(x3)
                r0, r1, r2, r3 = b[k0], b[k1], b[k2], b[k3]
                for j in range(r0.shape[0]):
                    y0, y1 = np.float64(r0[j]), np.float64(r1[j])
                    y2, y3 = np.float64(r2[j]), np.float64(r3[j])
                    vi[j] += x0 * y0 + x1 * y1 + x2 * y2 + x3 * y3
                    si[j] += m0 * abs(y0) + m1 * abs(y1) + m2 * abs(y2) + m3 * abs(y3)
                q += 4
            while q < count:
                k0 = nonzero[q]
                x0 = np.float64(a[i, k0])
                m0, r0 = abs(x0), b[k0]
                for j in range(r0.shape[0]):
                    y0 = np.float64(r0[j])
                    vi[j] += x0 * y0
                    si[j] += m0 * abs(y0)
                q += 1

    return accumulate


@functools.cache
def _settle():
    import numba

    @numba.njit(cache=True)
    def settle(v, s, c, out, unsure):
        """Each element from its value and bound ``c·s``, where both ends round to one float32 (zero as +0);
        the others marked in ``unsure`` (a non-finite value is a diverged run's, left as it is).  No fast-math
        flags: these roundings are the bound's own."""
        left = 0
        for i in range(v.shape[0]):
            for j in range(v.shape[1]):
                e = s[i, j] * c
                hi = np.float32(v[i, j] + e)
                lo = np.float32(v[i, j] - e)
                out[i, j] = hi + np.float32(0.0)
                if hi != lo and np.isfinite(v[i, j]):
                    unsure[i, j] = True
                    left += 1
        return left

    return settle


@functools.cache
def _kernels():
    """The product: :func:`_accumulate` then :func:`_settle`, one compiled call."""
    import numba

    accumulate, settle = _accumulate(), _settle()

    @numba.njit(cache=True)
    def product(a, b, out, unsure, c, v, s):
        """``out = a @ b`` settled where the bound decides; returns how many elements are left (``unsure``)."""
        accumulate(a, b, v, s, np.empty(a.shape[1], dtype=np.int64))
        return settle(v, s, c, out, unsure)

    return product


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, counter: exact.Counter | None = None):
    """``a @ b`` for 2-D float32 ``a`` (m, n) and ``b`` (n, p), every element the exact dot product rounded once
    to float32: the bytes of :func:`.exact.matmul`, from a compiled kernel."""
    if a.dtype != np.float32 or b.dtype != np.float32 or a.ndim != 2 or b.ndim != 2:
        raise TypeError(f"compiled.matmul takes 2-D float32 operands, got {a.dtype} {a.shape} and {b.dtype} {b.shape}")
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.float32) if out is None else out
    unsure = np.zeros(out.shape, dtype=bool)
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    v, s = np.empty(out.shape), np.empty(out.shape)
    left = _kernels()(a, b, out, unsure, exact.bound_factor(a.shape[1]), v, s)
    if left:
        counter = exact.COUNTER if counter is None else counter
        for i, j in np.argwhere(unsure):
            counter.count((i, j))
            out[i, j] = exact.round_sum(a[i].astype(np.float64) * b[:, j].astype(np.float64))
    return out
