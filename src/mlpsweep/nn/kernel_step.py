"""The compiled epoch (Numba): the reference step of :mod:`.step` in exact arithmetic, as loops.

One call runs a whole epoch of every live run of a stack, run by run (runs are independent: each has its own
rows, parameters and rule), step by step: gather the batch, forward, backpropagate, penalty, update rule.
It computes what :mod:`.passes`, :mod:`.arith` (exact), :mod:`.penalties` and :mod:`.optimizers` compute,
value for value, so it gives their bytes (``tests/test_compiled.py`` holds it to them).

Where a sigmoid, tanh or softmax value is too near a float32 rounding boundary to round with certainty, the
kernel stops with those elements' indices in ``pend`` and its position in ``state``; the caller recomputes
them exactly (:mod:`.exact`'s Decimal code) and calls again, and the kernel goes on from that layer.

Layout: ``lay[ℓ] = (n_in, n_out, weight offset, bias offset, activation code, block offset)`` into a run's
flat parameters and the flat (K, n) activation blocks; ``hyper[s]`` a run's rule and penalty constants
(:func:`mlpsweep.nn.compiled.hyper`).
"""

from __future__ import annotations

import numpy as np

from .kernel_rules import RATE, SCALE, update
from .kernels import (
    ZERO,
    activate,
    axpy,
    axpy4,
    axpy_abs,
    derivative_times,
    dot22,
    njit,
    round_sum,
    settle,
    settle_row,
)

# the bundles: float32 buffers, float64 buffers (kernel_step and mlpsweep.nn.compiled share these positions)
XB, YB, Z, A, AM, MK, D1, D2, T = range(9)
MAG, ACC1, ACC2, V, TERMS, PARTIALS, BF = range(7)
# cfg: what the stack's runs share
QUADRATIC, NONNEG_IN, HIDDEN_NONNEG, HIDDEN_CODE, BATCH, NW = range(6)


@njit
def _product_element(s, i, j, v, e, row, w, n, terms, partials, counts):
    """One element of a product from its value and bound, or recomputed exactly from its terms."""
    out, ok = settle(v - e, v + e, v)
    if not ok:
        for q in range(n):
            terms[q] = np.float64(row[q]) * np.float64(w[q])
        out = round_sum(terms, n, partials)
        counts[s] += 1
    return out


@njit
def products(s, x, W, out, c, terms, partials, counts):
    """``out`` (flat, row-major) = x·Wᵀ for x (k, n) and W (p, n), every element the exact dot product rounded
    once (bound factor ``c``, fallbacks counted for run ``s``); two rows against two rows of W at a time
    (:func:`.kernels.dot22`), the odd ones alone."""
    k, n, p = x.shape[0], x.shape[1], W.shape[0]
    for i0 in range(0, k, 2):
        i1 = min(i0 + 1, k - 1)
        for j0 in range(0, p, 2):
            j1 = min(j0 + 1, p - 1)
            v00, e00, v01, e01, v10, e10, v11, e11 = dot22(x[i0], x[i1], W[j0], W[j1], n)
            for i, j, v, e in ((i0, j0, v00, e00), (i0, j1, v01, e01), (i1, j0, v10, e10), (i1, j1, v11, e11)):
                out[i * p + j] = _product_element(s, i, j, v, e * c, x[i], W[j], n, terms, partials, counts)


@njit
def _affine(s, ell, k, lay, P, inp, Z, bf, terms, partials, counts):
    """Z_ℓ = inp·W_ℓᵀ + b_ℓ (:func:`products`, then the bias: a float32 addition)."""
    n_in, n_out, wo, bo, zo = lay[ell, 0], lay[ell, 1], lay[ell, 2], lay[ell, 3], lay[ell, 5]
    x = inp[: k * n_in].reshape(k, n_in)
    W = P[s, wo : wo + n_out * n_in].reshape(n_out, n_in)
    products(s, x, W, Z[zo : zo + k * n_out], bf[n_in], terms, partials, counts)
    for i in range(k):
        for j in range(n_out):
            Z[zo + i * n_out + j] += P[s, bo + j]


@njit
def forward(s, k, resume, lay, P, b32, b64, dropping, counts, pend, state):
    """The forward pass of run ``s`` on the ``k`` rows in ``XB``, from layer ``resume`` (its activation done)
    or the start (−1).  Returns −1, or the layer whose activations wait for the caller (``pend``)."""
    L = lay.shape[0]
    Z_, A_, AM_, MK_ = b32[Z], b32[A], b32[AM], b32[MK]
    values = b64[V]
    for ell in range(L):
        if ell < resume:
            continue
        n_out, zo = lay[ell, 1], lay[ell, 5]
        if ell != resume:
            inp = b32[XB] if ell == 0 else b32[AM if dropping else A][lay[ell - 1, 5] :]
            _affine(s, ell, k, lay, P, inp, Z_, b64[BF], b64[TERMS], b64[PARTIALS], counts)
            waiting = activate(lay[ell, 4], Z_[zo:], A_[zo:], k, n_out, values, values.view(np.uint64), pend)
            if waiting:
                state[3] = waiting
                return ell
        if dropping and ell < L - 1:
            for q in range(k * n_out):
                AM_[zo + q] = A_[zo + q] * MK_[zo + q]
    return -1


