"""The lecture's feed-forward network Φ and its matrix-form backpropagation.

Φ(x) = A_L(σ(A_{L−1}(… σ(A_1(x))))),  A_ℓ(x) = W_ℓ x + b_ℓ,

for layer sizes ``[d, N_1, …, N_L]``; ``W_ℓ`` has shape ``(N_ℓ, N_{ℓ−1})``
and ``b_ℓ`` shape ``(N_ℓ,)``, exactly as in the lecture.  The output layer is
``linear`` (the lecture's code: Φ ends with the affine map), ``sigmoid``
(Nielsen's network.py, which gives the 95–96 % MNIST result) or ``softmax``.

Conventions
    *Batch-major*: a batch of m inputs is an ``(m, d)`` array whose rows are
    samples, so a layer is one product ``Z = A_prev @ W.T + b`` of shape
    ``(m, N_ℓ)`` and backprop is one product per layer too.  No Python loop
    ever runs over samples.

    All weights and biases live in one flat parameter vector ``params``
    (weights of every layer first, then every bias); ``weights[ℓ]`` and
    ``biases[ℓ]`` are views into it.  The gradient buffer has the same
    layout, so one SGD update is a single vector operation, and a penalty
    touches all weights with one call.

How a network computes — natively or exactly — is its arithmetic (:mod:`.arith`), an object it is given
(``arithmetic=``); the forward pass and backpropagation are written once, in :mod:`.passes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import activations as act
from . import arith
from . import costs as cst
from .passes import forward, backprop as backpropagate

DTYPES = {"float32": np.float32, "float64": np.float64}
#: The settings that define a network (the rest of a run's settings drive its training).
NETWORK_KEYS = ("activation", "output", "cost", "init", "dtype")
INITS = ("normal", "xavier", "he")


def dtype_of(name: str) -> np.dtype:
    try:
        return np.dtype(DTYPES[name])
    except KeyError:
        raise ValueError(f"unknown dtype {name!r}; choose one of {sorted(DTYPES)}") from None


class Network:
    """A fully connected feed-forward network.

    Parameters
    ----------
    sizes:
        ``[d, N_1, …, N_L]``, input dimension first, output dimension last.
    activation:
        The hidden layers' σ: ``sigmoid``, ``relu``, ``tanh`` or ``identity``.
    output:
        The output layer: ``linear``, ``sigmoid`` or ``softmax``.
    cost:
        ``quadratic``, ``cross_entropy`` (sigmoid output) or
        ``log_likelihood`` (softmax output).
    dtype:
        ``float64`` or ``float32``; parameters and all buffers use it.
    init:
        ``normal`` (the lecture: every weight and bias N(0, 1)), ``xavier``
        (weights N(0, 1/n_in), biases N(0, 1): network2.py) or ``he``
        (weights N(0, 2/n_in), biases 0: for ReLU).
    rng:
        The ``numpy.random.Generator`` that draws the initial parameters.
        Draws happen in float64 and are rounded to ``dtype``, so a float32
        and a float64 network from the same seed start from the same values.
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "sigmoid",
        output: str = "sigmoid",
        cost: str = "quadratic",
        dtype: str = "float64",
        init: str = "normal",
        rng: np.random.Generator | None = None,
        params: np.ndarray | None = None,
        arithmetic=None,
    ):
        sizes = [int(n) for n in sizes]
        if len(sizes) < 2 or any(n < 1 for n in sizes):
            raise ValueError(f"sizes must be at least [d, N_L] with positive entries, got {sizes}")
        cst.check_pairing(cost, output)
        self.sizes = sizes
        self.activation_name = activation
        self.output_name = output
        self.cost_name = cost
        self.hidden = act.hidden(activation)
        self.output = act.output(output)
        self.cost = cst.get(cost)
        self.dtype = dtype_of(dtype)
        self.arithmetic = arith.get(arithmetic, self.dtype)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; choose one of {list(INITS)}")
        self.init = init
        shapes = list(zip(sizes[1:], sizes[:-1]))
        self._w_slices, self._b_slices = _layout(shapes)
        self.n_params = self._b_slices[-1].stop
        if params is None:
            if rng is None:
                raise ValueError("either params or rng is needed to build a network")
            params = self._initial_params(rng)
        params = np.asarray(params)
        if params.shape != (self.n_params,):
            raise ValueError(f"params has shape {params.shape}, expected ({self.n_params},)")
        self.params = np.ascontiguousarray(params, dtype=self.dtype)
        self.weights, self.biases = self.views(self.params)

    # -- structure ---------------------------------------------------------
    @property
    def num_layers(self) -> int:
        """L, the number of affine maps (weight matrices)."""
        return len(self.sizes) - 1

    @property
    def n_weights(self) -> int:
        return self._w_slices[-1].stop

    def views(self, flat: np.ndarray):
        """(weights, biases): lists of views of a flat vector in this layout."""
        ws = [flat[s].reshape(n_out, n_in) for s, (n_out, n_in) in zip(self._w_slices, self._shapes())]
        bs = [flat[s] for s in self._b_slices]
        return ws, bs

    def layers(self) -> list:
        """``[(W_ℓ, b_ℓ)]``, views of the parameters."""
        return list(zip(self.weights, self.biases))

    def _shapes(self):
        return list(zip(self.sizes[1:], self.sizes[:-1]))

    def _initial_params(self, rng: np.random.Generator) -> np.ndarray:
        flat = np.empty(self.n_params, dtype=np.float64)
        ws, bs = self.views(flat)
        for w, b in zip(ws, bs):
            n_in = w.shape[1]
            if self.init == "normal":
                w[...] = rng.standard_normal(w.shape)
                b[...] = rng.standard_normal(b.shape)
            elif self.init == "xavier":
                w[...] = rng.standard_normal(w.shape) / np.sqrt(n_in)
                b[...] = rng.standard_normal(b.shape)
            else:  # he
                w[...] = rng.standard_normal(w.shape) * np.sqrt(2.0 / n_in)
                b[...] = 0.0
        return flat

    def config(self) -> dict:
        """What defines this network (everything but the parameter values)."""
        return {
            "sizes": list(self.sizes),
            "activation": self.activation_name,
            "output": self.output_name,
            "cost": self.cost_name,
            "dtype": self.dtype.name,
            "init": self.init,
        }

    @classmethod
    def from_config(cls, sizes, config: dict, *, rng=None, params=None, arithmetic=None) -> Network:
        """A network of ``sizes`` with the activation, output, cost, dtype and init named in ``config``
        (resolved settings, :mod:`mlpsweep.settings`, or a model's metadata; other keys are ignored)."""
        missing = [k for k in NETWORK_KEYS if k not in config]
        if missing:
            raise ValueError(
                f"a network needs {', '.join(missing)}; resolve the settings first "
                "(mlpsweep.settings.resolve fills in the schema's defaults)"
            )
        return cls(sizes, **{k: config[k] for k in NETWORK_KEYS}, rng=rng, params=params, arithmetic=arithmetic)

    def copy(self) -> Network:
        return Network(**self.config(), params=self.params.copy(), arithmetic=self.arithmetic.name)

    def __repr__(self) -> str:
        return (
            f"Network({self.sizes}, activation={self.activation_name!r}, "
            f"output={self.output_name!r}, cost={self.cost_name!r}, dtype={self.dtype.name!r})"
        )

    # -- evaluation --------------------------------------------------------
    def _as_input(self, x) -> np.ndarray:
        if getattr(x, "streamed", False):  # rows read on demand (mlpsweep.data.preprocess.StreamedRows)
            if x.shape[1] != self.sizes[0]:
                raise ValueError(f"inputs must have shape (m, {self.sizes[0]}), got {x.shape}")
            return x
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"inputs must have shape (m, {self.sizes[0]}), got {x.shape}")
        return x

    def forward_chunks(self, x, chunk: int = 8192):
        """Yield ``(start, z_L, a_L)`` for consecutive chunks of ``x``: one forward pass (:func:`.passes.forward`)
        per chunk of rows, in the network's arithmetic."""
        x = self._as_input(x)
        m = x.shape[0]
        chunk = max(1, min(chunk, m))
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, m, chunk):
                rows = np.asarray(x[start : start + chunk], dtype=self.dtype)
                p = forward(self, self.layers(), rows, self.arithmetic)
                yield start, p.z, p.a

    def feedforward(self, x, chunk: int = 8192) -> np.ndarray:
        """Φ(x) for a batch ``x`` of shape (m, d): an (m, N_L) array."""
        x = self._as_input(x)
        out = np.empty((x.shape[0], self.sizes[-1]), dtype=self.dtype)
        for start, _, a in self.forward_chunks(x, chunk):
            out[start : start + a.shape[0]] = a
        return out

    __call__ = feedforward

    def predict(self, x, chunk: int = 8192) -> np.ndarray:
        """The predicted class (argmax of the output) of every row."""
        x = self._as_input(x)
        out = np.empty(x.shape[0], dtype=np.int64)
        for start, _, a in self.forward_chunks(x, chunk):
            out[start : start + a.shape[0]] = a.argmax(axis=1)
        return out

    def evaluate(self, x, y, chunk: int = 8192) -> dict:
        """Mean cost (float64) and, for integer labels, accuracy on (x, y).

        ``y`` is either integer class labels of shape (m,) or targets of shape
        (m, N_L).  Returns ``{"cost", "accuracy", "correct", "n"}`` (accuracy
        and correct are None for real-valued targets).
        """
        return evaluate_all([self], x, y, chunk)[0]

    def accuracy(self, x, labels) -> float:
        return float(np.mean(self.predict(x) == np.asarray(labels)))

    # -- gradients -----------------------------------------------------------
    def backprop(self, x, y, dropout_masks=None):
        """Gradients of the *summed* cost Σ_x C_x over the batch.

        ``y`` holds integer labels (m,) or targets (m, N_L).  ``dropout_masks``
        (one per hidden layer, shape (m, N_ℓ), already divided by 1 − r) fixes
        which hidden units are kept.  Returns ``(grad_w, grad_b)``, lists of
        arrays shaped like ``weights`` and ``biases``.
        """
        x = np.asarray(self._as_input(x), dtype=self.dtype)
        y = np.asarray(y)
        if y.ndim == 1:
            y = one_hot(y, self.sizes[-1], self.dtype)
        grad = np.zeros(self.n_params, dtype=self.dtype)
        gw, gb = self.views(grad)
        with np.errstate(over="ignore", invalid="ignore"):
            layers, y = self.layers(), y.astype(self.dtype, copy=False)
            p = forward(self, layers, x, self.arithmetic, dropout_masks)
            backpropagate(self, layers, p, y, self.arithmetic, list(zip(gw, gb)), None, dropout_masks)
        return gw, gb

    def total_cost(self, x, y, dropout_masks=None) -> float:
        """Σ_x C_x over a batch, optionally with fixed dropout masks (native arithmetic, summed in float64)."""
        x = np.asarray(self._as_input(x), dtype=self.dtype)
        y = np.asarray(y)
        if y.ndim == 1:
            y = one_hot(y, self.sizes[-1], np.float64)
        p = forward(self, self.layers(), x, arith.Native(), dropout_masks)
        return float(np.sum(self.cost.values(p.z, p.a, y)))

    # -- persistence (:mod:`mlpsweep.nn.io`: save_network, load_network) ----
    def metadata(self) -> dict:
        return {"format": "mlpsweep.network", "version": 1, **self.config(), "n_params": self.n_params}


