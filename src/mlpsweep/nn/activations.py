"""Activation functions σ, written for speed and numerical safety.

Every activation works in place on a batch-major array (``forward(z, out=z)``
is allowed) and gives its derivative *from its own output* ``a = σ(z)``, so
the training loop keeps the pre-activations ``z`` only for ``square``
(σ(z) = z², whose σ' = 2z cannot be told from a = z²):

======== ===================== ============================
name      σ(z)                  σ'(z) written with a = σ(z)
======== ===================== ============================
sigmoid   1 / (1 + e^{-z})      a (1 - a)          (≤ 1/4)
tanh      tanh z                1 - a²
relu      max(z, 0)             1 if a > 0 else 0
identity  z                     1
======== ===================== ============================

The sigmoid is evaluated as ``½ + ½ tanh(z/2)`` (an identity): tanh
saturates instead of overflowing, so there is no overflow and no warning for
any ``z`` (|z| = 1000 included), and it costs four cheap ufunc calls.  (Its
relative accuracy in the far negative tail is limited by the cancellation in
½ + ½·tanh, its absolute error stays below one ulp of ½, which is what
training needs; costs that take logarithms are computed from ``z``.)

Each activation writes into a given array (``forward(z, out)``, ``derivative(a, out)``; ``out`` may be the
input) and allocates nothing.

Constants are 0-d arrays of the operand's dtype: NumPy handles those about
three times faster than Python floats, which matters for the 10×30 arrays of
a K = 10 training step.  (The Heaviside step of the first neurons cannot be
trained: it is drawn by :mod:`mlpsweep.report.plots` only.)

Output layers add ``softmax`` (max-shifted, so it never overflows) and
``linear`` (the lecture's affine output, an alias of ``identity``).

In exact arithmetic (:mod:`.arith`) :meth:`Activation.exact` replaces :meth:`Activation.forward`: the
sigmoid is then 1/(1 + e^{−z}) rounded once, tanh and softmax likewise; the derivatives are IEEE-754's basic
operations on ``a`` and stay as they are.
"""

from __future__ import annotations

import numpy as np

from . import exact_functions

_CONSTANTS: dict = {}


def const(dtype, value: float) -> np.ndarray:
    """A cached read-only 0-d array holding ``value`` in ``dtype``."""
    key = (np.dtype(dtype), value)
    c = _CONSTANTS.get(key)
    if c is None:
        c = np.array(value, dtype=key[0])
        c.flags.writeable = False
        _CONSTANTS[key] = c
    return c


