"""Update rules: what one run does with its gradient after every mini-batch.

The training loop (:mod:`mlpsweep.nn.sgd`) hands each rule the run's flat
parameter vector ``params`` and the data part of its step ``grad``, already
scaled: ``grad = (η/|B|) Σ_{x∈B} ∇C_x`` (weights first, then biases, the
layout of :class:`~mlpsweep.nn.network.Network`).  A rule changes ``params``
in place and may use ``grad`` as scratch.  One object per run, in the spirit
of scikit-learn's ``_stochastic_optimizers``; the rules:

* :class:`PlainStep`, the lecture's ``θ ← θ − grad``;
* :class:`PenaltyStep`, an Lp penalty on the weights
  (:meth:`~mlpsweep.nn.penalties.LpPenalty.step`: for p ≤ 1 a shrinkage that
  stops at zero, which is where exact zeros come from);
* :class:`MomentumStep`, heavy-ball momentum ``v ← μ v + grad (+ η ∇R)``,
  ``θ ← θ − v``, with an optional penalty of p > 1 in the velocity.

:class:`Dropout` draws a run's inverted-dropout masks from the run's own
generator.
"""

from __future__ import annotations

import numpy as np

from .activations import run
from .penalties import LpPenalty


class UpdateRule:
    """One step on a run's parameters; ``state`` is what a checkpoint must keep (or None).

    :meth:`ops` gives the step as ``(function, args)`` calls on a fixed
    parameter and gradient buffer, which a training job builds once and
    replays every step; :meth:`set_eta` refills the rule's η-dependent
    constants (per epoch, for a decaying η); :meth:`update` runs it once.
    """

    #: True when the step is ``params −= grad`` alone (several such runs are updated with one call).
    plain = False

    def ops(self, params: np.ndarray, grad: np.ndarray) -> list:
        raise NotImplementedError

    def set_eta(self, eta: float) -> None:
        """Use learning rate ``eta`` in the calls :meth:`ops` returns from now on."""

    def update(self, params: np.ndarray, grad: np.ndarray, eta: float) -> None:
        self.set_eta(eta)
        run(self.ops(params, grad))

    @property
    def state(self) -> np.ndarray | None:
        return None


class PlainStep(UpdateRule):
    plain = True

    def ops(self, params, grad):
        return [(np.subtract, (params, grad, params))]


class PenaltyStep(UpdateRule):
    """The data step, then the penalty's step on the weights (the first ``n_weights`` entries)."""

    def __init__(self, penalty: LpPenalty, n_weights: int, dtype):
        self.penalty, self.nw = penalty, n_weights
        self.scratch = np.empty(n_weights, dtype=dtype)
        self.c, self.minus_c = np.zeros((), dtype=dtype), np.zeros((), dtype=dtype)

    def set_eta(self, eta):
        self.c[...] = self.penalty.coefficient(eta)
        np.negative(self.c, out=self.minus_c)

    def ops(self, params, grad):
        nw = self.nw
        return [*self.penalty.step_ops(params[:nw], grad[:nw], self.scratch, self.c, self.minus_c),
                (np.subtract, (params[nw:], grad[nw:], params[nw:]))]


class MomentumStep(UpdateRule):
    """Heavy-ball momentum; a penalty (p > 1) adds η ∇R(w) to the weights' part of the step first."""

    def __init__(self, mu: float, penalty: LpPenalty, n_weights: int, n_params: int, dtype):
        self.mu = np.array(mu, dtype=dtype)
        self.penalty, self.nw = penalty, n_weights
        self.velocity = np.zeros(n_params, dtype=dtype)
        self.scratch = np.empty(n_weights, dtype=dtype) if penalty.active else None
        self.eta = np.zeros((), dtype=dtype)

    def set_eta(self, eta):
        self.eta[...] = eta

    def ops(self, params, grad):
        ops = []
        if self.scratch is not None:
            nw, scratch = self.nw, self.scratch
            ops += [*self.penalty.gradient_ops(params[:nw], scratch), (np.multiply, (scratch, self.eta, scratch)),
                    (np.add, (grad[:nw], scratch, grad[:nw]))]
        v = self.velocity
        return ops + [(np.multiply, (v, self.mu, v)), (np.add, (v, grad, v)), (np.subtract, (params, v, params))]

    @property
    def state(self):
        return self.velocity


def update_rule(momentum: float, penalty: LpPenalty, n_weights: int, n_params: int, dtype) -> UpdateRule:
    """The rule of a run with ``momentum`` μ and ``penalty`` (p ≤ 1 never comes with momentum)."""
    if momentum > 0:
        return MomentumStep(momentum, penalty, n_weights, n_params, dtype)
    if penalty.active:
        return PenaltyStep(penalty, n_weights, dtype)
    return PlainStep()


class Dropout:
    """Inverted dropout of rate r: each hidden unit is kept with probability 1 − r and scaled by 1/(1 − r)."""

    def __init__(self, rate: float, widths, batch_size: int, dtype):
        self.rate = float(rate)
        self.scale = 1.0 / (1.0 - self.rate)
        self.keep = [np.empty((batch_size, n), dtype=bool) for n in widths]

    def draw(self, rng: np.random.Generator, masks) -> None:
        """Fill ``masks`` (one (k, N_ℓ) array per hidden layer) from ``rng``, layer by layer."""
        for u, keep in zip(masks, self.keep):
            kp = keep[: u.shape[0]]
            rng.random(out=u, dtype=u.dtype)
            np.greater_equal(u, self.rate, out=kp)
            np.multiply(kp, self.scale, out=u)
