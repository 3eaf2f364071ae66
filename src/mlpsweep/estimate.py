"""What a training job will need: its peak memory and run time, from what it does.

The one place the formula lives; the workflow asks it for every training job's ``mem_mb`` and ``runtime``
(so a scheduler gets what the job needs, not one number for all), the planner refuses a job that cannot fit,
and the train command checks again, with the real data, before it allocates anything.

A job trains S runs of one shape (layer sizes n₀ … n_L, dtype of b bytes, batch size K, E epochs) on m
training rows of d = n₀ features; P is the parameters of one run, W its weights, L its layers.

Memory, megabytes (10⁶ bytes):

    BASE_MB                                   the interpreter with NumPy and mlpsweep loaded
  + m·d·4                                     the float32 training split (memory-mapped, read every epoch)
  + m·d·b  when b = 8                        the training split converted to the network's float64
  + EVAL_CHUNK·d·b                            the buffer monitoring reads held-out and sampled training rows into
  + S·G·(d + n_L)·b                          the gathered rows and targets, G rows per run (about 1 MiB
                                              in all: mlpsweep.nn.step.gather_rows)
  + S·P·((COPIES + R)·b + 2·8)               per run: parameters, gradient and penalty scratch, the R
                                              parameter-sized buffers of its update rule (momentum 1, Adam 3);
                                              the initial N(0,1) draws in float64 (a run's and its copy)
  + S·EVAL_CHUNK·Σ(n₁ … n_L)·b·2              the evaluation buffers of every run

  + S·(2·W·8 + K·Σnᵢ·8·6)  in exact arithmetic   float64 [W; |W|] and a step's float64 inputs, δ and brackets

Time, seconds:

    START_S + E·S·[ m·6W / TRAIN_FLOPS(K) + (m/K)·L·STEP_S + r·2W / EVAL_FLOPS ] · (EXACT_TIME_FACTOR in exact)

with r the rows monitored per epoch (the monitored training rows and the validation rows, plus the test
rows every epoch, or twice a run when the test set is evaluated by need).  The constants are measured on
this project's machine by ``benchmarks/estimate.py``, which prints every job it ran against its
estimate; the README gives the table.  The workflow asks for the memory estimate × ``MEM_HEADROOM`` and
the time estimate × ``TIME_HEADROOM`` (a slower node, a busy one), each scaled by the config's
``resources.train`` factors.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .nn.arith import Exact
from .nn.optimizers import rule_class
from .nn.monitoring import EVAL_CHUNK
from .nn.step import gather_rows

#: Resident megabytes of a training job before it reads data (Python, NumPy, mlpsweep; measured).
BASE_MB = 62.0
#: Parameter-sized buffers of one run besides its update rule's: parameters, gradient, penalty scratch.
COPIES = 3
#: Training FLOPs per second at batch size K (small products are slower), and per-layer cost of one step.
TRAIN_FLOPS_SMALL = 60e9  # K ≤ 16
TRAIN_FLOPS_LARGE = 100e9  # K ≥ 128 (log-interpolated between)
STEP_S = 12e-6
#: Exact arithmetic's time against native's (the constants above were measured native): the arithmetic's own.
EXACT_TIME_FACTOR = Exact.time_factor
EVAL_FLOPS = 100e9
START_S = 1.0
#: What the workflow asks for beyond the estimate.
MEM_HEADROOM = 1.3
TIME_HEADROOM = 3.0
#: The shortest time limit asked for (a job start on a busy node, a slow shared filesystem).
MIN_MINUTES = 5


@dataclass(frozen=True)
class Work:
    """What one training job does."""

    sizes: tuple  # n₀ … n_L
    runs: int  # S
    rows: int  # m, training rows
    epochs: int
    batch_size: int
    itemsize: int  # 4 (float32) or 8 (float64)
    monitor_rows: int | None = None  # None or ≥ rows: every training row
    held_out_rows: int = 20_000  # validation + test rows
    test_by_need: bool = True
    rule_buffers: int = 1  # parameter-sized arrays of the update rule (the largest of the job's runs)
    exact: bool = False  # exact arithmetic (mlpsweep.nn.exact): float64 copies and checks, EXACT_TIME_FACTOR

    @classmethod
    def of(
        cls,
        settings,
        *,
        features: int,
        classes: int,
        rows: int,
        held_out_rows: int,
        runs: int = 1,
        monitor_rows: int | None = None,
        test_by_need: bool = True,
        mode: str = "native",
    ) -> "Work":
        """The work of a job of ``runs`` runs with these (resolved) ``settings`` on ``rows`` training rows, in the
        arithmetic ``mode`` (exact applies to float32 networks)."""
        # training caps the batch at the training rows (a batch larger than the split is gradient descent)
        return cls(
            sizes=(features, *settings.hidden, classes),
            runs=runs,
            rows=rows,
            epochs=settings.epochs,
            batch_size=max(1, min(settings.batch_size, rows)),
            itemsize=4 if settings.dtype == "float32" else 8,
            monitor_rows=monitor_rows or None,
            held_out_rows=held_out_rows,
            test_by_need=test_by_need,
            rule_buffers=rule_class(settings.rule["name"]).buffers,
            exact=mode == "exact" and settings.dtype == "float32",
        )

    @property
    def weights(self) -> int:
        return sum(a * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    @property
    def params(self) -> int:
        return self.weights + sum(self.sizes[1:])


def memory_mb(w: Work) -> float:
    """Peak resident memory of the job, MB (the module's formula)."""
    d, out = w.sizes[0], w.sizes[-1]
    total = (
        w.rows * d * 4
        + (w.rows * d * w.itemsize if w.itemsize != 4 else 0)
        + EVAL_CHUNK * d * w.itemsize
        + w.runs * gather_rows(w.batch_size, w.runs, (d + out) * w.itemsize) * (d + out) * w.itemsize
        + w.runs * w.params * ((COPIES + w.rule_buffers) * w.itemsize + 2 * 8)
        + w.runs * EVAL_CHUNK * sum(w.sizes[1:]) * w.itemsize * 2
    )
    if w.exact:  # float64 [W; |W|] per run, and a step's float64 inputs, magnitudes, δ and brackets
        total += w.runs * (2 * w.weights * 8 + w.batch_size * sum(w.sizes) * 8 * 6)
    return BASE_MB + total / 1e6


def train_flops(k: int) -> float:
    if k <= 16:
        return TRAIN_FLOPS_SMALL
    if k >= 128:
        return TRAIN_FLOPS_LARGE
    f = math.log(k / 16) / math.log(128 / 16)
    return TRAIN_FLOPS_SMALL * (TRAIN_FLOPS_LARGE / TRAIN_FLOPS_SMALL) ** f


def seconds(w: Work) -> float:
    """Run time of the job, seconds (the module's formula)."""
    k = max(1, min(w.batch_size, w.rows))
    layers = len(w.sizes) - 1
    train_rows = min(w.monitor_rows, w.rows) if w.monitor_rows else w.rows
    validation = w.held_out_rows / 2
    test = w.held_out_rows / 2 * (2 / max(w.epochs, 1) if w.test_by_need else 1.0)  # by need: two looks a run
    per_epoch = (
        w.rows * 6 * w.weights / train_flops(k)
        + (w.rows / k) * layers * STEP_S
        + (train_rows + validation + test) * 2 * w.weights / EVAL_FLOPS
    )
    return START_S + w.epochs * w.runs * per_epoch * (EXACT_TIME_FACTOR if w.exact else 1.0)


def request(w: Work, mem_scale: float = 1.0, time_scale: float = 1.0) -> tuple[int, int]:
    """(mem_mb, runtime in minutes) to ask a scheduler for: the estimates with their headroom, rounded up."""
    mem = math.ceil(memory_mb(w) * MEM_HEADROOM * mem_scale)
    minutes = math.ceil(seconds(w) * TIME_HEADROOM * time_scale / 60)
    return max(mem, 200), max(minutes, MIN_MINUTES)


def machine_mb() -> int | None:
    """This machine's physical memory, MB (None where it cannot be told)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e6)
    except (ValueError, OSError, AttributeError):
        return None


class TooBig(ValueError):
    """A job whose estimated memory or run time exceeds the limit."""


def check(w: Work, limit_mb: float | None, what: str) -> None:
    """Raise :class:`TooBig` (one line naming ``what``, the estimate and the limit) if the job cannot fit."""
    if limit_mb is None:
        return
    need = memory_mb(w)
    if need > limit_mb:
        raise TooBig(
            f"{what}: needs about {need:,.0f} MB ({w.runs} run{'s' if w.runs > 1 else ''} of "
            f"{list(w.sizes)}, {w.rows:,} rows), more than the {limit_mb:,.0f} MB available "
            "(resources.max_mem_mb); use fewer or smaller layers, fewer runs per job, or raise the limit"
        )


def check_time(w: Work, limit_minutes: float | None, what: str) -> None:
    """Raise :class:`TooBig` (one line naming ``what``, the estimate and the limit) if the job would run longer
    than ``limit_minutes`` by the estimate (no headroom: a job refused here is beyond doubt too long)."""
    if limit_minutes is None:
        return
    need = seconds(w) / 60
    if need > limit_minutes:
        raise TooBig(
            f"{what}: needs about {need:,.0f} minutes ({w.runs} run{'s' if w.runs > 1 else ''} of "
            f"{list(w.sizes)}, {w.epochs:,} epochs of {w.rows:,} rows at batch size {w.batch_size:,}), more "
            f"than the {limit_minutes:,.0f} minutes allowed (resources.max_runtime); use fewer epochs or "
            "smaller layers, or raise the limit"
        )
