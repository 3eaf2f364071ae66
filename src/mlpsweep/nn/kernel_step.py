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

from .kernel_rules import RATE, SCALE, update
from .kernels import (
    SMALLEST,
    ZERO,
    ZERO64,
    activate,
    axpy,
    axpy42,
    mag42,
    axpy_abs,
    derivative_times,
    dot22,
    dot42,
    njit,
    round_sum,
    settle,
    settle_scaled,
    sum_of_squares,
)

# the bundles: float32 buffers, float64 buffers (kernel_step and mlpsweep.nn.compiled share these positions)
XB, YB, Z, A, AM, MK, D1, D2, T, H1, H2 = range(11)
MAG, ACC1, ACC2, V, TERMS, PARTIALS, BF, MF = range(8)
# cfg: what the stack's runs share
QUADRATIC, HIDDEN_CODE, BATCH, NW, EXACT = range(5)


@njit
def products(s, x, W, out, c, vals, terms, partials, counts):
    """``out`` (flat, row-major) = x·Wᵀ for x (k, n) and W (p, n), every element the exact dot product rounded
    once: its float64 value (``vals``, k·p scratch), bounded by ``c``·‖xᵢ‖₂·‖w_j‖₂ ≥ ``c``·Σ|xᵢw_j|
    (Cauchy–Schwarz; the factor's slack covers the norms' roundings), the undecided elements recomputed from
    their terms (counted for run ``s``)."""
    k, n, p = x.shape[0], x.shape[1], W.shape[0]
    xn, wn = np.empty(k), np.empty(p)
    for i in range(k):
        xn[i] = math.sqrt(sum_of_squares(x[i], n)) * c
    for j in range(p):
        wn[j] = math.sqrt(sum_of_squares(W[j], n))
    _values(x, W, vals, ZERO64)
    bad = 0
    for i in range(k):
        for j in range(p):
            v, e = vals[i * p + j], xn[i] * wn[j]
            o = np.float32(v + e) + ZERO
            out[i * p + j] = o
            bad += o != np.float32(v - e)
    if bad == 0:
        return
    for i in range(k):
        for j in range(p):
            v, e = vals[i * p + j], xn[i] * wn[j]
            _, ok = settle(v - e, v + e, v)
            if not ok:
                for q in range(n):
                    terms[q] = np.float64(x[i, q]) * np.float64(W[j, q])
                out[i * p + j] = round_sum(terms, n, partials)
                counts[s] += 1


@njit
def _values(x, W, vals, zero):
    """``vals`` (flat, row-major) = x·Wᵀ summed from ``zero`` in its type: four rows against two rows of W at a time
    (:func:`.kernels.dot42`), the last one to three rows two at a time (:func:`.kernels.dot22`)."""
    k, n, p = x.shape[0], x.shape[1], W.shape[0]
    full = k - k % 4
    for i0 in range(0, full, 4):
        for j0 in range(0, p, 2):
            j1 = min(j0 + 1, p - 1)
            v = dot42(x[i0], x[i0 + 1], x[i0 + 2], x[i0 + 3], W[j0], W[j1], n, zero)
            for t in range(4):
                vals[(i0 + t) * p + j0] = v[2 * t]
                vals[(i0 + t) * p + j1] = v[2 * t + 1]
    for i0 in range(full, k, 2):
        i1 = min(i0 + 1, k - 1)
        for j0 in range(0, p, 2):
            j1 = min(j0 + 1, p - 1)
            v00, v01, v10, v11 = dot22(x[i0], x[i1], W[j0], W[j1], n, zero)
            vals[i0 * p + j0] = v00
            vals[i0 * p + j1] = v01
            vals[i1 * p + j0] = v10
            vals[i1 * p + j1] = v11


