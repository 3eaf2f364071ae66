"""Mini-batch stochastic gradient descent, exactly as the lecture states it.

Each epoch shuffles the m training samples with the run's
``numpy.random.Generator``, splits them into batches of K (the last batch may
be smaller) and for each batch B takes the step

    W ← W − (η/|B|) Σ_{x∈B} ∇_W C_x,      b ← b − (η/|B|) Σ_{x∈B} ∇_b C_x.

K = 1 is pure SGD, K = m is gradient descent.  Options:

* another update rule than the lecture's (momentum, Nesterov, Adam, or one of
  one's own: :mod:`.optimizers`), and a per-epoch decay of η;

* an Lp penalty λ Σ|w|^p on the weights (see :mod:`mlpsweep.nn.penalties`
  for the scaling of λ and the handling of w = 0 when p ≤ 1);
* dropout with rate r on the hidden units, as *inverted* dropout: during
  training each hidden activation is kept with probability 1 − r and divided
  by 1 − r.  The lecture instead trains with plain masks and multiplies the
  outgoing weights by 1 − r after training; both give the same expected
  input to every unit, and inverted dropout simply folds that factor into
  training so the trained weights are used as they are.

A step (:mod:`.step`) backpropagates the batch's mean gradient, adds an Lp
penalty's gradient or applies its shrinkage, and hands the gradient to the
run's update rule (:mod:`.optimizers`), which owns η.  Every buffer is
preallocated; nothing loops over samples.

The only randomness is the generator passed in; given the same generator
state and data, a run is bit-for-bit reproducible: in exact arithmetic
(:mod:`.arith`, the default) on any machine, BLAS and thread count, and in
native arithmetic on the same machine and BLAS thread count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .history import Diverged, History
from .monitoring import EVAL_CHUNK, Kept, SampledRows, finite, monitor, monitored_rows
from .network import Network, one_hot
from .settings import Settings
from .compiled import make_steps


#: What the networks of one stack share (:attr:`Settings.STACKED`, as a network has them).
SHARED_NETWORK = ("sizes", "activation_name", "output_name", "cost_name", "dtype")


def check_stackable(nets: list[Network], settings: list[Settings], names: list[str] | None = None) -> None:
    """Raise ValueError (one line naming the runs and the setting) unless the runs can train as one stack."""
    names = names or [f"run {i}" for i in range(len(nets))]
    for i, (net, st) in enumerate(zip(nets, settings)):
        for obj, first, keys in ((net, nets[0], SHARED_NETWORK), (st, settings[0], ("batch_size", "epochs"))):
            for key in keys:
                if getattr(obj, key) != getattr(first, key):
                    raise ValueError(
                        f"{names[i]} differs from {names[0]} in {key.removesuffix('_name')} ({getattr(obj, key)} vs "
                        f"{getattr(first, key)}); only runs that share layer sizes, activation, output, cost, dtype, "
                        "batch size and epochs train as one stack"
                    )


@dataclass
class TrainingState:
    """What the per-epoch callback sees: every run of the stack (enough to checkpoint it)."""

    nets: list[Network]
    histories: list[History]
    rngs: list[np.random.Generator]
    epoch: int  # epochs completed
    settings: list[Settings]
    rules: list  # each run's update rule (:mod:`.optimizers`), whose ``state`` a checkpoint keeps
    diverged: list  # None, or (epoch, last finite cost) of a run that diverged
    best: list  # None, or (epoch, params) of the best-validation epoch, kept while the test set is evaluated by need


EpochCallback = Callable[[list, TrainingState], None]


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


def train(net: Network, x, y, settings: Settings, rng: np.random.Generator, *, callback=None, **kwargs) -> History:
    """Train one ``net`` in place (a stack of one, :func:`train_stack`); return its history.

    ``callback(record, state)`` runs after every epoch.  Raises :class:`Diverged`
    at the first epoch whose cost or parameters are not finite.
    """

    def stop_at_divergence(records, state):
        if state.diverged[0] is not None:
            raise Diverged(*state.diverged[0], state.histories[0])
        if callback is not None:
            callback(records[0], state)

    (history,) = train_stack([net], x, y, [settings], [rng], callback=stop_at_divergence, **kwargs)
    return history


def train_stack(
    nets: list[Network],
    x,
    y,
    settings: list[Settings],
    rngs: list[np.random.Generator],
    *,
    validation: tuple | None = None,
    test: tuple | None = None,
    callback: EpochCallback | None = None,
    track_gradients: bool = False,
    eval_chunk: int = EVAL_CHUNK,
    start_epoch: int = 0,
    histories: list[History] | None = None,
    rule_states: list | None = None,
    diverged: list | None = None,
    monitor_rows: int | None = None,
    test_by_need: bool = False,
    best: list | None = None,
    engine: str | None = None,
) -> list:
    """Train ``nets`` in place with mini-batch SGD, together; return each run's :class:`History` or :class:`Diverged`.

    ``x`` (m, d); ``y`` labels (m,) or targets (m, N_L); ``validation``, ``test``: ``(x, labels)`` evaluated
    after every epoch (the test set decides nothing).  Each run ends exactly where it ends trained alone.
    ``callback(records, state)`` runs after every epoch with each run's record (None once it has diverged:
    a run whose cost or parameters stop being finite stops there, the others go on).  To resume, pass
    ``start_epoch``, the saved ``histories``, ``rule_states``, ``diverged`` and ``best`` (each run's kept
    best-validation weights), and generators restored to their saved states.  ``track_gradients`` records
    each run's per-layer mean ‖(1/|B|) Σ ∂C_x/∂b_ℓ‖ (``grad_norm_ℓ``); ``monitor_rows`` and ``test_by_need``
    choose what is evaluated (:mod:`.monitoring`).  ``engine``: ``reference``, or the compiled step where it
    can (:func:`.compiled.make_steps`): the same bytes."""
    S = len(nets)
    if not (S == len(settings) == len(rngs)) or S == 0:
        raise ValueError("one settings object and one generator per network")
    check_stackable(nets, settings)
    net0, cfg0 = nets[0], settings[0]
    x, targets, labels = _inputs(net0, x, y)
    steps = make_steps(nets, settings, rngs, x, targets, track_gradients, engine)
    for rule, saved in zip(steps.rules, rule_states or []):
        rule.load_state(saved)
    keep_best = test_by_need and validation is not None and test is not None
    runs = _Runs(nets, settings, histories, diverged, Kept(nets, best) if keep_best else None)
    monitored_y = labels if labels is not None else targets
    rows = monitored_rows(x.shape[0], monitor_rows)
    train_pair = (x, monitored_y) if rows is None else (SampledRows(x, rows), monitored_y[rows])
    kept_best = runs.kept.best if runs.kept else [None] * S
    state = TrainingState(nets, runs.histories, rngs, start_epoch, settings, steps.rules, runs.status, kept_best)
    held_out = (validation, test, keep_best, eval_chunk)
    try:
        for epoch in range(start_epoch + 1, cfg0.epochs + 1):
            if not runs.alive.any():
                break
            records = _epoch(steps, runs, epoch, epoch == cfg0.epochs, train_pair, held_out)
            state.epoch = epoch
            if callback is not None:
                callback(records, state)
    finally:
        steps.release()
    return runs.results()


def _epoch(steps, runs: _Runs, epoch: int, last: bool, train_pair: tuple, held_out: tuple) -> list:
    """One epoch of every live run's steps, then what each is evaluated on; each run's record (None for a run
    that has diverged)."""
    validation, test, keep_best, eval_chunk = held_out
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        norms = steps.epoch(epoch, runs.alive)
    t1 = time.perf_counter()
    live = np.flatnonzero(runs.alive)
    # every live run on each chunk of rows in turn (read once), each run's numbers as alone
    nets = [runs.nets[s] for s in live]
    monitored = monitor(nets, *train_pair, validation, test if last or not keep_best else None, eval_chunk)
    records = runs.record(epoch, live, monitored, norms, (t1 - t0) / len(live), steps.arithmetic.fallbacks())
    if runs.kept:  # the kept weights' test numbers, once a run has no more epochs
        runs.kept.test([s for s in live if last or not runs.alive[s]], runs.histories, test, eval_chunk)
    eval_share = (time.perf_counter() - t1) / len(live)
    for rec in records:
        if rec is not None:
            rec["eval_seconds"] = eval_share
    return records


def _inputs(net: Network, x, y) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(inputs in the net's dtype, targets, integer labels or None), checked against the net's sizes."""
    x = np.ascontiguousarray(x, dtype=net.dtype)
    if x.ndim != 2 or x.shape[1] != net.sizes[0]:
        raise ValueError(f"inputs must have shape (m, {net.sizes[0]}), got {x.shape}")
    targets, labels = prepare_targets(net, y)
    if targets.shape[0] != x.shape[0]:
        raise ValueError(f"{x.shape[0]} inputs but {targets.shape[0]} targets")
    return x, targets, labels


