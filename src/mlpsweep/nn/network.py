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

:class:`Workspace` holds the preallocated buffers of one batch size and does
the forward and backward pass; :meth:`Network.backprop` and the training
loop in :mod:`mlpsweep.nn.sgd` both use it, so there is one implementation of
backpropagation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import activations as act
from . import costs as cst

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

    def weight_block(self, flat: np.ndarray) -> np.ndarray:
        """The part of a flat vector that holds all weights (no biases)."""
        return flat[: self.n_weights]

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
    def from_config(cls, sizes, config: dict, *, rng=None, params=None) -> Network:
        """A network of ``sizes`` with the activation, output, cost, dtype and init named in ``config``
        (resolved settings, :mod:`mlpsweep.settings`, or a model's metadata; other keys are ignored)."""
        missing = [k for k in NETWORK_KEYS if k not in config]
        if missing:
            raise ValueError(f"a network needs {', '.join(missing)}; resolve the settings first "
                             "(mlpsweep.settings.resolve fills in the schema's defaults)")
        return cls(sizes, **{k: config[k] for k in NETWORK_KEYS}, rng=rng, params=params)

    def copy(self) -> Network:
        return Network(**{**self.config(), "params": self.params.copy()})

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
        """Yield ``(start, z_L, a_L)`` for consecutive chunks of ``x``.

        One batched product per layer and chunk; ``z_L`` and ``a_L`` are
        reused buffers, valid until the next item.
        """
        x = self._as_input(x)
        m = x.shape[0]
        chunk = max(1, min(chunk, m))
        buffers = self._chunk_buffers(chunk)
        for start in range(0, m, chunk):
            z, a = self._forward_chunk(x[start : start + chunk], buffers)
            yield start, z, a

    def _chunk_buffers(self, chunk: int):
        return [np.empty((chunk, n), dtype=self.dtype) for n in self.sizes[1:]], np.empty(
            (chunk, self.sizes[-1]), dtype=self.dtype)

    def _forward_chunk(self, a, buffers):
        """(z_L, a_L) of the rows ``a`` (at most the buffers' rows), in the buffers."""
        bufs, zl = buffers
        k = a.shape[0]
        if a.dtype != self.dtype:
            a = a.astype(self.dtype)
        last = self.num_layers - 1
        for ell, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = bufs[ell][:k]
            np.matmul(a, w.T, out=z)
            z += b
            if ell == last:
                np.copyto(zl[:k], z)
                self.output.forward(z, out=z)
            else:
                self.hidden.forward(z, out=z)
            a = z
        return zl[:k], a

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
        x = self._as_input(x)
        y = np.asarray(y)
        if y.ndim == 1:
            y = one_hot(y, self.sizes[-1], self.dtype)
        ws = Workspace(self, x.shape[0], dropout=dropout_masks is not None)
        ws.forward(x.astype(self.dtype, copy=False), x.shape[0], dropout_masks)
        ws.backward(y.astype(self.dtype, copy=False), x.shape[0], None, dropout_masks)
        gw, gb = self.views(ws.grad.copy())
        return gw, gb

    def total_cost(self, x, y, dropout_masks=None) -> float:
        """Σ_x C_x over a batch, optionally with fixed dropout masks (float64)."""
        x = self._as_input(x)
        y = np.asarray(y)
        if y.ndim == 1:
            y = one_hot(y, self.sizes[-1], np.float64)
        a = x.astype(self.dtype, copy=False)
        last = self.num_layers - 1
        for ell, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = a @ w.T + b
            if ell == last:
                return float(np.sum(self.cost.values(z, self.output.forward(z.copy()), y)))
            a = self.hidden.forward(z)
            if dropout_masks is not None:
                a = a * dropout_masks[ell]
        raise AssertionError("unreachable")

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