@njit
def _affine(s, ell, k, lay, P, inp, Z, bf, vals, terms, partials, counts, exact):
    """Z_ℓ = inp·W_ℓᵀ + b_ℓ: the product (:func:`products`, or summed in float32 natively), then the bias (a
    float32 addition)."""
    n_in, n_out, wo, bo, zo = lay[ell, 0], lay[ell, 1], lay[ell, 2], lay[ell, 3], lay[ell, 5]
    x = inp[: k * n_in].reshape(k, n_in)
    W = P[s, wo : wo + n_out * n_in].reshape(n_out, n_in)
    if exact:
        products(s, x, W, Z[zo : zo + k * n_out], bf[n_in], vals, terms, partials, counts)
    else:
        _values(x, W, Z[zo : zo + k * n_out], ZERO)
    for i in range(k):
        for j in range(n_out):
            Z[zo + i * n_out + j] += P[s, bo + j]


@njit
def forward(s, k, resume, lay, P, b32, b64, dropping, counts, pend, state, exact):
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
            _affine(s, ell, k, lay, P, inp, Z_, b64[BF], values, b64[TERMS], b64[PARTIALS], counts, exact)
            waiting = activate(lay[ell, 4], Z_[zo:], A_[zo:], k, n_out, values, values.view(np.uint64), pend, exact)
            if waiting:
                state[3] = waiting
                return ell
        if dropping and ell < L - 1:
            for q in range(k * n_out):
                AM_[zo + q] = A_[zo + q] * MK_[zo + q]
    return -1


@njit
def _weights_gradient(s, ell, k, lay, d, inp, G, ACC1, ACC2, H1, H2, c, terms, partials, counts):
    """G's W_ℓ = δᵀ·inp, each element rounded once: its float64 value ± ``c``·(Σᵢ|δᵢⱼ·inpᵢ_q| summed in float32
    + k·2⁻¹⁴⁹) (:func:`.exact.magnitude_factor`); two outputs j at a time, four rows at a time (rank-1 updates
    along the contiguous input axis: :func:`.kernels.axpy42`, :func:`.kernels.mag42`), the batch's last block
    padded with a zero row."""
    n_in, n_out, wo = lay[ell, 0], lay[ell, 1], lay[ell, 2]
    rows = inp[: k * n_in].reshape(k, n_in)
    zero = np.zeros(n_in, inp.dtype)
    c0, c1, m0, m1 = np.empty(4), np.empty(4), np.empty(4, np.float32), np.empty(4, np.float32)
    tiny = k * SMALLEST
    for j0 in range(0, n_out, 2):
        j1 = min(j0 + 1, n_out - 1)
        ACC1[:n_in] = 0.0
        ACC2[:n_in] = 0.0
        H1[:n_in] = ZERO
        H2[:n_in] = ZERO
        for i0 in range(0, k, 4):
            for t in range(4):
                i = i0 + t
                a = d[i * n_out + j0] if i < k else ZERO
                b = d[i * n_out + j1] if i < k else ZERO
                c0[t], c1[t], m0[t], m1[t] = np.float64(a), np.float64(b), abs(a), abs(b)
            r1 = rows[i0 + 1] if i0 + 1 < k else zero
            r2 = rows[i0 + 2] if i0 + 2 < k else zero
            r3 = rows[i0 + 3] if i0 + 3 < k else zero
            axpy42(ACC1, ACC2, rows[i0], r1, r2, r3, c0, c1, n_in)
            mag42(H1, H2, rows[i0], r1, r2, r3, m0, m1, n_in)
        for j, acc, h in ((j0, ACC1, H1), (j1, ACC2, H2)):
            if j == j1 and j1 == j0:
                continue
            out = G[s, wo + j * n_in : wo + (j + 1) * n_in]
            if settle_scaled(acc, h, tiny, c, out, n_in):
                for q in range(n_in):
                    e = c * (np.float64(h[q]) + tiny)
                    _, ok = settle(acc[q] - e, acc[q] + e, acc[q])
                    if not ok:
                        for i in range(k):
                            terms[i] = np.float64(d[i * n_out + j]) * np.float64(inp[i * n_in + q])
                        out[q] = round_sum(terms, k, partials)
                        counts[s] += 1


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
    exact = cfg[EXACT] != 0
    d, spare, mag, bf = b32[D1], b32[D2], b64[MAG], b64[BF]
    terms, partials, acc1, acc2 = b64[TERMS], b64[PARTIALS], b64[ACC1], b64[ACC2]
    for ell in range(lay.shape[0] - 1, -1, -1):
        n_in, n_out = lay[ell, 0], lay[ell, 1]
        inp = b32[XB] if ell == 0 else b32[AM if dropping else A][lay[ell - 1, 5] :]
        if exact:
            c = bf[max(k, n_out)]
            for q in range(k * n_out):
                mag[q] = abs(np.float64(d[q])) * c
            h1, h2, f = b32[H1], b32[H2], b64[MF][k]
            _weights_gradient(s, ell, k, lay, d, inp, G, acc1, acc2, h1, h2, f, terms, partials, counts)
            _bias_gradient(s, ell, k, lay, d, mag, G, terms, partials, counts)
        else:
            _native_gradients(s, ell, k, lay, d, inp, G, b32[H1])
        if ell:
            d_prev, spare = spare, d
            if exact:
                _back(s, ell, k, lay, P, d, mag, d_prev, acc1, acc2, terms, partials, counts)
            else:
                _native_back(s, ell, k, lay, P, d, d_prev)
            po = lay[ell - 1, 5]
            derivative_times(cfg[HIDDEN_CODE], d_prev, b32[A][po:], b32[Z][po:], k, n_in)
            if dropping:
                masks = b32[MK]
                for q in range(k * n_in):
                    d_prev[q] = d_prev[q] * masks[po + q]
            d = d_prev


