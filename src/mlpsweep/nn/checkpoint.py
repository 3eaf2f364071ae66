"""Checkpoints: a training run's whole state after an epoch, so a killed job resumes exactly.

A checkpoint is one ``.npz`` (no pickle) holding the parameters, the momentum
buffer (empty without momentum) and a JSON blob with the epoch, the history
so far and the ``numpy.random.Generator``'s bit-generator state.  Restoring
all three and continuing gives weights and history identical, bit for bit, to
a run that was never interrupted.

The file is named by a key, a hash of everything that determines the run
(settings, seed, data checksums), so a run whose config changed never picks up
a stale checkpoint.  It is written atomically; a damaged one is ignored (with
a warning) and training starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .sgd import History, TrainingState

log = logging.getLogger("mlpsweep.checkpoint")
FORMAT = "mlpsweep.checkpoint"


def run_key(**what) -> str:
    """A short stable hash of a JSON-able description of a run."""
    text = json.dumps(what, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Checkpointer:
    """Save every ``every`` epochs to ``folder/{key}.npz``; load it back."""

    def __init__(self, folder, key: str, every: int = 1):
        self.folder = Path(folder)
        self.key = key
        self.every = max(1, int(every))
        self.path = self.folder / f"{key}.npz"

    def __call__(self, record: dict, state: TrainingState) -> None:
        if state.epoch % self.every == 0 or state.epoch == state.config.epochs:
            self.save(state)

    def save(self, state: TrainingState) -> None:
        velocity = state.velocity if state.velocity is not None else np.zeros(0, dtype=state.net.dtype)
        self.write({"params": state.net.params, "velocity": velocity},
                   {"epoch": state.epoch, "history": state.history.to_csv(), "rng": state.rng.bit_generator.state})

    def load(self):
        """(params, velocity or None, epoch, history, rng state), or None when there is no usable checkpoint."""
        got = self.read(("params", "velocity"), lambda meta: [History.from_csv(meta["history"])])
        if got is None:
            return None
        arrays, meta, (history,) = got
        velocity = arrays["velocity"]
        return arrays["params"], (velocity if velocity.size else None), int(meta["epoch"]), history, meta["rng"]

    def write(self, arrays: dict, meta: dict) -> None:
        """Save ``arrays`` and a JSON-able ``meta`` (with this checkpoint's format and key) atomically."""
        blob = np.frombuffer(json.dumps({"format": FORMAT, "key": self.key, **meta}).encode(), dtype=np.uint8)
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=blob, **arrays)

    def read(self, names, histories):
        """(arrays, meta, histories(meta)) of a usable checkpoint of this run, or None.

        ``histories(meta)`` parses the saved histories; each must hold ``meta["epoch"]`` records.
        """
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                meta = json.loads(f["meta"].tobytes().decode())
                arrays = {name: f[name].copy() for name in names}
            if meta.get("format") != FORMAT or meta.get("key") != self.key:
                raise ValueError("not a checkpoint of this run")
            parsed = histories(meta)
            if max(map(len, parsed), default=-1) != meta["epoch"]:  # a diverged run's history stops early
                raise ValueError("histories and epoch disagree")
        except Exception as exc:  # a damaged file must not stop the job: start over
            log.warning("%s: unusable checkpoint (%s); training from the start", self.path, exc)
            return None
        return arrays, meta, parsed

    def remove_all(self) -> None:
        """Delete this run's checkpoint and any stale ones (other keys) in its folder."""
        if self.folder.is_dir():
            for p in self.folder.glob("*.npz"):
                p.unlink(missing_ok=True)
            try:
                self.folder.rmdir()
            except OSError:
                pass


class StackCheckpointer(Checkpointer):
    """The checkpoint of a stack of runs (:mod:`mlpsweep.nn.stacked`): every run's parameters, momentum
    buffer, history, generator state and divergence, in one file."""

    def __call__(self, records, state) -> None:
        if state.epoch % self.every == 0 or state.epoch == state.configs[0].epochs:
            self.save(state)

    def save(self, state) -> None:
        nets = state.nets
        velocity = np.stack([v if v is not None else np.zeros_like(n.params) for v, n in zip(state.velocities, nets)])
        self.write(
            {"params": np.stack([n.params for n in nets]), "velocity": velocity,
             "has_velocity": np.array([v is not None for v in state.velocities])},
            {"epoch": state.epoch, "histories": [h.to_csv() for h in state.histories],
             "rngs": [r.bit_generator.state for r in state.rngs],
             "diverged": [None if d is None else list(d) for d in state.diverged]},
        )

    def load(self, runs: int):
        """(params, velocities, epoch, histories, rng states, diverged) per run, or None."""
        got = self.read(("params", "velocity", "has_velocity"),
                        lambda meta: [History.from_csv(t) for t in meta["histories"]])
        if got is None:
            return None
        arrays, meta, histories = got
        if len(histories) != runs or arrays["params"].shape[0] != runs:
            log.warning("%s: a checkpoint of another stack; training from the start", self.path)
            return None
        velocities = [v if has else None for v, has in zip(arrays["velocity"], arrays["has_velocity"])]
        return (list(arrays["params"]), velocities, int(meta["epoch"]), histories, meta["rngs"],
                [None if d is None else tuple(d) for d in meta["diverged"]])
