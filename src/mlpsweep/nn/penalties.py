"""Lp weight penalties  R(W) = λ Σ_ℓ Σ_ij |w_ij|^p  (weights only, never biases).

Scaling of λ
    The objective minimised is ``J = (1/n) Σ_x C_x + λ Σ |w|^p``: λ multiplies
    the penalty of the *per-sample average* cost.  One mini-batch step is
    therefore ``W ← W − η [(1/|B|) Σ_{x∈B} ∇C_x + λ p |W|^{p−1} sgn W]``,
    whatever the batch size.  Nielsen's L2 convention ``C0 + λ_N/(2n) Σ w²``
    (network2.py) is the case p = 2 with ``λ = λ_N / (2n)``.

The gradient p|w|^{p−1} sgn(w) is the lecture's; :meth:`LpPenalty.gradient`
takes it as 0 at w = 0 (a subgradient for p = 1; for p < 1 the derivative is
unbounded there).  For p > 1 it is added to the mean gradient before the update rule's step.  For p ≤ 1 a plain
gradient step would make small weights jump across zero and oscillate, never
reaching it; the penalty's part of the step is therefore applied as a
*shrinkage towards zero that stops at zero*: after the data step
``u = w − η (1/|B|) Σ∇C_x`` (plain SGD), ``w ← sgn(u) · max(|u| − η λ p |w|^{p−1}, 0)``.
For p = 1 this is the proximal (soft-thresholding) step of L1 (ISTA); for
p < 1 the threshold grows as |w| shrinks, so a weight at exactly zero stays
there.  That is how p ≤ 1 produces exact zeros; :func:`sparsity` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import arith


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

    def value(self, weights, arithmetic=None) -> float:
        """λ Σ |w|^p over a list of weight arrays (float64), in ``arithmetic`` (:mod:`.arith`; default native).
        Exact: the terms exact (p = 1, 2) or rounded once to float32 (other p), their sum exact and rounded
        once, then times λ."""
        arithmetic = arithmetic or arith.Native()
        return self.lam * arithmetic.total([arithmetic.penalty_terms(w, self.p) for w in weights])

    def gradient(self, w: np.ndarray, out: np.ndarray | None = None, arithmetic=None) -> np.ndarray:
        """λ p |w|^{p−1} sgn(w), zero where w = 0.  p = 2: one product ``w·(2λ)``, equal to ``(w·2)·λ`` bit for
        bit (doubling is exact); p = 1: λ sgn(w)."""
        out = np.empty_like(w) if out is None else out
        if self.p == 2:
            return np.multiply(w, 2.0 * self.lam, out=out)
        if self.p == 1:
            np.sign(w, out=out)
            return np.multiply(out, self.lam, out=out)
        np.abs(w, out=out)
        _power(out, self.p - 1.0, arithmetic, where=out != 0)
        out *= np.sign(w)
        out *= self.p
        return np.multiply(out, self.lam, out=out)

    def threshold(self, w: np.ndarray, eta, out: np.ndarray, arithmetic=None) -> np.ndarray:
        """p ≤ 1: the shrinkage threshold ``t = ηλp|w|^{p−1}`` of every weight, from the weights before the step.

        ηλp is rounded once to ``w``'s dtype.  For p = ½, |w|^{−½} is ``1/sqrt|w|`` rather than
        ``|w| ** −0.5`` (sqrt and divide are vectorised, a general power is not).  Run it under
        ``np.errstate(divide="ignore")`` when p < 1: |0|^{p−1} is inf, which is meant (the weight stays at 0).
        """
        c = np.array(float(eta) * self.lam * self.p, dtype=w.dtype)
        if self.p == 1:  # one threshold shared by every weight
            out[...] = c
        elif self.p == 0.5:
            np.abs(w, out=out)
            np.sqrt(out, out=out)
            np.divide(c, out, out=out)
        else:
            np.abs(w, out=out)
            _power(out, self.p - 1.0, arithmetic)
            np.multiply(out, c, out=out)
        return out

    def shrink(self, w: np.ndarray, t: np.ndarray, scratch: np.ndarray) -> None:
        """p ≤ 1, after the data step made ``w`` into u: ``w ← u − clip(u, −t, t)`` (``t`` is overwritten).

        This equals ``sgn(u)·max(|u| − t, 0)`` exactly (rounding is symmetric about zero), except that a
        weight stopped at zero is +0.0 rather than −0.0, in four passes where the sign-and-magnitude form
        takes six (``copysign`` and a maximum against a scalar are NumPy's slow ones).
        """
        np.minimum(w, t, out=scratch)
        np.negative(t, out=t)
        np.maximum(scratch, t, out=scratch)
        np.subtract(w, scratch, out=w)


def _power(x: np.ndarray, e: float, arithmetic, where=None) -> None:
    """``x ← x**e`` in place (where ``where``; x ≥ 0), in ``arithmetic`` (default native)."""
    arithmetic = arithmetic or arith.Native()
    if where is None:
        arithmetic.power(x.copy(), e, x)
    else:
        x[where] = arithmetic.power(x[where], e, np.empty(int(np.count_nonzero(where)), dtype=x.dtype))


def step(penalty: LpPenalty, w: np.ndarray, data_step: np.ndarray, eta, scratch: np.ndarray) -> None:
    """A p ≤ 1 run's whole update of its weights ``w`` from its ``data_step`` (η times the mean gradient), as
    :class:`mlpsweep.nn.step.Steps` composes it around the SGD step: the threshold from ``w``, then
    ``w −= data_step``, then the shrinkage (``data_step`` is used as scratch)."""
    t = penalty.threshold(w, eta, out=np.empty_like(w))
    np.subtract(w, data_step, out=w)
    penalty.shrink(w, t, scratch=scratch)


def reference_step(penalty: LpPenalty, w: np.ndarray, data_step: np.ndarray, eta: float) -> None:
    """The p ≤ 1 step in its textbook form ``sgn(u)·max(|u| − ηλp|w|^{p−1}, 0)`` with ``u = w − data_step``
    (slow; the tests hold :meth:`LpPenalty.threshold` and :meth:`LpPenalty.shrink` to it)."""
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
