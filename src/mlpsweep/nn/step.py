"""One epoch of mini-batch steps for a stack of runs: the reference step, read in one sitting.

A step on a batch B of k rows does, for every run of the stack::

    p = forward(x_B)                          passes.forward: every layer's activation
    g = (1/k) Σ_{x∈B} ∇C_x                    passes.backprop: the mean gradient
    g_w += λ ∇R(w)                            an Lp penalty of p > 1 (its gradient)
    t = rule.threshold(penalty, w)            an Lp penalty of p ≤ 1: ηλp|w|^(p−1), from the weights before the step
    rule.step(θ, g)                           the run's update rule, which owns η (mlpsweep.nn.optimizers)
    w ← u − clip(u, −t, t)                    p ≤ 1: shrink the weights towards zero, stopping there

All runs' parameters live in one (S, P) matrix and their mean gradients in another, whose rows the networks
and rules use; the layers are (S, n_out, n_in) views of it, so a step's products are one batched call over the
stack, and every run ends where it ends trained alone.  How the products and functions are computed is the
arithmetic object's (:mod:`.arith`): these lines are the same mathematics natively and exactly.
"""

from __future__ import annotations

import numpy as np

from .arith import Arithmetic
from .network import Network
from .optimizers import Dropout, make_rule
from .passes import backprop, forward

#: About how many bytes of shuffled rows are gathered per ``take``, for the whole stack: small enough that the
#: gathered rows are still in the core's L2 cache when the steps read them, large enough that a ``take``
#: serves many steps.
GATHER_BYTES = 1 << 20