@njit
def _native_gradients(s, ell, k, lay, d, inp, G, spare):
    """Native arithmetic's weight and bias gradients of a layer: δᵀ·inp and Σ_rows δ summed in float32 (any
    order; two outputs, four rows per pass, as :func:`_weights_gradient`)."""
    n_in, n_out, wo, bo = lay[ell, 0], lay[ell, 1], lay[ell, 2], lay[ell, 3]
    rows = inp[: k * n_in].reshape(k, n_in)
    zero = np.zeros(n_in, inp.dtype)
    c0, c1 = np.empty(4, np.float32), np.empty(4, np.float32)
    for j0 in range(0, n_out, 2):
        j1 = j0 + 1 if j0 + 1 < n_out else -1
        g0 = G[s, wo + j0 * n_in : wo + (j0 + 1) * n_in]
        g1 = G[s, wo + j1 * n_in : wo + (j1 + 1) * n_in] if j1 >= 0 else spare[:n_in]
        g0[:] = ZERO
        g1[:] = ZERO
        for i0 in range(0, k, 4):
            for t in range(4):
                i = i0 + t
                c0[t] = d[i * n_out + j0] if i < k else ZERO
                c1[t] = d[i * n_out + j1] if i < k and j1 >= 0 else ZERO
            r1 = rows[i0 + 1] if i0 + 1 < k else zero
            r2 = rows[i0 + 2] if i0 + 2 < k else zero
            r3 = rows[i0 + 3] if i0 + 3 < k else zero
            axpy42(g0, g1, rows[i0], r1, r2, r3, c0, c1, n_in)
    for j in range(n_out):
        t = ZERO
        for i in range(k):
            t += d[i * n_out + j]
        G[s, bo + j] = t


@njit
def _native_back(s, ell, k, lay, P, d, d_prev):
    """Native arithmetic's δ_{ℓ−1} before σ' = δ·W_ℓ, summed in float32."""
    n_in, n_out, wo = lay[ell, 0], lay[ell, 1], lay[ell, 2]
    for i in range(k):
        acc = d_prev[i * n_in : (i + 1) * n_in]
        acc[:] = ZERO
        for j in range(n_out):
            axpy(acc, d[i * n_out + j], P[s, wo + j * n_in : wo + (j + 1) * n_in], n_in)


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
            ell = forward(s, k, resume, lay, P, b32, b64, dropping, counts, pend, state, cfg[EXACT] != 0)
            if ell >= 0:
                state[0], state[1], state[2] = s, t, ell
                return 1
            backward(s, k, lay, cfg, P, G, b32, b64, dropping, counts)
            if track:
                GB[s, t, :] = G[s, nw:]
            update(s, P, G, nw, hyper[s], R1, R2, bpow, b32[T])
    state[0], state[1], state[2] = S, 0, -1
    return 0
