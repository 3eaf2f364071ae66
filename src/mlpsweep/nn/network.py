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

:class:`Workspace` holds the preallocated buffers of one batch size, for one
network or a stack of networks of one shape, and does the forward and
backward pass; :meth:`Network.backprop` and the training loop in
:mod:`mlpsweep.nn.sgd` both use it, so there is one implementation of
backpropagation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import activations as act
from . import costs as cst
from . import exact

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
            raise ValueError(
                f"a network needs {', '.join(missing)}; resolve the settings first "
                "(mlpsweep.settings.resolve fills in the schema's defaults)"
            )
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
            (chunk, self.sizes[-1]), dtype=self.dtype
        )

    def _forward_chunk(self, a, buffers):
        """(z_L, a_L) of the rows ``a`` (at most the buffers' rows), in the buffers."""
        bufs, zl = buffers
        k = a.shape[0]
        if a.dtype != self.dtype:
            a = a.astype(self.dtype)
        last = self.num_layers - 1
        exactly = exact.active(self.dtype)
        for ell, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = bufs[ell][:k]
            if exactly:
                with np.errstate(over="ignore", invalid="ignore"):
                    exact.Product(a.astype(np.float64), w.T.astype(np.float64), z)()
            else:
                np.matmul(a, w.T, out=z)
            z += b
            with np.errstate(over="ignore"):  # σ(z) of z < −709: e^{−z} overflows to inf and σ is 0, as it is
                if ell == last:
                    np.copyto(zl[:k], z)
                    self.output.forward(z, out=z, exact=exactly)
                else:
                    self.hidden.forward(z, out=z, exact=exactly)
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
        ws = Workspace(self, self.params[None], x.shape[0], dropout=dropout_masks is not None)
        x = x.astype(self.dtype, copy=False)
        ws.forward(x, x.shape[0], dropout_masks)
        ws.backward(x, y.astype(self.dtype, copy=False), x.shape[0], None, dropout_masks)
        return self.views(ws.grad[0].copy())

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
    """The one forward and backward pass of the package: preallocated buffers for S networks of one shape
    and batches of up to K rows.

    ``params`` is an (S, P) matrix whose rows are the networks' flat parameter
    vectors (a network's own ``params[None]`` for one); the weight and bias
    views, the gradient matrix ``grad`` (same layout) and every activation
    buffer are made once.  Arrays carry a leading network axis; with one
    network it is dropped and every product is a plain 2-D ``np.dot`` (the
    cheapest call for K = 10).  With S > 1 each product is one batched
    ``np.matmul`` over ``(S, K, n)`` arrays, which calls the same BLAS routine
    with the same shapes for each slice, so each network's numbers are the
    ones it gets alone.  ``forward`` leaves every layer's activation in the
    buffers; ``backward`` writes ``scale · Σ_x ∇C_x`` into ``grad`` (training
    passes ``scale = 1/|B|``: the batch's mean gradient, which the run's
    update rule turns into a step; :meth:`Network.backprop` passes None, the
    sum).  A batch of k < K rows (an epoch's
    last) uses the first k rows of every buffer, views made once per k.
    """

    def __init__(
        self,
        net: Network,
        params: np.ndarray,
        batch_size: int,
        dropout: bool = False,
        counter: exact.Counter | None = None,
    ):
        S = params.shape[0]
        self.net, self.batch_size = net, batch_size
        self.grad = np.zeros_like(params)
        one = S == 1
        self.mm = np.dot if one else np.matmul
        lead = () if one else (S,)
        sizes, dt = net.sizes, net.dtype

        def view(flat, ell, weights):
            sl = (net._w_slices if weights else net._b_slices)[ell]
            n_out, n_in = sizes[ell + 1], sizes[ell]
            if one:
                return flat[0, sl].reshape(n_out, n_in) if weights else flat[0, sl]
            return flat[:, sl].reshape((S, n_out, n_in) if weights else (S, 1, n_out))

        L = net.num_layers
        self.W = [view(params, ell, True) for ell in range(L)]
        self.WT = [w.swapaxes(-1, -2) for w in self.W]
        self.B = [view(params, ell, False) for ell in range(L)]
        self.GW = [view(self.grad, ell, True) for ell in range(L)]
        # the bias gradient is a vector-matrix product per network: (n,) or (S, n)
        self.GB = [self.grad[0, net._b_slices[ell]] if one else self.grad[:, net._b_slices[ell]] for ell in range(L)]
        outs = sizes[1:]
        buf = lambda n: np.empty((*lead, batch_size, n), dtype=dt)  # noqa: E731
        self.bufs = {
            "a": [buf(n) for n in outs],
            "d": [buf(n) for n in outs],
            "t": [buf(n) for n in outs],
            # pre-activations, kept only for activations whose σ' needs them (x²)
            "z": [buf(n) for n in outs[:-1]] if net.hidden.needs_z else [],
            # with dropout, the masked activations that feed the next layer
            "am": [buf(n) for n in outs[:-1]] if dropout else [],
        }
        self.ones = np.ones(batch_size, dtype=dt)
        self._frames: dict = {}
        #: exact arithmetic (mlpsweep.nn.exact): float64 copies of the weights, of every layer's input and of
        #: every δ, whose products are rounded once (their scratch shared by all the step's products)
        self.exact = exact.active(dt)
        if self.exact:
            self._exact_buffers(S, lead, batch_size, counter)

    def _exact_buffers(self, S: int, lead: tuple, K: int, counter) -> None:
        """Exact arithmetic (:mod:`.exact`): float64 copies of the weights stacked on their magnitudes
        ``[W; |W|]``, of every layer's input, and of every δ beside |δ|, so that one float64 product gives
        both a product and its error bound (|a|·|b|, scaled by 4γₙ) where the input is non-negative."""
        sizes = self.net.sizes
        self.counter = counter or exact.Counter(S, stacked=S > 1)
        self.WW = [np.empty((*lead, 2 * n_out, n_in)) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        self.bufs["in64"] = [np.empty((*lead, K, n)) for n in sizes[:-1]]
        self.bufs["abs_in"] = [np.empty((*lead, K, n)) for n in sizes[:-1]]
        self.bufs["dd"] = [np.empty((*lead, K, 2 * n)) for n in sizes[1:]]  # [δ, 4γ|δ|]
        self.bufs["dlh"] = [np.empty((*lead, K, 2 * n)) for n in sizes[1:]]  # [δ − 4γ|δ|, δ + 4γ|δ|]
        self.ones64 = np.ones((*lead, 1, K))
        self.scratch: dict = {}
        #: whether the network's input is known to be non-negative (pixels: the training loop says so)
        self.input_nonnegative = False

    def frame(self, k: int) -> dict:
        """Views of the first ``k`` rows of every buffer (made once per k)."""
        f = self._frames.get(k)
        if f is None:
            if not 1 <= k <= self.batch_size:
                raise ValueError(f"batch of {k} rows does not fit a workspace of {self.batch_size}")
            f = self._frames[k] = {name: [b[..., :k, :] for b in bufs] for name, bufs in self.bufs.items()}
            f["ones"] = self.ones[:k]
            if self.exact:
                f["ones64"] = self.ones64[..., :k]
        return f

    def inputs(self, x, k: int, masks=None) -> list:
        """What each layer reads in a batch of ``k`` rows: ``x``, then every hidden layer's (masked) activation."""
        f = self.frame(k)
        return [x, *(f["am"] if masks is not None else f["a"])[: self.net.num_layers - 1]]

    def forward_ops(self, x, k: int, masks=None) -> list:
        """The forward pass of a batch ``x`` of ``k`` rows (per network) as ``(function, args)`` calls
        (:func:`~.activations.run`); a_L ends in the last activation buffer.  A training step builds its list
        once and replays it: the calls are fixed by the buffers, only their contents change."""
        f = self.frame(k)
        hidden, mm, add = self.net.hidden, self.mm, np.add
        last = self.net.num_layers - 1
        inputs = self.inputs(x, k, masks)
        ops: list = []
        if self.exact:
            for ell, ww in enumerate(self.WW):
                n = ww.shape[-2] // 2
                ops += [(np.copyto, (ww[..., :n, :], self.W[ell])), (np.abs, (ww[..., :n, :], ww[..., n:, :]))]
        for ell in range(last + 1):
            z = f["a"][ell]
            if self.exact:
                a64 = f["in64"][ell]
                ops.append((np.copyto, (a64, inputs[ell])))
                a_abs = None if self._nonnegative(ell) else f["abs_in"][ell]
                ops += self._exact_product(z, cols=(a64, a_abs, self.WW[ell].swapaxes(-1, -2)))
            else:
                ops.append((mm, (inputs[ell], self.WT[ell], z)))
            ops.append((add, (z, self.B[ell], z)))
            if ell == last:
                ops += self._activation(self.net.output, z)
                break
            if f["z"]:
                ops.append((np.copyto, (f["z"][ell], z)))
            ops += self._activation(hidden, z)
            if masks is not None:
                ops.append((np.multiply, (z, masks[ell], inputs[ell + 1])))
        return ops

    def backward_ops(self, x, y, k: int, scale=None, masks=None) -> list:
        """Backpropagation from targets ``y`` after :meth:`forward_ops` of ``x`` as calls that fill ``grad``."""
        net = self.net
        f = self.frame(k)
        hidden, mm, multiply = net.hidden, self.mm, np.multiply
        last = net.num_layers - 1
        inputs = self.inputs(x, k, masks)
        d = f["d"][last]
        ops = net.cost.delta_ops(f["a"][last], y, net.output, d, f["t"][last])
        if scale is not None:
            ops.append((multiply, (d, scale, d)))
        for ell in range(last, -1, -1):
            if self.exact:
                dd, dlh, a64, n = f["dd"][ell], f["dlh"][ell], f["in64"][ell], d.shape[-1]
                c = np.array(exact.bound_factor(max(k, n)))  # δ's magnitudes carry the bound's factor
                ops += [
                    (np.copyto, (dd[..., :n], d)),
                    (np.abs, (dd[..., :n], dd[..., n:])),
                    (np.multiply, (dd[..., n:], c, dd[..., n:])),
                    (np.subtract, (dd[..., :n], dd[..., n:], dlh[..., :n])),
                    (np.add, (dd[..., :n], dd[..., n:], dlh[..., n:])),
                ]
                if self._nonnegative(ell):  # Σ(δ ∓ 4γ|δ|)x brackets Σδx for x ≥ 0: one product, no ± passes
                    ops += self._bracket(self.GW[ell], dlh.swapaxes(-1, -2), a64, dd[..., :n].swapaxes(-1, -2), True)
                else:
                    rows = (dd.swapaxes(-1, -2), a64, f["abs_in"][ell])
                    ops += self._exact_product(self.GW[ell], rows=rows, scaled=True)
                ops += self._bracket(self.GB[ell][..., None, :], f["ones64"], dlh, dd[..., :n], False)
            else:
                ops += [
                    (np.matmul, (d.swapaxes(-1, -2), inputs[ell], self.GW[ell])),
                    (mm, (f["ones"], d, self.GB[ell])),
                ]
            if ell:
                d_prev, t = f["d"][ell - 1], f["t"][ell - 1]
                if self.exact:
                    ops += self._exact_product(d_prev, blocks=(dd, self.WW[ell]), scaled=True)
                else:
                    ops.append((mm, (d, self.W[ell], d_prev)))
                if not hidden.unit_derivative:
                    ops += hidden.derivative_ops(f["z"][ell - 1] if f["z"] else f["a"][ell - 1], t)
                    ops.append((multiply, (d_prev, t, d_prev)))
                if masks is not None:
                    ops.append((multiply, (d_prev, masks[ell - 1], d_prev)))
                d = d_prev
        return ops

    def _nonnegative(self, ell: int) -> bool:
        """Whether layer ``ell``'s input is never negative (then it is its own magnitude)."""
        return self.input_nonnegative if ell == 0 else self.net.hidden.nonnegative

    def _exact_product(self, out, *, cols=None, rows=None, blocks=None, scaled: bool = False) -> list:
        """The calls of an exact product into ``out`` (:mod:`.exact`): a float64 product, its error bound
        4γₙ·|a|·|b| and the checked rounding.  Operands carry their magnitudes beside them, so that where the
        other operand is non-negative one product gives both value and bound:

        ``cols=(a, a_abs, b)``: ``b`` is ``[y, |y|]`` over its columns; ``a_abs`` is None when a ≥ 0, else
        scratch for |a| (then two products).  ``rows=(a, b, b_abs)``: ``a`` is ``[x; |x|]`` over its rows,
        ``b_abs`` likewise.  ``blocks=(a, b)``: ``a`` is ``[x, |x|]`` over its columns, ``b`` is ``[y; |y|]``
        over its rows (two products).  ``scaled``: the magnitudes already carry the factor 4γₙ (a bound
        factor for n at least this product's inner dimension, which is rigorous too).
        """
        pool, mm, dims = self.scratch, self.mm, out.shape
        ops: list = []
        if cols is not None:
            a, a_abs, b = cols
            p = b.shape[-1] // 2
            a_val, b_val, b_mag = a, b[..., :p], b[..., p:]
            if a_abs is None:
                both = exact.scratch(pool, "both", (*dims[:-1], 2 * p))
                ops.append((mm, (a, b, both)))
                v, e = both[..., :p], both[..., p:]
            else:
                v, e = exact.scratch(pool, "v", dims), exact.scratch(pool, "e", dims)
                ops += [(np.abs, (a, a_abs)), (mm, (a, b_val, v)), (mm, (a_abs, b_mag, e))]
        elif rows is not None:
            a, b, b_abs = rows
            m = a.shape[-2] // 2
            a_val, a_mag, b_val = a[..., :m, :], a[..., m:, :], b
            if b_abs is None:
                both = exact.scratch(pool, "both", (*dims[:-2], 2 * m, dims[-1]))
                ops.append((mm, (a, b, both)))
                v, e = both[..., :m, :], both[..., m:, :]
            else:
                v, e = exact.scratch(pool, "v", dims), exact.scratch(pool, "e", dims)
                ops += [(np.abs, (b, b_abs)), (mm, (a_val, b, v)), (mm, (a_mag, b_abs, e))]
        else:
            a, b = blocks
            h = a.shape[-1] // 2
            a_val, b_val = a[..., :h], b[..., :h, :]
            v, e = exact.scratch(pool, "v", dims), exact.scratch(pool, "e", dims)
            ops += [(mm, (a_val, b_val, v)), (mm, (a[..., h:], b[..., h:, :], e))]
        if not scaled:
            ops.append((np.multiply, (e, np.array(exact.bound_factor(a_val.shape[-1])), e)))
        ops.append((exact.Settle(v, e, out, a_val, b_val, self.counter, pool), ()))
        return ops

    def _bracket(self, out, a, b, value, rows: bool) -> list:
        """The calls of an exact product into ``out`` whose one operand is ``[δ − 4γ|δ|; δ + 4γ|δ|]`` (over its
        rows: ``a``, with ``rows``; over its columns: ``b``) and the other non-negative: one float64 product
        gives a lower and an upper bound of every element (:class:`.exact.Bracket`); ``value`` is δ itself
        (for a fallback's terms)."""
        dims, mm = out.shape, self.mm
        if rows:
            m = a.shape[-2] // 2
            both = exact.scratch(self.scratch, "both", (*dims[:-2], 2 * m, dims[-1]))
            lo, hi, a_val, b_val = both[..., :m, :], both[..., m:, :], value, b
        else:
            p = b.shape[-1] // 2
            both = exact.scratch(self.scratch, "both", (*dims[:-1], 2 * p))
            lo, hi, a_val, b_val = both[..., :p], both[..., p:], a, value
        return [(mm, (a, b, both)), (exact.Bracket(lo, hi, out, a_val, b_val, self.counter, self.scratch), ())]

    def _activation(self, activation: act.Activation, z) -> list:
        return activation.exact_ops(z, z, self.counter) if self.exact else activation.forward_ops(z, z)

    def forward(self, x, k: int, masks=None) -> np.ndarray:
        """Forward pass of a batch ``x`` of ``k`` rows (per network); returns a_L."""
        act.run(self.forward_ops(x, k, masks))
        return self.frame(k)["a"][-1]

    def backward(self, x, y, k: int, scale=None, masks=None) -> None:
        """Backpropagate from targets ``y`` (k rows per network) after :meth:`forward` of ``x``; fills ``grad``."""
        act.run(self.backward_ops(x, y, k, scale, masks))


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
    # streamed rows are read into one reused buffer (fresh pages for every chunk cost as much as the products)
    read = np.empty((chunk, x.shape[1]), dtype=x.dtype) if getattr(x, "streamed", False) else None
    exactly = exact.active(nets[0].dtype)
    totals: list = [[] if exactly else 0.0 for _ in nets]
    correct = [0] * len(nets)
    for start in range(0, m, chunk):
        rows = x[start : start + chunk] if read is None else x.read(start, start + chunk, read)
        k = rows.shape[0]
        yl = y[start : start + k]
        target = one_hot(yl, nets[0].sizes[-1], np.float64) if labels else yl
        for i, (net, buf) in enumerate(zip(nets, buffers)):
            z, a = net._forward_chunk(rows, buf)
            if labels:
                correct[i] += int(np.count_nonzero(a.argmax(axis=1) == yl))
            if exactly:  # each sample's cost rounded once, their sum exact (then rounded once)
                totals[i].append(exact.sample_costs(net.cost.name, z, a, target))
            else:
                totals[i] += float(np.sum(net.cost.values(z, a, target)))
    if exactly:
        totals = [exact.exact_sum(np.concatenate(parts)) if parts else 0.0 for parts in totals]
    return [
        {"cost": total / m, "accuracy": hits / m if labels else None, "correct": hits if labels else None, "n": m}
        for total, hits in zip(totals, correct)
    ]