def gather_rows(batch_size: int, runs: int = 1, row_bytes: int = 784 * 4) -> int:
    """Rows gathered per ``take`` and run: a whole number of batches, at least one, about
    :data:`GATHER_BYTES` in all for a stack of ``runs`` rows of ``row_bytes`` each (the batches, and so the
    results, are the same for any value)."""
    return max(1, GATHER_BYTES // (runs * batch_size * max(1, row_bytes))) * batch_size


def stacked_layers(net: Network, flat: np.ndarray) -> list:
    """``[(W_ℓ, b_ℓ)]`` of every run at once: (S, n_out, n_in) and (S, 1, n_out) views of an (S, P) matrix
    laid out like ``net``'s parameters."""
    S = flat.shape[0]
    return [
        (flat[:, w].reshape(S, n_out, n_in), flat[:, b].reshape(S, 1, n_out))
        for w, b, (n_out, n_in) in zip(net._w_slices, net._b_slices, net._shapes())
    ]


class Steps:
    """The steps of a stack of S runs of one shape (:mod:`.sgd` checks that they stack).

    Builds each run's update rule and dropout from its settings, puts the networks' parameters into the
    stack's matrix (:meth:`release` gives each its own copy back) and runs epochs (:meth:`epoch`).
    """

    def __init__(self, nets: list[Network], settings: list, rngs: list, x, targets, track_gradients=False):
        S, net0 = len(nets), nets[0]
        self.nets, self.rngs, self.x, self.targets, self.S = nets, rngs, x, targets, S
        self.arithmetic: Arithmetic = net0.arithmetic.for_runs(S)  # its counter: the history's exact_fallbacks
        self.elementwise = net0.arithmetic.for_runs(S)  # a penalty's powers (not counted in the history)
        m, d = x.shape
        self.m, self.K, self.nw = m, min(settings[0].batch_size, m), net0.n_weights
        self.P = np.stack([net.params for net in nets])
        self.G = np.zeros_like(self.P)
        for s, net in enumerate(nets):
            net.params = self.P[s]
            net.weights, net.biases = net.views(net.params)
        self.layers, self.grads = stacked_layers(net0, self.P), stacked_layers(net0, self.G)
        dtype, sizes = net0.dtype, net0.sizes
        self.rules = [
            make_rule(
                st.rule, eta=st.eta, eta_decay=st.eta_decay, n_params=net0.n_params, n_weights=self.nw, dtype=dtype
            )
            for st in settings
        ]
        self.penalties = [st.penalty for st in settings]
        self.scratch = np.empty(self.nw, dtype=dtype)  # a p ≤ 1 penalty's shrinkage
        self.dropouts = [Dropout(st.dropout, sizes[1:-1], self.K, dtype) if st.dropout > 0 else None for st in settings]
        # a run without dropout keeps masks of ones
        self.masks = [np.ones((S, self.K, n), dtype=dtype) for n in sizes[1:-1]] if any(self.dropouts) else None
        #: pixels are never negative: exact arithmetic then needs no magnitudes of the input for its bounds
        self.nonnegative_input = bool(m) and float(x.min()) >= 0
        self.chunk = gather_rows(self.K, S, (d + targets.shape[1]) * x.itemsize)
        cap = min(self.chunk, m)
        self.XB = np.empty((S, cap, d), dtype=dtype)
        self.YB = np.empty((S, cap, targets.shape[1]), dtype=dtype)
        self.track = track_gradients
        if track_gradients:  # each step's bias gradient, per run, squared and summed per layer after each chunk
            self.offsets = np.cumsum([0] + sizes[1:-1])
            self.gb_rows = np.empty((S, -(-cap // self.K), self.P.shape[1] - self.nw), dtype=dtype)
            self.sq_norms = np.empty((S, -(-m // self.K), net0.num_layers), dtype=np.float64)

    def gradient(self, x, y) -> None:
        """Every run's mean gradient on the batch ``x`` (S, k, d) with targets ``y``, into ``G``."""
        k = x.shape[1]
        masks = self.draw_masks(k)
        p = forward(self.nets[0], self.layers, x, self.arithmetic, masks, self.nonnegative_input)
        scale = np.array(1.0 / k, dtype=self.P.dtype)  # the mean gradient
        backprop(self.nets[0], self.layers, p, y, self.arithmetic, self.grads, scale, masks, self.nonnegative_input)

    def update(self, s: int) -> None:
        """Run ``s``'s update from its mean gradient: penalty, then its rule (see the module docstring)."""
        params, grad, pen, rule = self.P[s], self.G[s], self.penalties[s], self.rules[s]
        w, gw, t = params[: self.nw], grad[: self.nw], None
        if pen.active and not pen.clips_at_zero:
            gw += pen.gradient(w, arithmetic=self.elementwise)
        if pen.active and pen.clips_at_zero:
            t = rule.threshold(pen, w, self.elementwise)
        rule.step(params, grad)
        if t is not None:
            pen.shrink(w, t, scratch=self.scratch)

    def draw_masks(self, k: int) -> list | None:
        """Each dropping run's masks for a batch of k rows, from its own generator, as alone (None without
        dropout)."""
        if self.masks is None:
            return None
        masks = [mk[:, :k] for mk in self.masks]
        for s, drop in enumerate(self.dropouts):
            if drop is not None:
                drop.draw(self.rngs[s], [mk[s] for mk in masks])
        return masks

    def epoch(self, epoch: int, alive: np.ndarray) -> list | None:
        """One epoch (1-based) of steps for every live run; each run's mean bias-gradient norms per layer
        (of the mean gradient, as backpropagated) when tracking gradients."""
        m, K, chunk = self.m, self.K, self.chunk
        for rule in self.rules:
            rule.start_epoch(epoch)
        live = np.flatnonzero(alive)
        perm = np.stack([rng.permutation(m) for rng in self.rngs])
        steps = 0
        for c0 in range(0, m, chunk):
            idx = perm[:, c0 : c0 + chunk]
            n = idx.shape[1]
            xc, yc = self.XB[:, :n], self.YB[:, :n]
            np.take(self.x, idx, axis=0, out=xc, mode="clip")
            np.take(self.targets, idx, axis=0, out=yc, mode="clip")
            for start in range(0, n, K):
                self.gradient(xc[:, start : start + K], yc[:, start : start + K])
                if self.track:
                    self.gb_rows[:, start // K] = self.G[:, self.nw :]
                for s in live:
                    self.update(s)
            n_steps = -(-n // K)
            if self.track:
                for s in range(self.S):
                    rows = self.gb_rows[s, :n_steps]
                    self.sq_norms[s, steps : steps + n_steps] = self.arithmetic.sum_of_squares(rows, self.offsets)
            steps += n_steps
        if not self.track:
            return None
        norms = np.sqrt(self.sq_norms[:, :steps])
        return [[self.arithmetic.mean(col) for col in norms[s].T] for s in range(self.S)]

    def release(self) -> None:
        """Give each network its own parameters again (no longer a row of the stack)."""
        for s, net in enumerate(self.nets):
            net.params = self.P[s].copy()
            net.weights, net.biases = net.views(net.params)
