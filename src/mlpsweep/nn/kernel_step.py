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

import math

import numpy as np

from .kernels import (
    ZERO,
    axpy4,
    axpy4_abs,
    dot22,
    settle_row,
    activate,
    axpy,
    axpy_abs,
    derivative_times,
    njit,
    round_sum,
    settle,
)

# rules and penalties: codes shared with mlpsweep.nn.compiled
SGD, MOMENTUM, NESTEROV, ADAM = range(4)
NO_PENALTY, L2, L_ONE_AND_HALF, L1, L_HALF = range(5)
# hyper columns
RULE, ETA, MU, B1, ONE_B1, B2, ONE_B2, EPS, BETA1, BETA2, DECAY, PENALTY, LAM, POWER, RATE, SCALE = range(16)


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
def _affine(s, ell, k, lay, P, inp, Z, bf, terms, partials, counts):
    """Z_ℓ = inp·W_ℓᵀ + b_ℓ, every product element the exact dot product rounded once; two rows against two
    weight rows at a time (:func:`.kernels.dot22`), the odd ones alone."""
    n_in, n_out, wo, bo, zo = lay[ell, 0], lay[ell, 1], lay[ell, 2], lay[ell, 3], lay[ell, 5]
    c = bf[n_in]
    x = inp[: k * n_in].reshape(k, n_in)
    W = P[s, wo : wo + n_out * n_in].reshape(n_out, n_in)
    for i0 in range(0, k, 2):
        i1 = min(i0 + 1, k - 1)
        for j0 in range(0, n_out, 2):
            j1 = min(j0 + 1, n_out - 1)
            v00, e00, v01, e01, v10, e10, v11, e11 = dot22(x[i0], x[i1], W[j0], W[j1], n_in)
            for i, j, v, e in ((i0, j0, v00, e00), (i0, j1, v01, e01), (i1, j0, v10, e10), (i1, j1, v11, e11)):
                out = _product_element(s, i, j, v, e * c, x[i], W[j], n_in, terms, partials, counts)
                Z[zo + i * n_out + j] = out + P[s, bo + j]


@njit
def forward(s, k, resume, lay, P, XB, Z, A, AM, masks, dropping, bf, V, bits, terms, partials, counts, pend, state):
    """The forward pass of run ``s`` on the ``k`` rows in ``XB``, from layer ``resume`` (its activation done)
    or the start (−1).  Returns −1, or the layer whose activations wait for the caller (``pend``)."""
    L = lay.shape[0]
    for ell in range(L):
        if ell < resume:
            continue
        n_out, zo = lay[ell, 1], lay[ell, 5]
        size = k * n_out
        if ell != resume:
            inp = XB if ell == 0 else (AM if dropping else A)[lay[ell - 1, 5] :]
            _affine(s, ell, k, lay, P, inp, Z, bf, terms, partials, counts)
            waiting = activate(lay[ell, 4], Z[zo:], A[zo:], k, n_out, V, bits, pend)
            if waiting:
                state[3] = waiting
                return ell
        if dropping and ell < L - 1:
            for q in range(size):
                AM[zo + q] = A[zo + q] * masks[zo + q]
    return -1


