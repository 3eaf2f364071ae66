"""One epoch of mini-batch steps for a stack of runs: gather a batch, backpropagate, update.

A step on a batch B of k rows reads, for every run of the stack:

    g = (1/k) Σ_{x∈B} ∇C_x            backpropagation: the mean gradient (Workspace.backward)
    g_w += λ ∇R(w)                    an Lp penalty of p > 1 (its gradient)
    t = ηλp|w|^(p−1)                  an Lp penalty of p ≤ 1: the threshold, from the weights before the step
    rule.step(θ, g)                   the run's update rule, which owns η (mlpsweep.nn.optimizers)
    w ← u − clip(u, −t, t)            p ≤ 1: shrink the weights towards zero, stopping there

(:meth:`Steps.update`).  All runs' parameters live in one (S, P) matrix, and their mean gradients in
another, whose rows the networks and rules use; the products of a step are one batched call over the
stack (the same BLAS call, on the same shapes, as for each run alone), so every run ends where it ends
trained alone.

For speed the forward and backward pass of a batch position are built once, as the NumPy calls that
compute them with every buffer fixed, and replayed every epoch (:class:`_Replay`): at K = 10 a step is
call overhead, not arithmetic.  ``eager=True`` (or ``MLPSWEEP_EAGER_STEP=1`` in the environment) runs each
call through :func:`~.activations.run_eagerly`, which names the failing call, its layer and its arrays'
shapes in the traceback.
"""

from __future__ import annotations

import math
import os

import numpy as np

from . import activations as act
from . import exact
from .network import Network, Workspace
from .optimizers import SGD, Dropout, make_rule

#: About how many bytes of shuffled rows are gathered per ``take``, for the whole stack: small enough that the
#: gathered rows are still in the core's L2 cache when the steps read them (a 2,048-row float32 chunk of
#: 784 features, 6.4 MB, made the K = 128 epoch 25 % slower), large enough that a ``take`` serves many steps.
GATHER_BYTES = 1 << 20