@njit
def _weights_gradient(s, ell, k, lay, d, mag, inp, nonnegative, G, ACC1, ACC2, terms, partials, counts):
    """G's W_ℓ = δᵀ·inp, each element rounded once: bracketed by (δ ∓ 4γ|δ|)ᵀ·inp for a non-negative input,
    else value ± (4γ|δ|)ᵀ·|inp|."""
    n_in, n_out, wo = lay[ell, 0], lay[ell, 1], lay[ell, 2]
    lo, hi = ACC1[:n_in], ACC2[:n_in]
    rows = inp[: k * n_in].reshape(k, n_in)
    rows_hi = rows if nonnegative else np.abs(rows)  # what the bound's end sums: the input, or its magnitudes
    cl, ch = np.empty(4), np.empty(4)
    for j in range(n_out):
        lo[:] = 0.0
        hi[:] = 0.0
        for i0 in range(0, k, 4):
            for t in range(4):  # a short block (the batch's last rows) pads with zero coefficients
                i = min(i0 + t, k - 1)
                dj, mj = np.float64(d[i * n_out + j]), mag[i * n_out + j]
                live = i0 + t < k
                cl[t] = (dj - mj if nonnegative else dj) if live else 0.0
                ch[t] = (dj + mj if nonnegative else mj) if live else 0.0
            first = min(i0, k - 4) if k >= 4 else 0
            if k < 4:
                for t in range(k):
                    axpy(lo, cl[t], rows[t], n_in)
                    if nonnegative:
                        axpy(hi, ch[t], rows[t], n_in)
                    else:
                        axpy_abs(hi, ch[t], rows[t], n_in)
            else:
                axpy4(lo, hi, rows, rows_hi, first, _shift(cl, i0 - first), _shift(ch, i0 - first), n_in)
        out = G[s, wo + j * n_in : wo + (j + 1) * n_in]
        if settle_row(lo, hi, out, n_in, not nonnegative):  # the bracket, or value ± bound
            for q in range(n_in):
                a, b = lo[q], hi[q]
                if nonnegative:
                    _, ok = settle(a, b, b)
                else:
                    _, ok = settle(a - b, a + b, a)
                if not ok:
                    for i in range(k):
                        terms[i] = np.float64(d[i * n_out + j]) * np.float64(inp[i * n_in + q])
                    out[q] = round_sum(terms, k, partials)
                    counts[s] += 1


@njit
def _shift(c, by):
    """The four coefficients of rows ``first … first+3`` when the block of ``i0`` was moved back by ``by`` rows to
    fit the batch: the moved-in rows (already done) get zero."""
    if by == 0:
        return c
    out = np.zeros(4)
    out[by:] = c[: 4 - by]
    return out


@njit
def _bias_gradient(s, ell, k, lay, d, mag, G, terms, partials, counts):
    """G's b_ℓ = Σ_rows δ, each element rounded once, bracketed by Σ(δ ∓ 4γ|δ|)."""
    n_out, bo = lay[ell, 1], lay[ell, 3]
    for j in range(n_out):
        lo = 0.0
        hi = 0.0
        for i in range(k):
            dj, mj = np.float64(d[i * n_out + j]), mag[i * n_out + j]
            lo += dj - mj
            hi += dj + mj
        out, ok = settle(lo, hi, hi)
        if not ok:
            for i in range(k):
                terms[i] = np.float64(d[i * n_out + j])
            out = round_sum(terms, k, partials)
            counts[s] += 1
        G[s, bo + j] = out


@njit
def _back(s, ell, k, lay, P, d, mag, d_prev, ACC1, ACC2, terms, partials, counts):
    """δ_{ℓ−1} before σ' = δ·W_ℓ, each element rounded once (value ± (4γ|δ|)·|W|)."""
    n_in, n_out, wo = lay[ell, 0], lay[ell, 1], lay[ell, 2]
    for i in range(k):
        ACC1[:n_in] = 0.0
        ACC2[:n_in] = 0.0
        for j in range(n_out):
            w = P[s, wo + j * n_in : wo + (j + 1) * n_in]
            axpy(ACC1, np.float64(d[i * n_out + j]), w, n_in)
            axpy_abs(ACC2, mag[i * n_out + j], w, n_in)
        for q in range(n_in):
            v, e = ACC1[q], ACC2[q]
            out, ok = settle(v - e, v + e, v)
            if not ok:
                for j in range(n_out):
                    terms[j] = np.float64(d[i * n_out + j]) * np.float64(P[s, wo + j * n_in + q])
                out = round_sum(terms, n_out, partials)
                counts[s] += 1
            d_prev[i * n_in + q] = out


