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
        meta = {
            "format": FORMAT,
            "key": self.key,
            "epoch": state.epoch,
            "history": state.history.to_csv(),
            "rng": state.rng.bit_generator.state,
        }
        blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        velocity = state.velocity if state.velocity is not None else np.zeros(0, dtype=state.net.dtype)
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, params=state.net.params, velocity=velocity, meta=blob)

    def load(self):
        """(params, velocity or None, epoch, history, rng state), or None when there is no usable checkpoint."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                meta = json.loads(f["meta"].tobytes().decode())
                params, velocity = f["params"].copy(), f["velocity"].copy()
            if meta.get("format") != FORMAT or meta.get("key") != self.key:
                raise ValueError("not a checkpoint of this run")
            history = History.from_csv(meta["history"])
            if len(history) != meta["epoch"]:
                raise ValueError("history and epoch disagree")
        except Exception as exc:  # a damaged file must not stop the job: start over
            log.warning("%s: unusable checkpoint (%s); training from the start", self.path, exc)
            return None
        return params, (velocity if velocity.size else None), int(meta["epoch"]), history, meta["rng"]

    def remove_all(self) -> None:
        """Delete this run's checkpoint and any stale ones (other keys) in its folder."""
        if self.folder.is_dir():
            for p in self.folder.glob("*.npz"):
                p.unlink(missing_ok=True)
            try:
                self.folder.rmdir()
            except OSError:
                pass