class _Runs:
    """Each run's history, whether it diverged (and when), its best validation accuracy so far and, with the
    test set by need, its kept best-validation weights; resumed from saved ``histories`` and ``diverged``."""

    def __init__(self, nets, settings, histories, diverged, kept: Kept | None):
        S = len(nets)
        self.nets, self.penalties, self.kept = nets, [st.penalty for st in settings], kept
        self.histories = [History() for _ in range(S)] if histories is None else histories
        self.status = [None] * S if diverged is None else [None if d is None else tuple(d) for d in diverged]
        self.alive = np.array([d is None for d in self.status])
        self.last_finite = [h[-1]["train_cost"] if len(h) else None for h in self.histories]
        self.best_val = [
            max((r["val_accuracy"] for r in h if r.get("val_accuracy") is not None), default=-math.inf)
            for h in self.histories
        ]

    def record(self, epoch: int, live, monitored: list[dict], norms, seconds: float, fallbacks=None) -> list:
        """Each live run's record of ``epoch`` (None for a run that diverged in it, or earlier); ``fallbacks``:
        each run's exact recomputations in the epoch's steps (exact arithmetic), else None."""
        records: list = [None] * len(self.nets)
        for s, rec in zip(live, monitored):
            net, pen = self.nets[s], self.penalties[s]
            rec = {"epoch": epoch, **rec, "penalty": pen.value(net.weights, net.arithmetic) if pen.active else 0.0}
            for ell, g in enumerate(norms[s] if norms else [], start=1):
                rec[f"grad_norm_{ell}"] = g
            rec["exact_fallbacks"] = None if fallbacks is None else fallbacks[s]
            rec["seconds"] = seconds  # the stack's SGD time, shared out over its runs
            if not finite(rec, net.params):
                self.status[s] = (epoch, self.last_finite[s])
                self.alive[s] = False
                continue
            self.last_finite[s] = rec["train_cost"]
            if rec["val_accuracy"] is not None and rec["val_accuracy"] > self.best_val[s]:
                self.best_val[s] = rec["val_accuracy"]
                if self.kept:
                    self.kept.keep(s, epoch)
            self.histories[s].append(rec)
            records[s] = self.histories[s][-1]
        return records

    def results(self) -> list:
        """Each run's :class:`History`, or :class:`Diverged` carrying it."""
        return [h if st is None else Diverged(st[0], st[1], h) for h, st in zip(self.histories, self.status)]
