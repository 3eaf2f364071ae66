"""Universal approximation, measured: one hidden layer of N units fitting f on a compact set.

The theorem: a network with one hidden layer of enough units of a continuous,
non-polynomial activation approximates any continuous function on a compact
set as closely as asked (in the sup norm).  Here f is known and synthetic:

``sin3x_abs``   f(x) = sin(3x) + |x| on [−1, 1]                 (1-D)
``bump2d``      f(x, y) = sin(πx)·cos(πy) + |x·y| on [−1, 1]²   (2-D)

For each width N a network [d, N, 1] (given activation, linear output,
quadratic cost) is trained with :func:`mlpsweep.nn.train` on a sample grid and
its sup-norm error is measured on a much denser grid.  With σ(z) = z² the
network is a polynomial of degree 2 whatever N, so its error stops falling:
the theorem's condition is not a technicality.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_text
from ..nn import Network, SGDConfig, train

log = logging.getLogger("mlpsweep.universal")

TARGETS = {
    "sin3x_abs": (1, lambda x: np.sin(3 * x[:, 0]) + np.abs(x[:, 0])),
    "bump2d": (2, lambda x: np.sin(np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1]) + np.abs(x[:, 0] * x[:, 1])),
}


def grid(dim: int, points: int) -> np.ndarray:
    """A regular grid on [−1, 1]^dim with ``points`` per axis, as (n, dim) rows."""
    axis = np.linspace(-1.0, 1.0, points)
    if dim == 1:
        return axis[:, None]
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return np.column_stack([xx.ravel(), yy.ravel()])


def fit(target: str, activation: str, width: int, seed: int, *, epochs: int = 400, eta: float = 0.05,
        batch_size: int = 16, momentum: float = 0.9, train_points: int | None = None,
        test_points: int | None = None) -> tuple[dict, Network]:
    """Train [d, width, 1] on ``target`` and measure its errors on a dense grid."""
    dim, f = TARGETS[target]
    train_points = train_points or (256 if dim == 1 else 33)
    test_points = test_points or (4001 if dim == 1 else 201)
    x = grid(dim, train_points)
    y = f(x)[:, None]
    rng = np.random.default_rng(seed)
    net = Network([dim, width, 1], activation=activation, output="linear", cost="quadratic", init="xavier", rng=rng)
    cfg = SGDConfig(epochs=epochs, batch_size=batch_size, eta=eta, momentum=momentum, eta_decay=0.995,
                    track_gradients=False)
    started = time.perf_counter()
    status = "ok"
    try:
        train(net, x, y, cfg, rng)
    except Exception as exc:  # Diverged: recorded, the sweep goes on
        status = f"diverged: {exc}"
    xt = grid(dim, test_points)
    err = np.abs(net(xt)[:, 0] - f(xt)) if status == "ok" else np.array([np.inf])
    return {
        "target": target, "dim": dim, "activation": activation, "width": width, "seed": seed,
        "status": status, "sup_error": float(err.max()), "rmse": float(np.sqrt(np.mean(err**2))),
        "seconds": time.perf_counter() - started, "epochs": epochs,
    }, net


def run(target: str, activation: str, widths, seed: int, out_dir, **kwargs) -> list[dict]:
    """Every width for one (target, activation): ``results.json`` and ``fits.npz`` in ``out_dir``."""
    out_dir = Path(out_dir)
    dim = TARGETS[target][0]
    show = grid(dim, 401 if dim == 1 else 2)
    rows, curves = [], {}
    for width in widths:
        row, net = fit(target, activation, int(width), seed, **kwargs)
        rows.append(row)
        if dim == 1 and row["status"] == "ok":
            curves[f"width_{width}"] = net(show)[:, 0]
        log.info("%s, %s, N = %d: sup error %.4f, rmse %.4f (%.1f s)", target, activation, width,
                 row["sup_error"], row["rmse"], row["seconds"])
    write_text(out_dir / "results.json", json.dumps(rows, indent=1, allow_nan=True) + "\n")
    with atomic_path(out_dir / "fits.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, x=show[:, 0], target=TARGETS[target][1](show), **curves)
    return rows