def _layout(shapes):
    """Slices of the flat parameter vector: all weights, then all biases."""
    w_slices, b_slices = [], []
    pos = 0
    for n_out, n_in in shapes:
        w_slices.append(slice(pos, pos + n_out * n_in))
        pos += n_out * n_in
    for n_out, _ in shapes:
        b_slices.append(slice(pos, pos + n_out))
        pos += n_out
    return w_slices, b_slices


def one_hot(labels, classes: int, dtype=np.float64) -> np.ndarray:
    """Rows e_y: the targets y of the lecture's quadratic cost for labels y."""
    labels = np.asarray(labels)
    out = np.zeros((labels.shape[0], classes), dtype=dtype)
    out[np.arange(labels.shape[0]), labels] = 1
    return out


def evaluate_all(nets: list[Network], x, y, chunk: int = 8192) -> list[dict]:
    """``net.evaluate(x, y, chunk)`` of every net, bit for bit, reading each chunk of ``x`` once.

    The nets take their turns on a chunk while it is in the cache (and a
    streamed chunk is read from its file once, not once per net); each net's
    products, sums and their order are those of evaluating it alone.
    """
    x = nets[0]._as_input(x)
    y = np.asarray(y)
    labels = y.ndim == 1
    m = x.shape[0]
    chunk = max(1, min(chunk, m))
    # streamed rows are read into one reused buffer (fresh pages for every chunk cost as much as the products)
    read = np.empty((chunk, x.shape[1]), dtype=x.dtype) if getattr(x, "streamed", False) else None
    costs: list = [[] for _ in nets]
    correct = [0] * len(nets)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, m, chunk):
            rows = x[start : start + chunk] if read is None else x.read(start, start + chunk, read)
            k = rows.shape[0]
            yl = y[start : start + k]
            target = one_hot(yl, nets[0].sizes[-1], np.float64) if labels else yl
            for i, net in enumerate(nets):
                p = forward(net, net.layers(), np.asarray(rows, dtype=net.dtype), net.arithmetic)
                if labels:
                    correct[i] += int(np.count_nonzero(p.a.argmax(axis=1) == yl))
                costs[i].append(net.arithmetic.sample_costs(net.cost, p.z, p.a, target))
    totals = [net.arithmetic.total(parts) for net, parts in zip(nets, costs)]
    return [
        {"cost": total / m, "accuracy": hits / m if labels else None, "correct": hits if labels else None, "n": m}
        for total, hits in zip(totals, correct)
    ]
