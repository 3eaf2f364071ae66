"""The update rules and penalties of the compiled epoch (:mod:`.kernel_step`): :mod:`.optimizers`' and
:mod:`.penalties`' float32 operations, in their order, element by element (so the same bytes)."""

from __future__ import annotations

import math

import numpy as np

from .kernels import ZERO, njit

# rules and penalties: codes shared with mlpsweep.nn.compiled
SGD, MOMENTUM, NESTEROV, ADAM = range(4)
NO_PENALTY, L2, L_ONE_AND_HALF, L1, L_HALF = range(5)
# hyper columns
RULE, ETA, MU, B1, ONE_B1, B2, ONE_B2, EPS, BETA1, BETA2, DECAY, PENALTY, LAM, POWER, RATE, SCALE = range(16)


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
