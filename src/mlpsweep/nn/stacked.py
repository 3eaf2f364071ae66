"""Training several runs at once as stacked arrays, bit for bit the same as one at a time.

Runs that share layer sizes, activation, output layer, cost, dtype, batch size
and epochs (seeds, and sweep points that differ in η, η decay, λ, p, dropout
rate, init or momentum) train together: every step gathers all runs' rows in
one ``take``, runs one batched product per layer and direction over the
stack ``(S, K, n)`` and, when no run has a penalty or momentum, one update.
Each run keeps its own generator (its shuffles and dropout masks are drawn
exactly as alone), its own η schedule and its own penalty and velocity.

Why the numbers are identical: a batched ``np.matmul`` over ``(S, K, n)``
calls the same BLAS routine with the same shapes and transposes for each
slice as the single-run step does for its one matrix (checked bit for bit in
``tests/test_stacked.py`` for float32 and float64), and everything else is
element-wise.  Monitoring (:func:`mlpsweep.nn.network.evaluate_all`) gives
every run each chunk of rows in turn, with the products of evaluating it
alone.  One wide product ``X @ [W₁ … W_S]`` would *not* be identical:
OpenBLAS sums it in another order than the 30-wide one in float32.

A run whose cost becomes non-finite is marked diverged at that epoch and
stops updating; the others go on unchanged.  The workflow trains runs this
way per ``training.runs_per_job`` (``mlpsweep.train.run_stack``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .network import Network
from .penalties import LpPenalty
from .sgd import (
    Diverged,
    History,
    SGDConfig,
    finite,
    gather_rows,
    monitor,
    prepare_targets,
)

#: What every run of a stack must share.
SHARED = ("sizes", "activation_name", "output_name", "cost_name", "dtype")


def check_stackable(nets: list[Network], configs: list[SGDConfig], names: list[str] | None = None) -> None:
    """Raise ValueError (one line naming the runs and the setting) unless the runs can train as one stack."""
    names = names or [f"run {i}" for i in range(len(nets))]
    first, cfg0 = nets[0], configs[0]
    for i, (net, cfg) in enumerate(zip(nets, configs)):
        for key in SHARED:
            if getattr(net, key) != getattr(first, key):
                raise ValueError(f"{names[i]} differs from {names[0]} in {key.removesuffix('_name')} "
                                 f"({getattr(net, key)} vs {getattr(first, key)}); only runs that share layer sizes, "
                                 "activation, output, cost and dtype train as one stack")
        for key in ("batch_size", "epochs", "eval_chunk"):
            if getattr(cfg, key) != getattr(cfg0, key):
                raise ValueError(f"{names[i]} differs from {names[0]} in {key} ({getattr(cfg, key)} vs "
                                 f"{getattr(cfg0, key)}); stacked runs share batch size, epochs and evaluation chunk")
        if cfg.track_gradients:
            raise ValueError(f"{names[i]}: gradient-norm tracking is not supported in a stack; train it alone")


@dataclass
class StackState:
    """What the per-epoch callback sees (enough to checkpoint the whole stack)."""

    nets: list[Network]
    histories: list[History]
    rngs: list[np.random.Generator]
    epoch: int  # epochs completed
    configs: list[SGDConfig]
    velocities: list  # each run's momentum buffer or None
    diverged: list  # None, or (epoch, last finite cost) of a run that diverged


def train_stacked(nets: list[Network], x, y, configs: list[SGDConfig], rngs: list[np.random.Generator], *,
                  validation: tuple | None = None, test: tuple | None = None, callback=None,
                  start_epoch: int = 0, histories: list[History] | None = None, velocities: list | None = None,
                  diverged: list | None = None) -> list:
    """Train ``nets`` together in place; return each run's :class:`History` or :class:`Diverged`.

    Each run ``s`` ends exactly where ``train(nets[s], x, y, configs[s], rngs[s], …)`` ends.
    ``callback(records, state)`` runs after every epoch with the epoch's record
    of each run (None for a run that has diverged).  To resume, pass
    ``start_epoch``, each run's saved ``histories``, ``velocities`` and
    ``diverged`` entries and generators restored to their saved states.
    """
    S = len(nets)
    if not (S == len(configs) == len(rngs)) or S == 0:
        raise ValueError("one config and one generator per network")
    check_stackable(nets, configs)
    net0, cfg0 = nets[0], configs[0]
    dtype = net0.dtype
    x = np.ascontiguousarray(x, dtype=dtype)
    m, d = x.shape
    targets, labels = prepare_targets(net0, y)
    K = min(cfg0.batch_size, m)
    eval_chunk = cfg0.eval_chunk
    sizes = net0.sizes
    L = net0.num_layers
    hidden, output, cost = net0.hidden, net0.output, net0.cost

    # One parameter matrix (S, P); every network's params become a view of its row.
    P = np.stack([net.params for net in nets])
    for s, net in enumerate(nets):
        net.params = P[s]
        net.weights, net.biases = net.views(net.params)
    G = np.zeros_like(P)
    shapes = list(zip(sizes[1:], sizes[:-1]))
    W, B, GW, GB = [], [], [], []
    for ell, (n_out, n_in) in enumerate(shapes):
        ws, bs = net0._w_slices[ell], net0._b_slices[ell]
        W.append(P[:, ws].reshape(S, n_out, n_in))
        B.append(P[:, bs].reshape(S, 1, n_out))
        GW.append(G[:, ws].reshape(S, n_out, n_in))
        GB.append(G[:, bs])  # (S, n_out): the bias gradient is a vector-matrix product per run, as alone
    for arr in W + B + GW:
        assert np.shares_memory(arr, P) or np.shares_memory(arr, G)
    nw = net0.n_weights

    outs = sizes[1:]
    A = [np.empty((S, K, n), dtype=dtype) for n in outs]
    D = [np.empty((S, K, n), dtype=dtype) for n in outs]
    T = [np.empty((S, K, n), dtype=dtype) for n in outs]
    Z = [np.empty((S, K, n), dtype=dtype) for n in outs[:-1]] if hidden.needs_z else []
    rates = np.array([c.dropout for c in configs])
    dropping = bool((rates > 0).any())
    AM = [np.empty((S, K, n), dtype=dtype) for n in outs[:-1]] if dropping else []
    masks = [np.ones((S, K, n), dtype=dtype) for n in outs[:-1]] if dropping else []
    keep = [np.empty((K, n), dtype=bool) for n in outs[:-1]] if dropping else []
    ones = np.ones(K, dtype=dtype)
    chunk = gather_rows(K, S)
    cap = min(chunk, m)
    XB = np.empty((S, cap, d), dtype=dtype)
    YB = np.empty((S, cap, targets.shape[1]), dtype=dtype)

    penalties = [LpPenalty(c.penalty_p, c.penalty_lambda) for c in configs]
    plain = not any(p.active for p in penalties) and all(c.momentum == 0 for c in configs)
    velocity = [np.zeros_like(P[s]) if configs[s].momentum > 0 else None for s in range(S)]
    if velocities is not None:
        for buf, saved in zip(velocity, velocities):
            if buf is not None and saved is not None:
                buf[...] = saved
    scratch = [np.empty(nw, dtype=dtype) if penalties[s].active else None for s in range(S)]
    mus = [np.array(c.momentum, dtype=dtype) for c in configs]
    histories = [History() for _ in range(S)] if histories is None else histories
    status = [None] * S if diverged is None else [None if d is None else tuple(d) for d in diverged]
    alive = np.array([d is None for d in status])
    last_finite: list = [h[-1]["train_cost"] if len(h) else None for h in histories]
    state = StackState(nets, histories, rngs, start_epoch, configs, velocity, status)

    def step(xk, yk, k, scale):
        a_prev = xk
        for ell in range(L - 1):
            z = A[ell][:, :k]
            np.matmul(a_prev, W[ell].transpose(0, 2, 1), out=z)
            np.add(z, B[ell], out=z)
            if Z:
                np.copyto(Z[ell][:, :k], z)
            hidden.forward(z, out=z)
            if dropping:
                am = AM[ell][:, :k]
                np.multiply(z, masks[ell][:, :k], out=am)
                z = am
            a_prev = z
        inputs_last = a_prev
        z = A[L - 1][:, :k]
        np.matmul(a_prev, W[L - 1].transpose(0, 2, 1), out=z)
        np.add(z, B[L - 1], out=z)
        output.forward(z, out=z)
        delta = D[L - 1][:, :k]
        cost.delta(z, yk, output, out=delta, scratch=T[L - 1][:, :k])
        np.multiply(delta, scale, out=delta)
        for ell in range(L - 1, -1, -1):
            a_in = xk if ell == 0 else (AM[ell - 1][:, :k] if dropping else A[ell - 1][:, :k])
            if ell == L - 1:
                a_in = inputs_last
            np.matmul(delta.transpose(0, 2, 1), a_in, out=GW[ell])
            np.matmul(ones[:k], delta, out=GB[ell])
            if ell:
                d_prev = D[ell - 1][:, :k]
                np.matmul(delta, W[ell], out=d_prev)
                if not hidden.unit_derivative:
                    t = T[ell - 1][:, :k]
                    hidden.derivative(Z[ell - 1][:, :k] if Z else A[ell - 1][:, :k], out=t)
                    np.multiply(d_prev, t, out=d_prev)
                if dropping:
                    np.multiply(d_prev, masks[ell - 1][:, :k], out=d_prev)
                delta = d_prev
        if plain and alive.all():
            np.subtract(P, G, out=P)
            return
        for s in np.flatnonzero(alive):
            p, g, pen = P[s], G[s], penalties[s]
            if velocity[s] is not None:
                if pen.active:
                    pen.gradient(p[:nw], out=scratch[s])
                    np.multiply(scratch[s], etas[s], out=scratch[s])
                    np.add(g[:nw], scratch[s], out=g[:nw])
                np.multiply(velocity[s], mus[s], out=velocity[s])
                np.add(velocity[s], g, out=velocity[s])
                np.subtract(p, velocity[s], out=p)
            elif pen.active:
                pen.step(p[:nw], g[:nw], etas[s], scratch[s])
                np.subtract(p[nw:], g[nw:], out=p[nw:])
            else:
                np.subtract(p, g, out=p)

    for epoch in range(start_epoch + 1, cfg0.epochs + 1):
        if not alive.any():
            break
        t0 = time.perf_counter()
        etas = [c.eta_at(epoch) for c in configs]
        scales = {}
        perms = np.stack([rng.permutation(m) for rng in rngs])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for c0 in range(0, m, chunk):
                idx = perms[:, c0:c0 + chunk]
                n = idx.shape[1]
                xc, yc = (XB, YB) if n == cap else (XB[:, :n], YB[:, :n])
                np.take(x, idx, axis=0, out=xc, mode="clip")
                np.take(targets, idx, axis=0, out=yc, mode="clip")
                for start in range(0, n, K):
                    k = min(K, n - start)
                    if dropping:  # each run draws its masks from its own generator, as alone
                        for s in range(S):
                            if rates[s] > 0:
                                for buf, kp in zip(masks, keep):
                                    u = buf[s, :k]
                                    rngs[s].random(out=u, dtype=dtype)
                                    np.greater_equal(u, rates[s], out=kp[:k])
                                    np.multiply(kp[:k], 1.0 / (1.0 - rates[s]), out=u)
                    scale = scales.get(k)
                    if scale is None:
                        scale = scales[k] = np.array([[[e / k]] for e in etas], dtype=dtype)
                    step(xc[:, start:start + k], yc[:, start:start + k], k, scale)
        t1 = time.perf_counter()
        records: list = [None] * S
        live = np.flatnonzero(alive)
        sgd_share = (t1 - t0) / len(live)
        # Monitoring: every live run on each chunk of rows in turn (read once), each run's numbers as alone.
        monitored = monitor([nets[s] for s in live], x, labels if labels is not None else targets,
                            validation, test, eval_chunk)
        eval_share = (time.perf_counter() - t1) / len(live)
        for s, rec in zip(live, monitored):
            rec = {"epoch": epoch, **rec}
            rec["penalty"] = penalties[s].value(nets[s].weights) if penalties[s].active else 0.0
            rec["seconds"] = sgd_share  # the stack's SGD time, shared out over the runs it trained
            rec["eval_seconds"] = eval_share  # the stack's monitoring time, shared out likewise
            if not finite(rec, nets[s].params):
                status[s] = (epoch, last_finite[s])
                alive[s] = False
                continue
            last_finite[s] = rec["train_cost"]
            histories[s].append(rec)
            records[s] = rec
        state.epoch = epoch
        if callback is not None:
            callback(records, state)
    # each network keeps its own parameters (no longer a view of the stack)
    for s, net in enumerate(nets):
        net.params = P[s].copy()
        net.weights, net.biases = net.views(net.params)
    return [histories[s] if status[s] is None else Diverged(status[s][0], status[s][1], histories[s])
            for s in range(S)]