class Workspace:
    """Preallocated buffers for one batch size, and the pass over one batch.

    ``forward`` leaves the activations of every layer in ``a``; ``backward``
    writes ``scale · Σ_x ∇C_x`` into ``grad`` (a flat vector in the network's
    layout).  The training loop passes ``scale = η/|B|`` (as a 0-d array of
    the network's dtype) so that the update is just ``params −= grad``;
    :meth:`Network.backprop` passes None (scale 1).

    A batch smaller than the workspace (the last of an epoch) uses the first
    ``k`` rows of every buffer, which are contiguous views; the views for
    each ``k`` are made once and cached.

    Forward, δ and bias-gradient products go through ``np.dot`` rather than
    ``np.matmul``: both end in the same BLAS routine, but ``np.dot`` skips the
    generalised-ufunc machinery and costs about 0.7 µs less per call (a step
    at K = 10 takes 40–60 µs).  The weight gradient ``δᵀ A`` stays with
    ``np.matmul``, which runs that transposed product about 1.5 µs faster
    for the first layer (measured at K = 10, 784 inputs, float32 and float64).
    """

    def __init__(self, net: Network, batch_size: int, dropout: bool = False):
        self.net = net
        self.batch_size = batch_size
        dt = net.dtype
        outs = net.sizes[1:]
        self._a = [np.empty((batch_size, n), dtype=dt) for n in outs]  # σ(z), unmasked
        self._d = [np.empty((batch_size, n), dtype=dt) for n in outs]  # δ_ℓ
        self._t = [np.empty((batch_size, n), dtype=dt) for n in outs]  # σ'(z_ℓ)
        # With dropout, the masked activations that feed the next layer.
        self._am = [np.empty((batch_size, n), dtype=dt) for n in outs[:-1]] if dropout else []
        # Pre-activations z, kept only for activations whose σ' needs them (x²).
        self._z = [np.empty((batch_size, n), dtype=dt) for n in outs[:-1]] if net.hidden.needs_z else []
        self._ones = np.ones(batch_size, dtype=dt)
        self._frames: dict = {}
        self.grad = np.zeros(net.n_params, dtype=dt)
        self.gw, self.gb = net.views(self.grad)
        self._inputs = [None] * net.num_layers

    def frame(self, k: int):
        """Views of the first ``k`` rows of every buffer: (a, d, t, am, z, ones)."""
        f = self._frames.get(k)
        if f is None:
            if not 1 <= k <= self.batch_size:
                raise ValueError(f"batch of {k} rows does not fit a workspace of {self.batch_size}")
            f = self._frames[k] = tuple(
                [buf[:k] for buf in bufs] for bufs in (self._a, self._d, self._t, self._am, self._z)
            ) + (self._ones[:k],)
        return f

    @property
    def a(self):
        return self._a

    def forward(self, x, k: int, masks=None) -> np.ndarray:
        """Forward pass of a batch ``x`` of ``k`` rows; returns a_L."""
        net = self.net
        hidden = net.hidden
        weights, biases = net.weights, net.biases
        last = net.num_layers - 1
        inputs = self._inputs
        a_all, _, _, am_all, z_all, _ = self.frame(k)
        keep_z = hidden.needs_z
        a_prev = x
        dot, add = np.dot, np.add
        for ell in range(last):
            inputs[ell] = a_prev
            z = a_all[ell]
            dot(a_prev, weights[ell].T, out=z)
            add(z, biases[ell], out=z)
            if keep_z:
                np.copyto(z_all[ell], z)
            hidden.forward(z, out=z)
            if masks is not None:
                am = am_all[ell]
                np.multiply(z, masks[ell], out=am)
                z = am
            a_prev = z
        inputs[last] = a_prev
        z = a_all[last]
        dot(a_prev, weights[last].T, out=z)
        add(z, biases[last], out=z)
        return net.output.forward(z, out=z)

    def backward(self, y, k: int, scale=None, masks=None) -> None:
        """Backpropagate from targets ``y`` (k rows); fills ``grad``."""
        net = self.net
        hidden = net.hidden
        weights = net.weights
        last = net.num_layers - 1
        a_all, d_all, t_all, _, z_all, ones = self.frame(k)
        from_z = hidden.needs_z
        d = d_all[last]
        net.cost.delta(a_all[last], y, net.output, out=d, scratch=t_all[last])
        if scale is not None:
            np.multiply(d, scale, out=d)
        gw, gb, inputs = self.gw, self.gb, self._inputs
        dot, matmul, multiply = np.dot, np.matmul, np.multiply
        unit = hidden.unit_derivative
        for ell in range(last, -1, -1):
            matmul(d.T, inputs[ell], out=gw[ell])
            dot(ones, d, out=gb[ell])
            if ell:
                d_prev = d_all[ell - 1]
                dot(d, weights[ell], out=d_prev)
                if not unit:
                    t = t_all[ell - 1]
                    hidden.derivative(z_all[ell - 1] if from_z else a_all[ell - 1], out=t)
                    multiply(d_prev, t, out=d_prev)
                if masks is not None:
                    multiply(d_prev, masks[ell - 1], out=d_prev)
                d = d_prev


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
    buffers = [net._chunk_buffers(chunk) for net in nets]
    totals = [0.0] * len(nets)
    correct = [0] * len(nets)
    for start in range(0, m, chunk):
        rows = x[start : start + chunk]
        k = rows.shape[0]
        yl = y[start : start + k]
        target = one_hot(yl, nets[0].sizes[-1], np.float64) if labels else yl
        for i, (net, buf) in enumerate(zip(nets, buffers)):
            z, a = net._forward_chunk(rows, buf)
            if labels:
                correct[i] += int(np.count_nonzero(a.argmax(axis=1) == yl))
            totals[i] += float(np.sum(net.cost.values(z, a, target)))
    return [{"cost": total / m, "accuracy": hits / m if labels else None, "correct": hits if labels else None,
             "n": m} for total, hits in zip(totals, correct)]