@njit
def _output_delta(k, lay, cfg, b32):
    """δ_L of the batch, times 1/k (the mean): a − y, times σ'(z_L) = a(1 − a) for the quadratic cost on a sigmoid
    output — the reference's float32 operations in its order."""
    last = lay.shape[0] - 1
    n_out, zo = lay[last, 1], lay[last, 5]
    scale, one = np.float32(1.0 / k), np.float32(1.0)
    sigmoid_out = lay[last, 4] == 0
    act, y, d = b32[A], b32[YB], b32[D1]
    for q in range(k * n_out):
        a = act[zo + q]
        t = a - y[q]
        if cfg[QUADRATIC] and sigmoid_out:
            t = t * ((one - a) * a)
        d[q] = t * scale


@njit
def backward(s, k, lay, cfg, P, G, b32, b64, dropping, counts):
    """Run ``s``'s mean gradient (scale 1/k) into ``G`` after :func:`forward`."""
    _output_delta(k, lay, cfg, b32)
    d, spare, mag, bf = b32[D1], b32[D2], b64[MAG], b64[BF]
    terms, partials, acc1, acc2 = b64[TERMS], b64[PARTIALS], b64[ACC1], b64[ACC2]
    for ell in range(lay.shape[0] - 1, -1, -1):
        n_in, n_out = lay[ell, 0], lay[ell, 1]
        c = bf[max(k, n_out)]
        for q in range(k * n_out):
            mag[q] = abs(np.float64(d[q])) * c
        if ell == 0:
            inp, nonnegative = b32[XB], cfg[NONNEG_IN] != 0
        else:
            inp, nonnegative = b32[AM if dropping else A][lay[ell - 1, 5] :], cfg[HIDDEN_NONNEG] != 0
        _weights_gradient(s, ell, k, lay, d, mag, inp, nonnegative, G, acc1, acc2, terms, partials, counts)
        _bias_gradient(s, ell, k, lay, d, mag, G, terms, partials, counts)
        if ell:
            d_prev, spare = spare, d
            _back(s, ell, k, lay, P, d, mag, d_prev, acc1, acc2, terms, partials, counts)
            po = lay[ell - 1, 5]
            derivative_times(cfg[HIDDEN_CODE], d_prev, b32[A][po:], b32[Z][po:], k, n_in)
            if dropping:
                masks = b32[MK]
                for q in range(k * n_in):
                    d_prev[q] = d_prev[q] * masks[po + q]
            d = d_prev


@njit
def _gather(s, start, k, perm, x, y, lay, b32, U, rate, keep, dropping):
    """The batch's rows and targets, and (dropout) its masks from the run's uniforms: ``keep`` where u ≥ r."""
    d, C = x.shape[1], y.shape[1]
    XB_, YB_, MK_ = b32[XB], b32[YB], b32[MK]
    for i in range(k):
        row = perm[s, start + i]
        XB_[i * d : (i + 1) * d] = x[row]
        YB_[i * C : (i + 1) * C] = y[row]
    if dropping:
        H = 0
        for ell in range(lay.shape[0] - 1):
            H += lay[ell, 1]
        u = start * H  # every earlier step drew K·H uniforms
        for ell in range(lay.shape[0] - 1):
            zo, n = lay[ell, 5], lay[ell, 1]
            for q in range(k * n):
                MK_[zo + q] = keep if U[s, u + q] >= rate else ZERO
            u += k * n


@njit
def epoch(x, y, perm, P, G, lay, cfg, b32, b64, U, hyper, R1, R2, bpow, alive, counts, track, GB, state, pend):
    """A whole epoch of every live run, run by run, from the position in ``state`` (run, step, layer whose
    activations the caller has just finished, or −1).  Returns 0 when the epoch is done, 1 when activations
    wait in ``pend`` (``state`` says where; ``state[3]`` how many)."""
    S, m = perm.shape
    K, nw = cfg[BATCH], cfg[NW]
    n_steps = (m + K - 1) // K
    s0, t0, r0 = state[0], state[1], state[2]
    for s in range(s0, S):
        if not alive[s]:
            continue
        dropping = hyper[s, RATE] > 0
        rate, keep = np.float32(hyper[s, RATE]), np.float32(hyper[s, SCALE])
        for t in range(t0 if s == s0 else 0, n_steps):
            start = t * K
            k = min(K, m - start)
            resume = r0 if (s == s0 and t == t0) else -1
            if resume < 0:
                _gather(s, start, k, perm, x, y, lay, b32, U, rate, keep, dropping)
            ell = forward(s, k, resume, lay, P, b32, b64, dropping, counts, pend, state)
            if ell >= 0:
                state[0], state[1], state[2] = s, t, ell
                return 1
            backward(s, k, lay, cfg, P, G, b32, b64, dropping, counts)
            if track:
                GB[s, t, :] = G[s, nw:]
            update(s, P, G, nw, hyper[s], R1, R2, bpow, b32[T])
    state[0], state[1], state[2] = S, 0, -1
    return 0