class Activation:
    """An element-wise activation with an in-place forward and derivative."""

    name: str = ""
    #: True when the derivative is identically one (the multiply is skipped).
    unit_derivative: bool = False
    #: True when σ' cannot be written with a = σ(z) and needs z itself.
    needs_z: bool = False
    #: True when σ(z) ≥ 0 for every z (exact arithmetic then needs no |a| for its error bounds).
    nonnegative: bool = False

    def forward(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """σ(z) into ``out`` (a new array when None; ``z`` itself is allowed)."""
        raise NotImplementedError

    def derivative(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """σ'(z), computed from ``a = σ(z)``, into ``out``."""
        raise NotImplementedError

    #: True when :meth:`forward` uses IEEE-754's basic operations only (+ − × ÷ √, max, copies), which are
    #: correctly rounded everywhere: it is then exact as it is.  Every other activation overrides
    #: :meth:`exact`; :func:`check_exact` refuses, when the registry is built, one that does neither.
    ieee: bool = False

    def exact(self, z: np.ndarray, out: np.ndarray, counter) -> np.ndarray:
        """:meth:`forward` in exact arithmetic (:mod:`.exact`): every element of σ(z) the exact value rounded once
        to float32; ``counter`` counts the elements recomputed exactly.  IEEE-754's basic operations are, so an
        activation written with them (:attr:`ieee`) keeps its forward; one that needs ``exp`` or ``tanh``
        overrides this."""
        if not self.ieee:
            raise NotImplementedError(f"activation {self.name!r} has no exact kernel (see check_exact)")
        return self.forward(z, out)

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(np.asarray(z))

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def _out(z, out):
    return np.empty_like(z) if out is None else out


class Sigmoid(Activation):
    name = "sigmoid"
    nonnegative = True

    def forward(self, z, out=None):
        out, half = _out(z, out), const(z.dtype, 0.5)
        np.multiply(z, half, out=out)
        np.tanh(out, out=out)
        np.multiply(out, half, out=out)
        return np.add(out, half, out=out)

    def derivative(self, a, out=None):
        out = np.subtract(const(a.dtype, 1.0), a, out=_out(a, out))
        return np.multiply(out, a, out=out)

    def exact(self, z, out, counter):
        with np.errstate(over="ignore"):  # e^{−z} overflows to inf for z < −709: σ(z) is then 0, as it should be
            exact_functions.Function("sigmoid", z, out, counter)()
        return out


class Tanh(Activation):
    name = "tanh"

    def forward(self, z, out=None):
        return np.tanh(z, out=_out(z, out))

    def exact(self, z, out, counter):
        exact_functions.Function("tanh", z, out, counter)()
        return out

    def derivative(self, a, out=None):
        out = np.multiply(a, a, out=_out(a, out))
        return np.subtract(const(a.dtype, 1.0), out, out=out)


class ReLU(Activation):
    name = "relu"
    ieee = True
    nonnegative = True

    def forward(self, z, out=None):
        return np.maximum(z, const(z.dtype, 0.0), out=_out(z, out))

    def derivative(self, a, out=None):
        # a = max(z, 0) >= 0, so sign(a) is exactly the 0/1 derivative.
        return np.sign(a, out=_out(a, out))


class Square(Activation):
    """σ(z) = z²: a *polynomial* activation, the universal-approximation counter-example.

    A one-hidden-layer network with it computes a polynomial of degree 2 in
    its input, whatever its width, so it cannot approximate sin or |x|.
    """

    name = "square"
    ieee = True
    needs_z = True
    nonnegative = True

    def forward(self, z, out=None):
        return np.multiply(z, z, out=_out(z, out))

    def derivative(self, z, out=None):
        """σ'(z) = 2z (from z, not from a = z²)."""
        return np.multiply(z, const(z.dtype, 2.0), out=_out(z, out))


class Identity(Activation):
    name = "identity"
    ieee = True
    unit_derivative = True

    def forward(self, z, out=None):
        if out is None:
            return z.copy()
        if out is not z:
            np.copyto(out, z)
        return out

    def derivative(self, a, out=None):
        out = _out(a, out)
        out.fill(1.0)
        return out


class Linear(Identity):
    """The lecture's affine output layer: Φ(x) = A_L(…) with no σ on top."""

    name = "linear"


class Softmax(Activation):
    """Row-wise softmax over the classes of a batch-major array (output only)."""

    name = "softmax"

    def forward(self, z, out=None):
        out = np.subtract(z, z.max(axis=-1, keepdims=True), out=_out(z, out))
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def exact(self, z, out, counter):
        return exact_functions.softmax(z, out, counter)

    def derivative(self, a, out=None):  # pragma: no cover - guarded by validation
        raise TypeError(
            "softmax has a Jacobian, not an element-wise derivative; use it only with the log-likelihood cost"
        )


def check_exact(cls: type[Activation]) -> type[Activation]:
    """``cls`` when exact arithmetic can compute it — its forward pass IEEE-basic (:attr:`Activation.ieee`) or an
    :meth:`~Activation.exact` of its own — else TypeError: an activation is never computed natively in exact
    mode without a word."""
    if not (cls.ieee or cls.exact is not Activation.exact):
        raise TypeError(
            f"activation {cls.name!r} declares no exact kernel: set ieee = True if its forward uses only "
            "+ − × ÷ √ and copies, else override exact (mlpsweep.nn.exact)"
        )
    return cls


HIDDEN = {cls.name: check_exact(cls)() for cls in (Sigmoid, Tanh, ReLU, Identity, Square)}
OUTPUT = {cls.name: check_exact(cls)() for cls in (Linear, Sigmoid, Softmax)}


def hidden(name: str) -> Activation:
    """The hidden-layer activation called ``name``."""
    try:
        return HIDDEN[name]
    except KeyError:
        raise ValueError(f"unknown hidden activation {name!r}; choose one of {sorted(HIDDEN)}") from None


def output(name: str) -> Activation:
    """The output-layer activation called ``name``."""
    try:
        return OUTPUT[name]
    except KeyError:
        raise ValueError(f"unknown output layer {name!r}; choose one of {sorted(OUTPUT)}") from None
