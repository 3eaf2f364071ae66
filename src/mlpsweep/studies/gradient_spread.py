"""How noisy is a mini-batch gradient?  Its spread against the batch size K.

At a fixed network (its parameters at initialisation from a seed) the full
gradient g = (1/m) Σ_x ∇C_x is computed over the whole training set, then for
each K many batches B of K distinct samples are drawn and the spread
``s_K = sqrt(mean ‖g_B − g‖²)`` of the batch mean g_B is measured.  Sampling
theory says ``s_K = s_1 · sqrt((m − K) / ((m − 1) K))`` — the lecture's
1/√K law, with the finite-population factor that matters only as K → m.
The slope of log s_K against log K should be −1/2.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from ..nn import Network

log = logging.getLogger("mlpsweep.gradient_spread")


def _flat(net: Network, x, y) -> np.ndarray:
    gw, gb = net.backprop(x, y)
    return np.concatenate([g.ravel() for g in gw] + [g.ravel() for g in gb]).astype(np.float64)


def full_gradient(net: Network, x, y, chunk: int = 5000) -> np.ndarray:
    total = np.zeros(net.n_params)
    for start in range(0, x.shape[0], chunk):
        total += _flat(net, x[start : start + chunk], y[start : start + chunk])
    return total / x.shape[0]


def measure(net: Network, x, y, batch_sizes, draws: int, rng: np.random.Generator) -> list[dict]:
    """One row per K: measured spread, the law's prediction and their ratio."""
    x = np.asarray(x)
    y = np.asarray(y)
    m = x.shape[0]
    g = full_gradient(net, x, y)
    rows = []
    for k in sorted(int(k) for k in batch_sizes if 1 <= int(k) <= m):
        dev = np.empty(draws)
        for i in range(draws):
            idx = rng.choice(m, size=k, replace=False)
            dev[i] = np.sum((_flat(net, x[idx], y[idx]) / k - g) ** 2)
        rows.append({"batch_size": k, "draws": draws, "spread": math.sqrt(dev.mean())})
    # The law's constant s_1, fitted to all K at once (geometric mean of the implied s_1).
    shape = [math.sqrt((m - r["batch_size"]) / ((m - 1) * r["batch_size"])) if m > 1 else 0.0 for r in rows]
    implied = [r["spread"] / f for r, f in zip(rows, shape) if f > 0]
    s1 = math.exp(float(np.mean(np.log(implied)))) if implied else math.nan
    for row in rows:
        k = row["batch_size"]
        row["law"] = s1 * math.sqrt((m - k) / ((m - 1) * k)) if m > 1 else 0.0
        row["ratio_to_law"] = row["spread"] / row["law"] if row["law"] > 0 else math.nan
        log.info("K = %d: spread %.4g (1/sqrt(K) law %.4g, ratio %.3f)", k, row["spread"], row["law"], row["ratio_to_law"])
    return rows


def slope(rows, max_fraction: float = 0.1, m: int | None = None) -> float:
    """Least-squares slope of log spread on log K (K ≤ max_fraction·m, where the law is 1/√K)."""
    pts = [(r["batch_size"], r["spread"]) for r in rows if m is None or r["batch_size"] <= max_fraction * m]
    if len(pts) < 2:
        return math.nan
    lk = np.log([p[0] for p in pts])
    ls = np.log([p[1] for p in pts])
    return float(np.polyfit(lk, ls, 1)[0])
