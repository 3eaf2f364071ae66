"""What a training job evaluates after every epoch: the monitored training rows, validation, and the test set
(every epoch, or by need: the best-validation epoch's weights kept in memory, :class:`Kept`).

Monitoring costs arithmetic, not results (the weights are the same whatever is monitored): by default every
training row and the test set are evaluated after every epoch.  ``monitor_rows`` records the training cost and
accuracy on a fixed sample of that many rows (:func:`monitored_rows`); ``test_by_need`` evaluates the test set
only where a number is read from it: the last epoch's weights, and the weights of the best-validation epoch
(the first with the highest validation accuracy), kept in memory from that epoch on and evaluated at the last
epoch, or at the epoch the run diverges (the test numbers of other epochs are None; every epoch's without a
validation set)."""

from __future__ import annotations

import math

import numpy as np

from .history import History
from .network import Network, evaluate_all


#: Rows per batched forward pass when monitoring (bounds its memory).
EVAL_CHUNK = 2048


def monitor(nets: list[Network], x, y, validation: tuple | None, test: tuple | None, chunk: int) -> list[dict]:
    """Each net's ``train_*``, ``val_*`` and ``test_*`` cost and accuracy (None without that set),
    evaluated as :meth:`Network.evaluate` does for it alone, each set's rows read once for all nets."""
    records: list[dict] = [{} for _ in nets]
    with np.errstate(over="ignore", invalid="ignore"):
        for prefix, pair in {"train": (x, y), "val": validation, "test": test}.items():
            evals = (
                evaluate_all(nets, *pair, chunk) if pair is not None else [{"cost": None, "accuracy": None}] * len(nets)
            )
            for rec, ev in zip(records, evals):
                rec[f"{prefix}_cost"], rec[f"{prefix}_accuracy"] = ev["cost"], ev["accuracy"]
    return records


#: The seed of the training rows monitored when only a sample is (their own generator, never a run's).
MONITOR_SEED = 20261201


def monitored_rows(m: int, n: int | None) -> np.ndarray | None:
    """The training rows whose cost and accuracy a job records each epoch: ``n`` of the ``m`` rows drawn once
    (sorted, the same rows every epoch and for every run) from :data:`MONITOR_SEED`, or None for all rows."""
    if n is None or n <= 0 or n >= m:
        return None
    return np.sort(np.random.default_rng(MONITOR_SEED).choice(m, size=n, replace=False))


class Kept:
    """The weights of each run's best-validation epoch so far, kept in memory for the test set's one look."""

    def __init__(self, nets: list[Network], best: list | None):
        self.nets = nets
        self.best = [
            None if b is None else (int(b[0]), np.array(b[1], dtype=net.dtype))
            for b, net in zip(best or [None] * len(nets), nets)
        ]

    def keep(self, s: int, epoch: int) -> None:
        if self.best[s] is None:
            self.best[s] = (epoch, self.nets[s].params.copy())
        else:
            np.copyto(self.best[s][1], self.nets[s].params)
            self.best[s] = (epoch, self.best[s][1])

    def test(self, runs: list, histories: list[History], test: tuple, chunk: int) -> None:
        """Evaluate the kept weights of ``runs`` on the test set (rows read once for all) and write the numbers
        into their best epoch's record (the last epoch has its own from monitoring)."""
        todo = [s for s in runs if self.best[s] is not None and histories[s][self.best[s][0] - 1]["test_cost"] is None]
        if not todo:
            return
        nets = [
            Network(**self.nets[s].config(), params=self.best[s][1], arithmetic=self.nets[s].arithmetic.name)
            for s in todo
        ]
        with np.errstate(over="ignore", invalid="ignore"):
            for s, ev in zip(todo, evaluate_all(nets, *test, chunk)):
                record = histories[s][self.best[s][0] - 1]
                record["test_cost"], record["test_accuracy"] = ev["cost"], ev["accuracy"]


class SampledRows:
    """The monitored sample of training rows, gathered chunk by chunk when evaluated rather than copied once
    (a copy of 10,000 rows of 784 float32 features is 31 MB of a job's peak memory; gathering them into
    the evaluation's reused buffer costs about a millisecond per epoch).  Read like
    :class:`mlpsweep.data.preprocess.StreamedRows`."""

    streamed = True

    def __init__(self, x: np.ndarray, rows: np.ndarray):
        self.x, self.rows = x, rows
        self.shape, self.dtype, self.ndim = (len(rows), x.shape[1]), x.dtype, 2

    def __len__(self) -> int:
        return self.shape[0]

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        idx = self.rows[max(0, start) : stop]
        if out is None:
            return self.x[idx]
        return np.take(self.x, idx, axis=0, out=out[: len(idx)], mode="clip")  # (mode="raise" buffers out)


def finite(record: dict, params: np.ndarray) -> bool:
    """Whether an epoch ended sound: finite training cost and parameters, and a finite validation
    cost where there is one (otherwise the run has diverged at that epoch)."""
    if not (math.isfinite(record["train_cost"]) and np.isfinite(params).all()):
        return False
    return record["val_cost"] is None or math.isfinite(record["val_cost"])
