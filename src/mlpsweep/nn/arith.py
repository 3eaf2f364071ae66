"""How a network computes: its arithmetic, an object handed to the network and the training step.

Everything the step does that depends on *how* numbers are computed goes through one of these objects; the
step itself (:mod:`.passes`, :mod:`.step`) is the same mathematics in both:

=================================== ============================== ==========================================
operation                            :class:`Native`                :class:`Exact`
=================================== ============================== ==========================================
``affine``: a @ Wᵀ + b               BLAS                           each element the exact dot product rounded
                                                                    once (:mod:`.exact`), then + b
``gradients``: δᵀa, Σδ, δW           BLAS                           likewise, each rounded once
``activate``: σ(z)                   NumPy's ``tanh``, ``exp``      rounded once (IEEE-basic ones as they are)
``sample_costs``, ``total``          float64, summed in order       each rounded once, summed exactly
``power``: |x|^p                     NumPy's ``power``              rounded once
``sum_of_squares``, ``mean``         NumPy's reductions             exact sums (``math.fsum``)
=================================== ============================== ==========================================

Element-wise IEEE-754 operations (+ − × ÷ √: the update rules, σ'(z) written with a = σ(z), dropout) are
correctly rounded whoever computes them, so they are not here.  An exact object counts, per run, the elements
it had to recompute exactly (:attr:`Arithmetic.counter`); a training step gets an object of its own
(:meth:`Arithmetic.for_runs`) whose counts are the history's ``exact_fallbacks``.

Arrays may carry leading axes (a stack of S runs: ``(S, k, n)`` inputs against ``(S, n_out, n_in)``
weights); every operation is batched over them.
"""

from __future__ import annotations

import math

import numpy as np

from . import activations as act
from . import exact, exact_functions, jit

MODES = ("exact", "native")


class Arithmetic:
    """The interface; see the module docstring for what each operation computes."""

    name = ""
    #: How many times native's SGD time a step takes (the planner's estimate, :mod:`mlpsweep.estimate`).
    time_factor = 1.0
    #: Whether a step keeps float64 copies of its operands (the memory estimate counts them).
    float64_buffers = False
    #: What the reference step gives against the compiled one (the engine's log line says it).
    engines_agree = ""

    def __init__(self, counter: exact.Counter | None = None):
        #: Each run's elements recomputed exactly (exact arithmetic; native leaves it at zero).
        self.counter = counter or exact.Counter(1)

    def for_runs(self, runs: int) -> Arithmetic:
        """A fresh object of this arithmetic whose counter has one entry per run of a stack (arrays carrying
        the run as their first axis)."""
        return type(self)(exact.Counter(runs, stacked=True))

    def fallbacks(self) -> list[int] | None:
        """Each run's fallbacks since the last call (the history's ``exact_fallbacks``), or None."""
        return None

    def __repr__(self) -> str:
        return f"<arithmetic {self.name}>"


class Native(Arithmetic):
    """The BLAS's and NumPy's own kernels: fastest, with bytes that depend on them."""

    name = "native"
    engines_agree = "float32 sums in another order"

    def affine(self, a, w, b, nonnegative: bool = False):
        z = np.matmul(a, w.swapaxes(-1, -2))
        z += b
        return z

    def activate(self, activation: act.Activation, z):
        return activation.forward(z, z)

    def gradients(self, d, a, w, nonnegative: bool = False, back: bool = True):
        """(δᵀa, Σ_rows δ, δW or None) for a layer's output error δ and input a."""
        gw = np.matmul(d.swapaxes(-1, -2), a)
        gb = d.sum(axis=-2, keepdims=True)
        return gw, gb, np.matmul(d, w) if back else None

    def sample_costs(self, cost, z, a, y):
        return cost.values(z, a, y)

    def total(self, parts) -> float:
        return float(sum(float(np.sum(p)) for p in parts))

    def power(self, x, e: float, out):
        with np.errstate(divide="ignore", over="ignore"):
            return np.power(np.abs(x), e, out=out)

    def penalty_terms(self, w, p: float):
        return np.abs(w, dtype=np.float64) ** p

    def sum_of_squares(self, rows, offsets) -> np.ndarray:
        """Per row, the sums of squares of the segments starting at ``offsets`` (float64)."""
        return np.add.reduceat(np.square(rows, dtype=np.float64), offsets, axis=1)

    def mean(self, values) -> float:
        return float(np.mean(values))


