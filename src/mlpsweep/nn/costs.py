"""Cost functions C_x for one sample, and the output error δ_L = ∂C_x/∂z_L.

================ =================================== =================== ======================
name              C_x                                 output layer        δ_L
================ =================================== =================== ======================
quadratic         ½ ‖a − y‖²  (the lecture's)         linear or sigmoid   (a − y) ⊙ σ'(z_L)
cross_entropy     −Σ_j y_j ln a_j + (1−y_j) ln(1−a_j) sigmoid             a − y
log_likelihood    −ln a_y                             softmax             a − y
================ =================================== =================== ======================

Costs are evaluated from the pre-activation ``z`` where a logarithm is
involved (``ln σ(z) = −logaddexp(0, −z)``, ``ln softmax(z)_j = z_j −
logsumexp(z)``), so they stay finite and warning-free however saturated the
output is.  Other pairings are refused by :func:`check_pairing`: softmax with
the quadratic cost, for example, would need the softmax Jacobian in δ_L.
"""

from __future__ import annotations

import numpy as np

from . import activations as act

#: Which output layers each cost accepts.
PAIRINGS = {
    "quadratic": ("linear", "sigmoid"),
    "cross_entropy": ("sigmoid",),
    "log_likelihood": ("softmax",),
}


class Cost:
    name: str = ""

    def values(self, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Per-sample costs C_x (float64) of a batch."""
        raise NotImplementedError

    def delta(self, a, y, output: act.Activation) -> np.ndarray:
        """δ_L = ∂C_x/∂z_L for every row: a − y for the canonical pairings (sigmoid with cross-entropy,
        softmax with log-likelihood)."""
        return np.subtract(a, y)

    def __repr__(self) -> str:
        return f"<cost {self.name}>"


class Quadratic(Cost):
    name = "quadratic"

    def values(self, z, a, y):
        diff = np.subtract(a, y, dtype=np.float64)
        return 0.5 * np.einsum("ij,ij->i", diff, diff)

    def delta(self, a, y, output):
        """(a − y) ⊙ σ'(z_L), σ' written with a = σ(z_L)."""
        d = np.subtract(a, y)
        if not output.unit_derivative:
            d *= output.derivative(a)
        return d


class CrossEntropy(Cost):
    name = "cross_entropy"

    def values(self, z, a, y):
        z = np.asarray(z, dtype=np.float64)
        # −[y ln σ(z) + (1−y) ln(1−σ(z))] = y·softplus(−z) + (1−y)·softplus(z)
        per = y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)
        return per.sum(axis=1)


class LogLikelihood(Cost):
    name = "log_likelihood"

    def values(self, z, a, y):
        z = np.asarray(z, dtype=np.float64)
        shift = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - shift).sum(axis=1)) + shift[:, 0]
        # y is one-hot: −ln softmax(z)_y = logsumexp(z) − Σ_j y_j z_j
        return lse - np.einsum("ij,ij->i", y, z)


COSTS = {cls.name: cls() for cls in (Quadratic, CrossEntropy, LogLikelihood)}


def get(name: str) -> Cost:
    try:
        return COSTS[name]
    except KeyError:
        raise ValueError(f"unknown cost {name!r}; choose one of {sorted(COSTS)}") from None


def check_pairing(cost: str, output: str) -> None:
    """Raise ``ValueError`` unless ``output`` is a valid output layer for ``cost``."""
    get(cost)
    act.output(output)
    allowed = PAIRINGS[cost]
    if output not in allowed:
        raise ValueError(
            f"cost {cost!r} cannot be used with output layer {output!r}; "
            f"it needs output {' or '.join(repr(o) for o in allowed)}"
        )
