"""Lp weight penalties  R(W) = λ Σ_ℓ Σ_ij |w_ij|^p  (weights only, never biases).

Scaling of λ
    The objective minimised is ``J = (1/n) Σ_x C_x + λ Σ |w|^p``: λ multiplies
    the penalty of the *per-sample average* cost.  One mini-batch step is
    therefore ``W ← W − η [(1/|B|) Σ_{x∈B} ∇C_x + λ p |W|^{p−1} sgn W]``,
    whatever the batch size.  Nielsen's L2 convention ``C0 + λ_N/(2n) Σ w²``
    (network2.py) is the case p = 2 with ``λ = λ_N / (2n)``.

The gradient p|w|^{p−1} sgn(w) is the lecture's; :meth:`LpPenalty.gradient`
takes it as 0 at w = 0 (a subgradient for p = 1; for p < 1 the derivative is
unbounded there).  For p > 1 a step simply adds η times it.  For p ≤ 1 a plain
gradient step would make small weights jump across zero and oscillate, never
reaching it; the penalty's part of the step is therefore applied as a
*shrinkage towards zero that stops at zero*: after the data step
``u = w − (η/|B|) Σ∇C_x``, ``w ← sgn(u) · max(|u| − η λ p |w|^{p−1}, 0)``.
For p = 1 this is the proximal (soft-thresholding) step of L1 (ISTA); for
p < 1 the threshold grows as |w| shrinks, so a weight at exactly zero stays
there.  That is how p ≤ 1 produces exact zeros; :func:`sparsity` counts them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .activations import run


@dataclass(frozen=True)
class LpPenalty:
    """λ Σ|w|^p with p > 0 and λ ≥ 0 (the config schema checks both)."""

    p: float
    lam: float

    @property
    def active(self) -> bool:
        return self.lam > 0

    @property
    def clips_at_zero(self) -> bool:
        return self.p <= 1

    def value(self, weights) -> float:
        """λ Σ |w|^p over a list of weight arrays (float64)."""
        total = 0.0
        for w in weights:
            total += float(np.sum(np.abs(w, dtype=np.float64) ** self.p))
        return self.lam * total

    def gradient(self, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """λ p |w|^{p−1} sgn(w), zero where w = 0."""
        out = np.empty_like(w) if out is None else out
        run(self.gradient_ops(w, out))
        return out

    def gradient_ops(self, w: np.ndarray, out: np.ndarray) -> list:
        """:meth:`gradient` as ``(function, args)`` calls.  p = 2: one product ``w·(2λ)``, equal to
        ``(w·2)·λ`` bit for bit (doubling is exact); p = 1: λ sgn(w)."""
        if self.p == 2:
            return [(np.multiply, (w, 2.0 * self.lam, out))]
        if self.p == 1:
            return [(np.sign, (w, out)), (np.multiply, (out, self.lam, out))]
        return [(self._general_gradient, (w, out))]

    def _general_gradient(self, w, out):
        np.abs(w, out=out)
        np.power(out, self.p - 1.0, out=out, where=out != 0)
        out *= np.sign(w)
        out *= self.p
        np.multiply(out, self.lam, out=out)

    def coefficient(self, eta: float) -> float:
        """The number a step of rate η multiplies by: η for p > 1 (η ∇R), ηλp for p ≤ 1 (the threshold's)."""
        return float(eta) if not self.clips_at_zero else float(eta) * self.lam * self.p

    def step(self, w: np.ndarray, data_step: np.ndarray, eta: float, scratch: np.ndarray) -> None:
        """One SGD update of ``w`` in place: the data step, then the penalty's (:meth:`step_ops`)."""
        c = np.array(self.coefficient(eta), dtype=w.dtype)
        run(self.step_ops(w, data_step, scratch, c, np.negative(c)))

    def step_ops(self, w, data_step, scratch, c, minus_c) -> list:
        """One SGD update of ``w`` as ``(function, args)`` calls: the data step, then the penalty's.

        ``data_step`` is the data part of the step, already multiplied by
        η/|B| (its buffer is used as scratch); ``c`` and ``minus_c`` are 0-d
        arrays of ``w``'s dtype holding ± :meth:`coefficient` (a training job
        refills them when η changes and replays the calls every step).
        p > 1: ``w −= data_step + η ∇R(w)``; p ≤ 1: shrinkage towards zero
        that stops at zero (see the module docstring), computed as
        ``u − clip(u, −t, t)`` with the data step ``u`` and the threshold
        ``t = ηλp|w|^{p−1}``, which equals ``sgn(u)·max(|u| − t, 0)`` exactly
        (rounding is symmetric about zero) except that a weight stopped at
        zero is +0.0 rather than −0.0, in five or eight passes over the
        weights where the sign-and-magnitude form took eight or ten
        (``copysign`` and a maximum against a scalar are NumPy's slow ones).
        For p = ½, |w|^{−½} is ``1/sqrt|w|`` rather than ``|w| ** −0.5``
        (sqrt and divide are vectorised, a general power is not): the
        threshold differs by round-off.  Run them under
        ``np.errstate(divide="ignore")`` when p < 1 (|0|^{p−1} is inf there,
        which is meant: the weight stays at zero).
        """
        if not self.clips_at_zero:
            return [*self.gradient_ops(w, scratch), (np.multiply, (scratch, c, scratch)),
                    (np.subtract, (w, data_step, w)), (np.subtract, (w, scratch, w))]
        u = (np.subtract, (w, data_step, w))  # u, the data step
        if self.p == 1:  # a threshold shared by every weight: one clip against ±c
            return [u, (np.clip, (w, minus_c, c, data_step)), (np.subtract, (w, data_step, w))]
        t = scratch
        if self.p == 0.5:
            threshold = [(np.sqrt, (t, t)), (np.divide, (c, t, t))]
        else:
            threshold = [(np.power, (t, self.p - 1.0, t)), (np.multiply, (t, c, t))]
        # data_step's buffer is free once u is formed: clip(u, −t, t) goes there
        return [(np.abs, (w, t)), *threshold, u, (functools.partial(np.minimum, out=data_step), (w, t)),
                (np.negative, (t, t)), (functools.partial(np.maximum, out=data_step), (data_step, t)),
                (np.subtract, (w, data_step, w))]


def reference_step(penalty: LpPenalty, w: np.ndarray, data_step: np.ndarray, eta: float) -> None:
    """The p ≤ 1 step in its textbook form ``sgn(u)·max(|u| − ηλp|w|^{p−1}, 0)`` (slow; the tests hold
    :meth:`LpPenalty.step` to it)."""
    t = eta * penalty.lam * penalty.p * np.abs(w) ** (penalty.p - 1.0)
    u = w - data_step
    w[...] = np.copysign(np.maximum(np.abs(u) - t, 0.0), u)


def sparsity(weights, threshold: float = 1e-3) -> dict:
    """How sparse a list of weight arrays is.

    Returns the total count, how many are exactly zero, and how many have
    |w| < ``threshold`` (the share of each as a fraction).
    """
    total = sum(int(np.size(w)) for w in weights)
    zero = sum(int(np.count_nonzero(np.asarray(w) == 0)) for w in weights)
    small = sum(int(np.count_nonzero(np.abs(w) < threshold)) for w in weights)
    return {
        "weights": total,
        "exactly_zero": zero,
        "below_threshold": small,
        "threshold": threshold,
        "zero_fraction": zero / total if total else 0.0,
        "below_threshold_fraction": small / total if total else 0.0,
    }
