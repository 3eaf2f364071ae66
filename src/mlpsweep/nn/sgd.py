"""Mini-batch stochastic gradient descent, exactly as the lecture states it.

Each epoch shuffles the m training samples with the run's
``numpy.random.Generator``, splits them into batches of K (the last batch may
be smaller) and for each batch B takes the step

    W ← W − (η/|B|) Σ_{x∈B} ∇_W C_x,      b ← b − (η/|B|) Σ_{x∈B} ∇_b C_x.

K = 1 is pure SGD, K = m is gradient descent.  Options:

* momentum μ (an addition beyond the lecture, for the "best MLP" study):
  ``v ← μ v + (η/|B|) Σ ∇C_x``, ``θ ← θ − v``; and a per-epoch decay of η;

* an Lp penalty λ Σ|w|^p on the weights (see :mod:`mlpsweep.nn.penalties`
  for the scaling of λ and the handling of w = 0 when p ≤ 1);
* dropout with rate r on the hidden units, as *inverted* dropout: during
  training each hidden activation is kept with probability 1 − r and divided
  by 1 − r.  The lecture instead trains with plain masks and multiplies the
  outgoing weights by 1 − r after training; both give the same expected
  input to every unit, and inverted dropout simply folds that factor into
  training so the trained weights are used as they are.

The inner loop is written for speed: every buffer is preallocated, each step
is a fixed short sequence of NumPy calls (one product per layer forward, two
backward), the gradient is pre-scaled by η/|B| through δ_L, and the update is
one subtraction over the flat parameter vector.  Nothing in it loops over
samples.

The only randomness is the generator passed in; given the same generator
state and data, a run is bit-for-bit reproducible on the same machine and
BLAS thread count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from .network import Network, Workspace, evaluate_all, one_hot
from .penalties import LpPenalty


@dataclass(frozen=True)
class SGDConfig:
    """The hyper-parameters of a training run (the lecture's names).

    ``epochs``, ``batch_size`` and ``eta`` are the experiment's choice and have
    no default here (the workflow's recipe lives in the config schema); the
    other fields default to *off*: no penalty, no dropout, no momentum, a
    constant η.
    """

    epochs: int
    batch_size: int  # K
    eta: float  # η
    penalty_p: float = 2.0  # p of λ Σ|w|^p
    penalty_lambda: float = 0.0  # λ (0: no penalty)
    dropout: float = 0.0  # r, share of hidden units dropped
    momentum: float = 0.0  # μ of heavy-ball momentum (0: the lecture's plain SGD)
    eta_decay: float = 1.0  # η is multiplied by this after every epoch (1: constant)
    track_gradients: bool = False  # record per-layer ‖∂C/∂b_ℓ‖, averaged over the epoch (opt-in)
    eval_chunk: int = 2048  # rows per batched forward pass when monitoring (bounds its memory)

    def __post_init__(self):
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            raise ValueError(f"epochs must be an integer >= 1, got {self.epochs!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if not (self.eta > 0 and math.isfinite(self.eta)):
            raise ValueError(f"eta must be a positive number, got {self.eta!r}")
        if not (0 <= self.dropout < 1):
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        pen = LpPenalty(self.penalty_p, self.penalty_lambda)  # validates p and λ
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not 0 < self.eta_decay <= 1:
            raise ValueError(f"eta_decay must be in (0, 1], got {self.eta_decay!r}")
        if self.momentum > 0 and pen.active and pen.clips_at_zero:
            raise ValueError("momentum cannot be combined with an Lp penalty of p <= 1 (its steps clip at zero)")

    def eta_at(self, epoch: int) -> float:
        """η of a 1-based epoch under the decay schedule."""
        return self.eta * self.eta_decay ** (epoch - 1)

    def to_dict(self) -> dict:
        return asdict(self)


class Diverged(RuntimeError):
    """Training produced a non-finite cost.

    Carries the epoch (1-based) at which the cost stopped being finite, the
    last finite training cost (None if the first epoch already failed) and
    the history up to the last finite epoch.
    """

    def __init__(self, epoch: int, last_finite_cost, history: History):
        self.epoch = epoch
        self.last_finite_cost = last_finite_cost
        self.history = history
        last = "none" if last_finite_cost is None else f"{last_finite_cost:.6g}"
        super().__init__(
            f"training diverged at epoch {epoch}: the cost became non-finite "
            f"(last finite cost {last}); lower eta or change the initialisation"
        )


class History:
    """Per-epoch records, one dict per epoch with the same keys.

    Keys: ``epoch`` (1-based), ``train_cost``, ``train_accuracy``,
    ``val_cost``, ``val_accuracy``, ``test_cost``, ``test_accuracy`` (None
    without such data),
    ``penalty`` (λ Σ|w|^p at the end of the epoch), ``grad_norm_1`` …
    ``grad_norm_L`` (mean over the epoch's steps of ‖(1/|B|) Σ ∂C_x/∂b_ℓ‖),
    ``seconds`` (the SGD steps; in a stack, the stack's SGD time divided by the
    runs it trained that epoch) and ``eval_seconds`` (the run's monitoring passes).
    """

    def __init__(self, records: list[dict] | None = None):
        self.records: list[dict] = list(records or [])

    def append(self, record: dict) -> None:
        self.records.append(dict(record))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i):
        return self.records[i]

    def column(self, key: str) -> list:
        return [r[key] for r in self.records]

    @property
    def columns(self) -> list[str]:
        return list(self.records[0]) if self.records else []

    def to_csv(self) -> str:
        """The history as CSV text (floats with full round-trip precision)."""
        cols = self.columns
        lines = [",".join(cols)]
        for r in self.records:
            lines.append(",".join("" if r[c] is None else repr(r[c]) for c in cols))
        return "\n".join(lines) + "\n"

    @classmethod
    def from_csv(cls, text: str) -> History:
        rows = [line.split(",") for line in text.strip().splitlines()]
        if not rows:
            return cls()
        head, body = rows[0], rows[1:]
        records = []
        for row in body:
            rec = {}
            for key, val in zip(head, row):
                rec[key] = None if val == "" else (int(val) if key == "epoch" else float(val))
            records.append(rec)
        return cls(records)

    def __eq__(self, other) -> bool:
        return isinstance(other, History) and self.records == other.records


#: About how many shuffled rows are gathered per ``take``.
CHUNK_ROWS = 2048


def gather_rows(batch_size: int, runs: int = 1) -> int:
    """Rows gathered per ``take`` and run: a whole number of batches, at least one (about
    :data:`CHUNK_ROWS` in all for a stack of ``runs``; the batches are the same for any value)."""
    return max(1, CHUNK_ROWS // runs // batch_size) * batch_size

EpochCallback = Callable[[dict, "TrainingState"], None]


@dataclass
class TrainingState:
    """What a callback sees after each epoch (enough to checkpoint)."""

    net: Network
    history: History
    rng: np.random.Generator
    epoch: int  # epochs completed
    config: SGDConfig
    velocity: np.ndarray | None = None  # the momentum buffer (None without momentum)


def gradient_norms(net: Network, x, y, batch_size: int, batches: int = 100) -> list[float]:
    """Per-layer ‖(1/K) Σ_B ∂C_x/∂b_ℓ‖, averaged over the first ``batches`` batches of K rows, in order.

    The same quantity as the history's ``grad_norm_ℓ``, at the network as it is
    (e.g. at initialisation, before any step); it draws no random numbers.
    """
    m = min(x.shape[0], batch_size * batches)
    targets, _ = prepare_targets(net, y[:m])
    norms = np.zeros(net.num_layers)
    n = 0
    for start in range(0, m - batch_size + 1, batch_size):
        _, gb = net.backprop(np.asarray(x[start : start + batch_size]), targets[start : start + batch_size])
        norms += [np.linalg.norm(g) / batch_size for g in gb]
        n += 1
    return (norms / max(n, 1)).tolist()


def prepare_targets(net: Network, y) -> tuple[np.ndarray, np.ndarray | None]:
    """(targets in the net's dtype, integer labels or None) for labels or targets."""
    y = np.asarray(y)
    if y.ndim == 1:
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError("1-D targets must be integer class labels")
        return one_hot(y, net.sizes[-1], net.dtype), y
    if y.ndim != 2 or y.shape[1] != net.sizes[-1]:
        raise ValueError(f"targets must be labels (m,) or an (m, {net.sizes[-1]}) array, got {y.shape}")
    return np.ascontiguousarray(y, dtype=net.dtype), None


def monitor(nets: list[Network], x, y, validation: tuple | None, test: tuple | None, chunk: int) -> list[dict]:
    """Each net's ``train_*``, ``val_*`` and ``test_*`` cost and accuracy (None without that set),
    evaluated as :meth:`Network.evaluate` does for it alone, each set's rows read once for all nets."""
    sets = {"train": (x, y), "val": validation, "test": test}
    records: list[dict] = [{} for _ in nets]
    with np.errstate(over="ignore", invalid="ignore"):
        for prefix, pair in sets.items():
            evals = evaluate_all(nets, *pair, chunk) if pair is not None else [{"cost": None, "accuracy": None}] * len(nets)
            for rec, ev in zip(records, evals):
                rec[f"{prefix}_cost"], rec[f"{prefix}_accuracy"] = ev["cost"], ev["accuracy"]
    return records


def finite(record: dict, params: np.ndarray) -> bool:
    """Whether an epoch ended sound: finite training cost and parameters, and a finite validation
    cost where there is one (otherwise the run has diverged at that epoch)."""
    if not (math.isfinite(record["train_cost"]) and np.isfinite(params).all()):
        return False
    return record["val_cost"] is None or math.isfinite(record["val_cost"])


def train(
    net: Network,
    x,
    y,
    config: SGDConfig,
    rng: np.random.Generator,
    *,
    validation: tuple | None = None,
    test: tuple | None = None,
    callback: EpochCallback | None = None,
    history: History | None = None,
    start_epoch: int = 0,
    velocity: np.ndarray | None = None,
) -> History:
    """Train ``net`` in place with mini-batch SGD; return the per-epoch history.

    ``x`` is (m, d); ``y`` holds integer labels (m,) or targets (m, N_L).
    ``validation`` and ``test`` are optional ``(x, labels)`` pairs evaluated
    after every epoch in batched passes (``val_*`` and ``test_*`` columns;
    the test set is only reported, never used for any decision).  ``callback(record, state)`` runs after every
    epoch (progress lines, checkpoints).  To resume, pass the saved
    ``history``, ``start_epoch`` (epochs already done) and a generator
    restored to its state at that point.

    Raises :class:`Diverged` when the training cost becomes non-finite.
    """
    x = np.ascontiguousarray(x, dtype=net.dtype)
    m = x.shape[0]
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise ValueError(f"inputs must have shape (m, {net.sizes[0]}), got {x.shape}")
    targets, labels = prepare_targets(net, y)
    if targets.shape[0] != m:
        raise ValueError(f"{m} inputs but {targets.shape[0]} targets")
    history = History() if history is None else history
    penalty = LpPenalty(config.penalty_p, config.penalty_lambda)
    last_finite = history[-1]["train_cost"] if len(history) else None

    run_epoch, buffer = _epoch_runner(net, x, targets, config, rng, penalty)
    if buffer is not None and velocity is not None:
        buffer[...] = velocity
    state = TrainingState(net, history, rng, start_epoch, config, buffer)
    for epoch in range(start_epoch + 1, config.epochs + 1):
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            grad_norms = run_epoch(config.eta_at(epoch))
        t1 = time.perf_counter()
        (record,) = monitor([net], x, labels if labels is not None else targets, validation, test, config.eval_chunk)
        record = {"epoch": epoch, **record}
        record["penalty"] = penalty.value(net.weights) if penalty.active else 0.0
        for ell, g in enumerate(grad_norms, start=1):
            record[f"grad_norm_{ell}"] = g
        record["seconds"] = t1 - t0
        record["eval_seconds"] = time.perf_counter() - t1
        if not finite(record, net.params):
            raise Diverged(epoch, last_finite, history)
        last_finite = record["train_cost"]
        history.append(record)
        state.epoch = epoch
        if callback is not None:
            callback(record, state)
    return history


def _epoch_runner(net, x, targets, config: SGDConfig, rng, penalty: LpPenalty):
    """(run_epoch, velocity): a closure that runs one epoch of SGD steps and
    returns the grad norms, and the momentum buffer it updates (or None).

    Everything the steps need is allocated here once.
    """
    m, d = x.shape
    K = min(config.batch_size, m)
    dtype = net.dtype
    L = net.num_layers
    ws = Workspace(net, K, dropout=config.dropout > 0)
    # Shuffled rows are gathered a chunk of whole batches at a time (one
    # ``take`` per ~2,000 rows instead of two per batch); the batches, and so
    # the numbers, are exactly those of gathering batch by batch.
    chunk = gather_rows(K)
    xbuf = np.empty((min(chunk, m), d), dtype=dtype)
    ybuf = np.empty((min(chunk, m), targets.shape[1]), dtype=dtype)
    params, grad = net.params, ws.grad
    nw = net.n_weights
    w_block, gw_block = params[:nw], grad[:nw]
    b_block, gb_block = params[nw:], grad[nw:]
    scratch = np.empty_like(w_block) if penalty.active else None
    track = config.track_gradients
    if track:
        # Every step copies its bias gradient into a row of ``gb_rows`` (one
        # call); after each chunk of batches the rows are squared and summed
        # per layer at once into ``sq_norms``.
        offsets = np.cumsum([0] + net.sizes[1:-1])
        steps_per_epoch = -(-m // K)
        gb_rows = np.empty((-(-min(chunk, m) // K), gb_block.shape[0]), dtype=dtype)
        sq_norms = np.empty((steps_per_epoch, L), dtype=np.float64)
    rate = float(config.dropout)
    if rate > 0:
        keep_scale = 1.0 / (1.0 - rate)
        mask_bufs = [np.empty((K, n), dtype=dtype) for n in net.sizes[1:-1]]
        keep_bufs = [np.empty((K, n), dtype=bool) for n in net.sizes[1:-1]]
    forward, backward = ws.forward, ws.backward
    take = np.take
    velocity = np.zeros_like(params) if config.momentum > 0 else None
    mu = np.array(config.momentum, dtype=dtype)
    scales = {}  # η/|B| as a 0-d array of the net's dtype, per batch size
    eta = float(config.eta)

    def step(xk, yk, row):
        k = xk.shape[0]
        masks = None
        if rate > 0:
            masks = []
            for buf, keep in zip(mask_bufs, keep_bufs):
                u, kp = buf[:k], keep[:k]
                rng.random(out=u, dtype=dtype)
                np.greater_equal(u, rate, out=kp)
                np.multiply(kp, keep_scale, out=u)
                masks.append(u)
        forward(xk, k, masks)
        scale = scales.get(k)
        if scale is None:
            scale = scales[k] = np.array(eta / k, dtype=dtype)
        backward(yk, k, scale, masks)
        if track:
            np.copyto(gb_rows[row], gb_block)
        if velocity is not None:
            if penalty.active:  # p > 1 here: the penalty's gradient joins the velocity
                penalty.gradient(w_block, out=scratch)
                np.multiply(scratch, eta, out=scratch)
                np.add(gw_block, scratch, out=gw_block)
            np.multiply(velocity, mu, out=velocity)
            np.add(velocity, grad, out=velocity)
            np.subtract(params, velocity, out=params)
        elif penalty.active:
            penalty.step(w_block, gw_block, eta, scratch)
            np.subtract(b_block, gb_block, out=b_block)
        else:
            np.subtract(params, grad, out=params)

    def run_epoch(epoch_eta: float):
        nonlocal eta
        if epoch_eta != eta:
            eta = epoch_eta
            scales.clear()
        perm = rng.permutation(m)
        steps = 0
        for c0 in range(0, m, chunk):
            idx = perm[c0 : c0 + chunk]
            n = idx.shape[0]
            xc, yc = (xbuf, ybuf) if n == xbuf.shape[0] else (xbuf[:n], ybuf[:n])
            take(x, idx, axis=0, out=xc, mode="clip")
            take(targets, idx, axis=0, out=yc, mode="clip")
            for row, start in enumerate(range(0, n, K)):
                step(xc[start : start + K], yc[start : start + K], row)
            n_steps = -(-n // K)
            if track:
                rows = gb_rows[:n_steps]
                np.multiply(rows, rows, out=rows)
                np.add.reduceat(rows, offsets, axis=1, out=sq_norms[steps : steps + n_steps])
            steps += n_steps
        if not track:
            return []
        # gb held (η/|B|) Σ ∂C/∂b; report the mean norm of (1/|B|) Σ ∂C/∂b.
        norms = np.sqrt(sq_norms[:steps]).mean(axis=0) / eta
        return [float(n) for n in norms]

    return run_epoch, velocity