def gather_rows(batch_size: int, runs: int = 1, row_bytes: int = 784 * 4) -> int:
    """Rows gathered per ``take`` and run: a whole number of batches, at least one, about
    :data:`GATHER_BYTES` in all for a stack of ``runs`` rows of ``row_bytes`` each (the batches, and so the
    results, are the same for any value)."""
    return max(1, GATHER_BYTES // (runs * batch_size * max(1, row_bytes))) * batch_size


class _Replay:
    """The forward and backward pass of one batch position, built once as calls on fixed buffers."""

    def __init__(self, calls: list, eager: bool):
        self.calls, self.eager = calls, eager

    def __call__(self) -> None:
        if self.eager:
            act.run_eagerly(self.calls)
            return
        for function, args in self.calls:
            function(*args)


class Steps:
    """The steps of a stack of S runs of one shape (:mod:`.sgd` checks that they stack).

    Builds each run's update rule and dropout from its settings, puts the networks' parameters into the
    stack's matrix (:meth:`release` gives each its own copy back) and runs epochs (:meth:`epoch`).
    """

    def __init__(
        self,
        nets: list[Network],
        settings: list,
        rngs: list,
        x: np.ndarray,
        targets: np.ndarray,
        track_gradients: bool = False,
        eager: bool | None = None,
    ):
        S, net0 = len(nets), nets[0]
        self.nets, self.rngs, self.x, self.targets, self.S = nets, rngs, x, targets, S
        self.eager = bool(os.environ.get("MLPSWEEP_EAGER_STEP")) if eager is None else eager
        dtype, sizes = net0.dtype, net0.sizes
        m, d = x.shape
        self.m, self.K = m, min(settings[0].batch_size, m)
        self.P = np.stack([net.params for net in nets])
        for s, net in enumerate(nets):
            net.params = self.P[s]
            net.weights, net.biases = net.views(net.params)
        self.nw = nw = net0.n_weights
        self.rules = [
            make_rule(st.rule, eta=st.eta, eta_decay=st.eta_decay, n_params=net0.n_params, n_weights=nw, dtype=dtype)
            for st in settings
        ]
        self.penalties = [st.penalty for st in settings]
        self.thresholds = [
            np.empty(nw, dtype=dtype) if pen.active and pen.clips_at_zero else None for pen in self.penalties
        ]
        self.scratch = np.empty(nw, dtype=dtype) if any(p.active for p in self.penalties) else None
        #: every run on plain SGD without a penalty: the stack's update is two calls, not two per run
        self.plain = all(type(r) is SGD for r in self.rules) and not any(p.active for p in self.penalties)
        self.etas = np.empty((S, 1), dtype=dtype)
        self.dropouts = [Dropout(st.dropout, sizes[1:-1], self.K, dtype) if st.dropout > 0 else None for st in settings]
        self.dropping = any(self.dropouts)
        #: exact arithmetic: each run's fallbacks to exact recomputation (mlpsweep.nn.exact), read per epoch
        self.counter = exact.Counter(S, stacked=S > 1)
        self.ws = Workspace(net0, self.P, self.K, dropout=self.dropping, counter=self.counter)
        if self.ws.exact:  # pixels are never negative: their products then carry their own error bounds
            self.ws.input_nonnegative = bool(m) and float(x.min()) >= 0
        self.G = self.ws.grad
        lead = () if S == 1 else (S,)
        # a run without dropout keeps masks of ones; views of the first k rows made once per k
        self.masks = [np.ones((*lead, self.K, n), dtype=dtype) for n in sizes[1:-1]] if self.dropping else None
        self.mask_frames: dict = {}
        self.means: dict = {}  # 1/k per batch size k, in the parameters' dtype
        self.replays: dict = {}  # the forward and backward pass per (start, k)
        self.chunk = gather_rows(self.K, S, (d + targets.shape[1]) * x.itemsize)
        cap = min(self.chunk, m)
        self.XB = np.empty((*lead, cap, d), dtype=dtype)
        self.YB = np.empty((*lead, cap, targets.shape[1]), dtype=dtype)
        self.track = track_gradients
        if track_gradients:
            # every step copies its bias gradient into a row of ``gb_rows``; after each chunk the rows are
            # squared and summed per layer at once into ``sq_norms``
            self.offsets = np.cumsum([0] + sizes[1:-1])
            self.gb_rows = np.empty((S, -(-cap // self.K), self.P.shape[1] - nw), dtype=dtype)
            self.sq_norms = np.empty((S, -(-m // self.K), net0.num_layers), dtype=np.float64)

    # -- one step ------------------------------------------------------------------------------------------
    def update(self, s: int) -> None:
        """Run ``s``'s update from its mean gradient: penalty, then its rule (see the module docstring)."""
        params, grad, pen, rule = self.P[s], self.G[s], self.penalties[s], self.rules[s]
        w, gw, t = params[: self.nw], grad[: self.nw], self.thresholds[s]
        if pen.active and not pen.clips_at_zero:
            np.add(gw, pen.gradient(w, out=self.scratch), out=gw)
        if t is not None:
            pen.threshold(w, rule.eta, out=t)
        rule.step(params, grad)
        if t is not None:
            pen.shrink(w, t, scratch=self.scratch)

    def update_plain(self) -> None:
        """Every run's ``θ ← θ − η g`` in two calls over the stack (bit for bit each run's :meth:`SGD.step`)."""
        np.multiply(self.G, self.etas if self.S > 1 else self.etas[0, 0], out=self.G)
        np.subtract(self.P, self.G, out=self.P)

    def replay(self, start: int, k: int) -> _Replay:
        """The forward and backward pass of the batch of k rows at ``start`` in the gather buffers."""
        found = self.replays.get((start, k))
        if found is None:
            xk, yk = self.XB[..., start : start + k, :], self.YB[..., start : start + k, :]
            masks = self.mask_frame(k)
            calls = self.ws.forward_ops(xk, k, masks) + self.ws.backward_ops(xk, yk, k, self.mean(k), masks)
            if self.track:
                calls.append((np.copyto, (self.gb_rows[:, start // self.K], self.G[:, self.nw :])))
            found = self.replays[(start, k)] = _Replay(calls, self.eager)
        return found

    def mean(self, k: int) -> np.ndarray:
        """1/k in the parameters' dtype (backpropagation scales δ_L by it: the mean gradient)."""
        if k not in self.means:
            self.means[k] = np.array(1.0 / k, dtype=self.P.dtype)
        return self.means[k]

    def mask_frame(self, k: int) -> list | None:
        """The dropout masks of a batch of k rows (views of the first k rows, made once per k), or None."""
        if not self.dropping:
            return None
        masks = self.mask_frames.get(k)
        if masks is None:
            masks = self.mask_frames[k] = [mk[..., :k, :] for mk in self.masks]
        return masks

    def draw_masks(self, k: int) -> None:
        """Each dropping run's masks for a batch of k rows, from its own generator, as alone."""
        masks = self.mask_frame(k)
        for s, drop in enumerate(self.dropouts):
            if drop is not None:
                drop.draw(self.rngs[s], masks if self.S == 1 else [mk[s] for mk in masks])

    # -- one epoch -----------------------------------------------------------------------------------------
    def epoch(self, epoch: int, alive: np.ndarray) -> list | None:
        """One epoch (1-based) of steps for every live run; each run's mean bias-gradient norms per layer
        (of the mean gradient, as backpropagated) when tracking gradients."""
        S, m, K, chunk = self.S, self.m, self.K, self.chunk
        for rule in self.rules:
            rule.start_epoch(epoch)
        self.etas[:, 0] = [rule.eta for rule in self.rules]
        live = np.flatnonzero(alive)
        plain = self.plain and len(live) == S
        perm = np.stack([rng.permutation(m) for rng in self.rngs])
        if S == 1:
            perm = perm[0]
        steps = 0
        for c0 in range(0, m, chunk):
            idx = perm[..., c0 : c0 + chunk]
            n = idx.shape[-1]
            xc, yc = (self.XB, self.YB) if n == self.XB.shape[-2] else (self.XB[..., :n, :], self.YB[..., :n, :])
            np.take(self.x, idx, axis=0, out=xc, mode="clip")
            np.take(self.targets, idx, axis=0, out=yc, mode="clip")
            for start in range(0, n, K):
                k = min(K, n - start)
                if self.dropping:
                    self.draw_masks(k)
                self.replay(start, k)()
                if plain:
                    self.update_plain()
                else:
                    for s in live:
                        self.update(s)
            n_steps = -(-n // K)
            if self.track:
                for s in range(S):
                    rows = self.gb_rows[s, :n_steps]
                    if self.ws.exact:  # each step's Σg² exact (float32 squares are exact in float64), rounded once
                        squares = np.square(rows, dtype=np.float64)
                        bounds = [*self.offsets, rows.shape[1]]
                        self.sq_norms[s, steps : steps + n_steps] = [
                            [math.fsum(row[a:b]) for a, b in zip(bounds, bounds[1:])] for row in squares.tolist()
                        ]
                        continue
                    np.multiply(rows, rows, out=rows)
                    np.add.reduceat(rows, self.offsets, axis=1, out=self.sq_norms[s, steps : steps + n_steps])
            steps += n_steps
        if not self.track:
            return None
        norms = np.sqrt(self.sq_norms[:, :steps])
        if self.ws.exact:  # the mean over the epoch's steps: an exact sum, rounded once, then divided
            return [[math.fsum(col) / steps for col in norms[s].T.tolist()] for s in range(S)]
        return [[float(v) for v in norms[s].mean(axis=0)] for s in range(S)]

    def release(self) -> None:
        """Give each network its own parameters again (no longer a row of the stack)."""
        for s, net in enumerate(self.nets):
            net.params = self.P[s].copy()
            net.weights, net.biases = net.views(net.params)