class Exact(Arithmetic):
    """Every float32 result the correctly rounded value of its mathematics (:mod:`.exact`): the bytes depend
    on nothing but the numbers."""

    name = "exact"
    #: Against native arithmetic's SGD time (the planner's constants were measured native): 2.0–2.5× in the
    #: compiled step (README, "The engine written twice"), up to 4.8× in the reference step; the larger, rounded up.
    time_factor = 5.0
    float64_buffers = True
    engines_agree = "the same bytes"

    def affine(self, a, w, b, nonnegative: bool = False):
        if a.ndim == 2 and w.ndim == 2 and jit.available():  # monitoring's and evaluation's chunks, compiled
            z = jit.matmul(a, w.T, counter=self.counter)
            z += b
            return z
        a64, w64 = a.astype(np.float64), w.swapaxes(-1, -2).astype(np.float64)
        v = np.matmul(a64, w64)
        a_abs = a64 if nonnegative else np.abs(a64)
        e = np.matmul(a_abs, np.abs(w64))
        e *= exact.bound_factor(a.shape[-1])
        z = exact.settle(v, e, a64, w64, self.counter)
        z += b
        return z

    def activate(self, activation: act.Activation, z):
        activation.exact(z, z, self.counter)
        return z

    def gradients(self, d, a, w, nonnegative: bool = False, back: bool = True):
        """(δᵀa, Σ_rows δ, δW or None), each element rounded once.  The bounds come from δ's magnitudes times
        the bound factor of the larger inner dimension (4γ|δ|), and for a sum over the batch against a
        non-negative operand from the two ends ``δ ∓ 4γ|δ|`` directly (:func:`.exact.bracket`)."""
        k, n = d.shape[-2], d.shape[-1]
        d64, a64 = d.astype(np.float64), a.astype(np.float64)
        m = np.abs(d64)
        m *= exact.bound_factor(max(k, n))
        lo, hi = d64 - m, d64 + m
        dT, loT, hiT, mT = (t.swapaxes(-1, -2) for t in (d64, lo, hi, m))
        if nonnegative:
            gw = exact.bracket(loT @ a64, hiT @ a64, dT, a64, self.counter)
        else:
            gw = exact.settle(dT @ a64, mT @ np.abs(a64), dT, a64, self.counter)
        ones = np.ones((*d.shape[:-2], 1, k))
        gb = exact.bracket(ones @ lo, ones @ hi, ones, d64, self.counter)
        if not back:
            return gw, gb, None
        w64 = w.astype(np.float64)
        return gw, gb, exact.settle(d64 @ w64, m @ np.abs(w64), d64, w64, self.counter)

    def sample_costs(self, cost, z, a, y):
        return exact_functions.sample_costs(cost.name, z, a, y, self.counter)

    def total(self, parts) -> float:
        parts = [np.ravel(p) for p in parts]
        return exact.exact_sum(np.concatenate(parts)) if parts else 0.0

    def power(self, x, e: float, out):
        return exact_functions.power(x, e, out, self.counter)

    def penalty_terms(self, w, p: float):
        """|w|^p exact in float64 for p = 1, 2 (|w| and w² of a float32 are float64 numbers), else rounded once
        to float32."""
        if p in (1, 2):
            return np.abs(w, dtype=np.float64) ** int(p)
        return exact_functions.power(w.ravel(), p, np.empty(w.size, dtype=np.float32), self.counter)

    def sum_of_squares(self, rows, offsets) -> np.ndarray:
        """Each segment's Σg², exact (float32 squares are exact in float64), rounded once."""
        squares = np.square(rows, dtype=np.float64)
        bounds = [*offsets, rows.shape[1]]
        return np.array([[math.fsum(r[a:b]) for a, b in zip(bounds, bounds[1:])] for r in squares.tolist()])

    def mean(self, values) -> float:
        """The exact sum rounded once, then divided."""
        values = np.ravel(values).tolist()
        return math.fsum(values) / len(values)

    def fallbacks(self) -> list[int]:
        return self.counter.take()


ARITHMETICS = {cls.name: cls for cls in (Exact, Native)}


def get(mode, dtype="float32") -> Arithmetic:
    """The arithmetic called ``mode`` (``exact``, ``native``, an :class:`Arithmetic` as it is, or None: the
    project's default, exact) for a network of ``dtype``.  float64 has no wider format to compute in cheaply,
    so a float64 network computes natively (the train command refuses ``exact`` with float64 in one line)."""
    if isinstance(mode, Arithmetic):
        return mode
    mode = mode or "exact"
    if mode not in ARITHMETICS:
        raise ValueError(f"arithmetic must be one of {', '.join(MODES)}, got {mode!r}")
    if np.dtype(dtype) != np.float32:
        return Native()
    return ARITHMETICS[mode]()
