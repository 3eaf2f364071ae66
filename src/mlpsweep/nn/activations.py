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

Each activation is written once, as the list of NumPy calls that computes
it into a given array (``forward_ops``, ``derivative_ops``): ``forward`` runs
that list, and a training step builds it once per buffer and replays it every
step, so the per-step cost is the calls themselves, not the Python around
them, and the numbers are the same either way.

Constants are 0-d arrays of the operand's dtype: NumPy handles those about
three times faster than Python floats, which matters for the 10×30 arrays of
a K = 10 training step.  (The Heaviside step of the first neurons cannot be
trained: it is drawn by :mod:`mlpsweep.report.plots` only.)

Output layers add ``softmax`` (max-shifted, so it never overflows) and
``linear`` (the lecture's affine output, an alias of ``identity``).

In exact arithmetic (:mod:`.exact`) ``exact_ops`` replaces ``forward_ops``: the sigmoid is then
1/(1 + e^{−z}) rounded once, tanh and softmax likewise; the derivatives are IEEE-754's basic operations
on ``a`` and stay as they are.
"""

from __future__ import annotations

import functools

import numpy as np

from . import exact

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


def run(ops: list) -> None:
    """Run ``(function, args)`` calls in order (what ``forward_ops``, ``derivative_ops`` and ``delta_ops``
    return)."""
    for function, args in ops:
        function(*args)


def describe(function, args) -> str:
    """A call as a reader would write it: the function's name and each argument's shape and dtype."""
    name = getattr(function, "__name__", None) or getattr(getattr(function, "func", None), "__name__", repr(function))

    def arg(a):
        if isinstance(a, np.ndarray):
            return f"array{tuple(a.shape)} {a.dtype}" if a.ndim else f"{a.dtype}({a[()]!r})"
        return repr(a)

    return f"np.{name}({', '.join(arg(a) for a in args)})"


def run_eagerly(ops: list) -> None:
    """:func:`run`, with the failing call (its function, its arrays' shapes and dtypes, its place in the list)
    added to the traceback: the debugging path of a replayed step."""
    for i, (function, args) in enumerate(ops):
        try:
            function(*args)
        except Exception as exc:
            exc.add_note(f"in call {i + 1} of {len(ops)} of the step: {describe(function, args)}")
            raise


class Activation:
    """An element-wise activation with an in-place forward and derivative."""

    name: str = ""
    #: True when the derivative is identically one (the multiply is skipped).
    unit_derivative: bool = False
    #: True when σ' cannot be written with a = σ(z) and needs z itself.
    needs_z: bool = False
    #: True when σ(z) ≥ 0 for every z (exact arithmetic then needs no |a| for its error bounds).
    nonnegative: bool = False

    def forward_ops(self, z: np.ndarray, out: np.ndarray) -> list:
        """The calls that write σ(z) into ``out``, as ``(function, args)`` pairs to run in order."""
        raise NotImplementedError

    def derivative_ops(self, a: np.ndarray, out: np.ndarray) -> list:
        """The calls that write σ'(z), computed from ``a = σ(z)``, into ``out``."""
        raise NotImplementedError

    #: True when :meth:`forward_ops` uses IEEE-754's basic operations only (+ − × ÷ √, max, copies), which are
    #: correctly rounded everywhere: its calls are then exact as they are.  Every other activation overrides
    #: :meth:`exact_ops`; :func:`check_exact` refuses, when the registry is built, one that does neither.
    ieee: bool = False

    def exact_ops(self, z: np.ndarray, out: np.ndarray, counter=None) -> list:
        """:meth:`forward_ops` in exact arithmetic (:mod:`.exact`): every element of σ(z) the exact value rounded
        once to float32.  IEEE-754's basic operations are, so an activation written with them (:attr:`ieee`)
        keeps its calls; one that needs ``exp`` or ``tanh`` overrides this."""
        if not self.ieee:
            raise NotImplementedError(f"activation {self.name!r} has no exact kernel (see check_exact)")
        return self.forward_ops(z, out)

    def forward(self, z: np.ndarray, out: np.ndarray | None = None, exact: bool = False) -> np.ndarray:
        out = np.empty_like(z) if out is None else out
        run(self.exact_ops(z, out) if exact else self.forward_ops(z, out))
        return out

    def derivative(self, a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """σ'(z) computed from ``a = σ(z)``."""
        out = np.empty_like(a) if out is None else out
        run(self.derivative_ops(a, out))
        return out

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self.forward(np.asarray(z), None)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


class Sigmoid(Activation):
    name = "sigmoid"
    nonnegative = True

    def forward_ops(self, z, out):
        half = const(z.dtype, 0.5)
        return [
            (np.multiply, (z, half, out)),
            (np.tanh, (out, out)),
            (np.multiply, (out, half, out)),
            (np.add, (out, half, out)),
        ]

    def derivative_ops(self, a, out):
        return [(np.subtract, (const(a.dtype, 1.0), a, out)), (np.multiply, (out, a, out))]

    def exact_ops(self, z, out, counter=None):
        return [(exact.Function("sigmoid", z, out, counter), ())]


class Tanh(Activation):
    name = "tanh"

    def forward_ops(self, z, out):
        return [(np.tanh, (z, out))]

    def exact_ops(self, z, out, counter=None):
        return [(exact.Function("tanh", z, out, counter), ())]

    def derivative_ops(self, a, out):
        return [(np.multiply, (a, a, out)), (np.subtract, (const(a.dtype, 1.0), out, out))]


class ReLU(Activation):
    name = "relu"
    ieee = True
    nonnegative = True

    def forward_ops(self, z, out):
        return [
            (functools.partial(np.maximum, out=out), (z, const(z.dtype, 0.0)))
        ]  # (its positional out is deprecated)

    def derivative_ops(self, a, out):
        # a = max(z, 0) >= 0, so sign(a) is exactly the 0/1 derivative.
        return [(np.sign, (a, out))]


class Square(Activation):
    """σ(z) = z²: a *polynomial* activation, the universal-approximation counter-example.

    A one-hidden-layer network with it computes a polynomial of degree 2 in
    its input, whatever its width, so it cannot approximate sin or |x|.
    """

    name = "square"
    ieee = True
    needs_z = True
    nonnegative = True

    def forward_ops(self, z, out):
        return [(np.multiply, (z, z, out))]

    def derivative_ops(self, z, out):
        """σ'(z) = 2z (from z, not from a = z²)."""
        return [(np.multiply, (z, const(z.dtype, 2.0), out))]


class Identity(Activation):
    name = "identity"
    ieee = True
    unit_derivative = True

    def forward_ops(self, z, out):
        return [] if out is z else [(np.copyto, (out, z))]

    def derivative_ops(self, a, out):
        return [(out.fill, (1.0,))]


class Linear(Identity):
    """The lecture's affine output layer: Φ(x) = A_L(…) with no σ on top."""

    name = "linear"


class Softmax(Activation):
    """Row-wise softmax over the classes of a batch-major array (output only)."""

    name = "softmax"

    def forward_ops(self, z, out):
        return [(self._forward, (z, out))]

    @staticmethod
    def _forward(z, out):
        np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)

    def exact_ops(self, z, out, counter=None):
        return [(exact.softmax, (z, out, counter))]

    def derivative_ops(self, a, out):  # pragma: no cover - guarded by validation
        raise TypeError(
            "softmax has a Jacobian, not an element-wise derivative; use it only with the log-likelihood cost"
        )


def check_exact(cls: type[Activation]) -> type[Activation]:
    """``cls`` when exact arithmetic can compute it — its forward pass IEEE-basic (:attr:`Activation.ieee`) or an
    :meth:`~Activation.exact_ops` of its own — else TypeError: an activation is never computed natively in exact
    mode without a word."""
    if not (cls.ieee or cls.exact_ops is not Activation.exact_ops):
        raise TypeError(
            f"activation {cls.name!r} declares no exact kernel: set ieee = True if its forward_ops use only "
            "+ − × ÷ √ and copies, else override exact_ops (mlpsweep.nn.exact)"
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