@njit
def _weights_gradient(s, ell, k, lay, d, mag, inp, nonnegative, G, ACC1, ACC2, terms, partials, counts):
    """G's W_ℓ = δᵀ·inp, each element rounded once: bracketed by (δ ∓ 4γ|δ|)ᵀ·inp for a non-negative input,
    else value ± (4γ|δ|)ᵀ·|inp|."""
    n_in, n_out, wo = lay[ell, 0], lay[ell, 1], lay[ell, 2]
    lo, hi = ACC1[:n_in], ACC2[:n_in]
    rows = inp[: k * n_in].reshape(k, n_in)
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
            elif nonnegative:
                axpy4(lo, hi, rows, first, _shift(cl, i0 - first), _shift(ch, i0 - first), n_in)
            else:
                axpy4_abs(lo, hi, rows, first, _shift(cl, i0 - first), _shift(ch, i0 - first), n_in)
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
def backward(
    s,
    k,
    lay,
    cost_quadratic,
    y_rows,
    P,
    G,
    XB,
    Z,
    A,
    AM,
    masks,
    dropping,
    nonneg_in,
    hidden_nonneg,
    hidden_code,
    bf,
    D1,
    D2,
    MAG,
    ACC1,
    ACC2,
    terms,
    partials,
    counts,
):
    """Run ``s``'s mean gradient (scale 1/k) into ``G`` after :func:`forward`."""
    L = lay.shape[0]
    last = L - 1
    n_out, zo = lay[last, 1], lay[last, 5]
    scale = np.float32(1.0 / k)
    one = np.float32(1.0)
    sigmoid_out = lay[last, 4] == 0
    d = D1
    for q in range(k * n_out):
        a = A[zo + q]
        t = a - y_rows[q]
        if cost_quadratic and sigmoid_out:
            t = t * ((one - a) * a)
        d[q] = t * scale
    for ell in range(last, -1, -1):
        n_in, n_out = lay[ell, 0], lay[ell, 1]
        c = bf[max(k, n_out)]
        for q in range(k * n_out):
            MAG[q] = abs(np.float64(d[q])) * c
        if ell == 0:
            inp, nonnegative = XB, nonneg_in
        else:
            inp, nonnegative = (AM if dropping else A)[lay[ell - 1, 5] :], hidden_nonneg
        _weights_gradient(s, ell, k, lay, d, MAG, inp, nonnegative, G, ACC1, ACC2, terms, partials, counts)
        _bias_gradient(s, ell, k, lay, d, MAG, G, terms, partials, counts)
        if ell:
            d_prev = D2 if d is D1 else D1
            _back(s, ell, k, lay, P, d, MAG, d_prev, ACC1, ACC2, terms, partials, counts)
            po = lay[ell - 1, 5]
            derivative_times(hidden_code, d_prev, A[po:], Z[po:], k, n_in)
            if dropping:
                for q in range(k * n_in):
                    d_prev[q] = d_prev[q] * masks[po + q]
            d = d_prev


@njit
def _min(a, b):
    return a if (a <= b or a != a) else b  # np.minimum


@njit
def _max(a, b):
    return a if (a >= b or a != a) else b  # np.maximum


@njit
def update(s, P, G, nw, h, R1, R2, bpow, T):
    """Run ``s``'s penalty and rule on its mean gradient (:meth:`mlpsweep.nn.step.Steps.update`)."""
    n = P.shape[1]
    eta = np.float32(h[ETA])
    pen = int(h[PENALTY])
    lam32 = np.float32(h[LAM])
    if pen == L2:
        twice = np.float32(2.0 * h[LAM])
        for q in range(nw):
            G[s, q] = G[s, q] + P[s, q] * twice
    elif pen == L_ONE_AND_HALF:
        p32 = np.float32(h[POWER])
        for q in range(nw):
            w = P[s, q]
            t = abs(w)
            if t != 0:
                t = np.sqrt(t)  # |w|^(1/2), correctly rounded
            sign = np.float32(1.0) if w > 0 else (np.float32(-1.0) if w < 0 else (ZERO if w == 0 else w))
            G[s, q] = G[s, q] + ((t * sign) * p32) * lam32
    elif pen == L1 or pen == L_HALF:
        c = np.float32(np.float64(eta) * h[LAM] * h[POWER])
        for q in range(nw):
            T[q] = c if pen == L1 else c / np.sqrt(abs(P[s, q]))
    rule = int(h[RULE])
    if rule == SGD:
        for q in range(n):
            P[s, q] = P[s, q] - G[s, q] * eta
    elif rule == MOMENTUM:
        mu = np.float32(h[MU])
        for q in range(n):
            R1[s, q] = R1[s, q] * mu + G[s, q] * eta
            P[s, q] = P[s, q] - R1[s, q]
    elif rule == NESTEROV:
        mu = np.float32(h[MU])
        for q in range(n):
            g = G[s, q] * eta
            R1[s, q] = R1[s, q] * mu - g
            P[s, q] = (P[s, q] - g) + R1[s, q] * mu
    else:
        _adam(s, P, G, nw, h, R1, R2, bpow)
    if pen == L1 or pen == L_HALF:
        for q in range(nw):
            w = P[s, q]
            P[s, q] = w - _max(_min(w, T[q]), -T[q])


@njit
def _adam(s, P, G, nw, h, M, V, bpow):
    """Adam (and AdamW's decoupled decay): :class:`mlpsweep.nn.optimizers.Adam`'s operations, in its order."""
    bpow[s, 0] *= h[BETA1]
    bpow[s, 1] *= h[BETA2]
    eta64 = np.float64(np.float32(h[ETA]))
    if h[DECAY]:
        shrink = np.float32(eta64 * h[DECAY])
        for q in range(nw):
            P[s, q] = P[s, q] - P[s, q] * shrink
    b1, one_b1, b2, one_b2 = np.float32(h[B1]), np.float32(h[ONE_B1]), np.float32(h[B2]), np.float32(h[ONE_B2])
    eps = np.float32(h[EPS])
    correction = np.float32(1.0 / math.sqrt(1.0 - bpow[s, 1]))
    step_size = np.float32(eta64 / (1.0 - bpow[s, 0]))
    for q in range(P.shape[1]):
        g = G[s, q]
        M[s, q] = M[s, q] * b1 + g * one_b1
        V[s, q] = V[s, q] * b2 + (g * g) * one_b2
        den = np.sqrt(V[s, q]) * correction + eps
        P[s, q] = P[s, q] - (M[s, q] / den) * step_size


@njit
def epoch(
    x,
    y,
    perm,
    P,
    G,
    lay,
    K,
    cost_quadratic,
    nonneg_in,
    hidden_nonneg,
    hidden_code,
    bf,
    XB,
    YB,
    Z,
    A,
    AM,
    MK,
    U,
    hyper,
    nw,
    R1,
    R2,
    bpow,
    T,
    D1,
    D2,
    MAG,
    ACC1,
    ACC2,
    V,
    bits,
    terms,
    partials,
    alive,
    counts,
    track,
    GB,
    state,
    pend,
):
    """A whole epoch of every live run, run by run, from the position in ``state`` (run, step, layer whose
    activations the caller has just finished, or −1).  Returns 0 when the epoch is done, 1 when activations
    wait in ``pend`` (``state`` says where; ``state[3]`` how many)."""
    S, m = perm.shape
    d, C = x.shape[1], y.shape[1]
    L = lay.shape[0]
    H = 0
    for ell in range(L - 1):
        H += lay[ell, 1]
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
                for i in range(k):
                    row = perm[s, start + i]
                    XB[i * d : (i + 1) * d] = x[row]
                    YB[i * C : (i + 1) * C] = y[row]
                if dropping:
                    u = start * H
                    for ell in range(L - 1):
                        zo, n = lay[ell, 5], lay[ell, 1]
                        for q in range(k * n):
                            MK[zo + q] = keep if U[s, u + q] >= rate else ZERO
                        u += k * n
            ell = forward(
                s, k, resume, lay, P, XB, Z, A, AM, MK, dropping, bf, V, bits, terms, partials, counts, pend, state
            )
            if ell >= 0:
                state[0], state[1], state[2] = s, t, ell
                return 1
            backward(
                s,
                k,
                lay,
                cost_quadratic,
                YB,
                P,
                G,
                XB,
                Z,
                A,
                AM,
                MK,
                dropping,
                nonneg_in,
                hidden_nonneg,
                hidden_code,
                bf,
                D1,
                D2,
                MAG,
                ACC1,
                ACC2,
                terms,
                partials,
                counts,
            )
            if track:
                GB[s, t, :] = G[s, nw:]
            update(s, P, G, nw, hyper[s], R1, R2, bpow, T)
    state[0], state[1], state[2] = S, 0, -1
    return 0
