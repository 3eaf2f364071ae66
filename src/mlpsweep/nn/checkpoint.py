"""Checkpoints: a training job's whole state after an epoch, so a killed job resumes exactly.

A checkpoint is one ``.npz`` (no pickle) holding the parameters, each run's
update-rule state by name (``rule{s}.velocity``, ``rule{s}.m``, …: whatever the
rule's ``state`` holds, none for plain SGD), the weights of the best-validation
epoch kept for the test set (:class:`~.monitoring.Kept`) and a JSON blob with the
epoch, the history so far and the ``numpy.random.Generator``'s bit-generator
state.  Restoring them and continuing gives weights and history identical, bit
for bit, to a run that was never interrupted.

The file is named by a key, a hash of everything that determines the run
(settings, seed, data checksums), so a run whose config changed never picks up
a stale checkpoint.  It is written atomically; a damaged one is ignored (with
a warning) and training starts over.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from .history import History
from .io import savez
from .sgd import TrainingState

log = logging.getLogger("mlpsweep.checkpoint")
FORMAT = "mlpsweep.checkpoint"


def run_key(**what) -> str:
    """A short stable hash of a JSON-able description of a run."""
    text = json.dumps(what, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Checkpointer:
    """Save a stack of runs (one run is a stack of one) every ``every`` epochs to ``folder/{key}.npz``;
    load it back: every run's parameters, update-rule state, history, generator state and divergence."""

    def __init__(self, folder, key: str, every: int = 1):
        self.folder = Path(folder)
        self.key = key
        self.every = max(1, int(every))
        self.path = self.folder / f"{key}.npz"

    def __call__(self, records, state: TrainingState) -> None:
        if state.epoch % self.every == 0 or state.epoch == state.settings[0].epochs:
            self.save(state)

    def save(self, state: TrainingState) -> None:
        nets = state.nets
        best = np.stack([n.params if b is None else b[1] for b, n in zip(state.best, nets)])
        arrays = {"params": np.stack([n.params for n in nets]), "best_params": best}
        # each run's update-rule state, by name, whatever the rule keeps
        names = [list(rule.state) for rule in state.rules]
        for s, rule in enumerate(state.rules):
            arrays.update({f"rule{s}.{name}": value for name, value in rule.state.items()})
        meta = {
            "format": FORMAT,
            "key": self.key,
            "epoch": state.epoch,
            "rule_state": names,
            "best_epochs": [None if b is None else b[0] for b in state.best],
            "histories": [h.to_csv() for h in state.histories],
            "rngs": [r.bit_generator.state for r in state.rngs],
            "diverged": [None if d is None else list(d) for d in state.diverged],
        }
        blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as fh:
                savez(fh, meta=blob, **arrays)

    def load(self, runs: int):
        """(params, update-rule states, epoch, histories, rng states, diverged, kept best-validation weights) per
        run, or None when there is no usable checkpoint of these ``runs`` runs (a damaged one is ignored with a
        warning)."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as f:
                meta = json.loads(f["meta"].tobytes().decode())
                arrays = {name: f[name].copy() for name in ("params", "best_params")}
                rule_states = [
                    {name: f[f"rule{s}.{name}"].copy() for name in names} for s, names in enumerate(meta["rule_state"])
                ]
            if meta.get("format") != FORMAT or meta.get("key") != self.key:
                raise ValueError("not a checkpoint of this run")
            histories = [History.from_csv(t) for t in meta["histories"]]
            if max(map(len, histories), default=-1) != meta["epoch"]:  # a diverged run's history stops early
                raise ValueError("histories and epoch disagree")
            if len(histories) != runs or arrays["params"].shape[0] != runs:
                raise ValueError("a checkpoint of another stack")
        except Exception as exc:  # a damaged file must not stop the job: start over
            log.warning("%s: unusable checkpoint (%s); training from the start", self.path, exc)
            return None
        best = [None if e is None else (e, p) for e, p in zip(meta["best_epochs"], arrays["best_params"])]
        return (
            list(arrays["params"]),
            rule_states,
            int(meta["epoch"]),
            histories,
            meta["rngs"],
            [None if d is None else tuple(d) for d in meta["diverged"]],
            best,
        )

    def remove_all(self) -> None:
        """Delete this run's checkpoint and stale ones of earlier settings in its folder — only files a
        checkpointer wrote (named by a key, holding a checkpoint's record), never another file that lies there —
        and the folder when that leaves it empty."""
        if self.folder.is_dir():
            for p in self.folder.iterdir():
                if p == self.path or is_checkpoint(p):
                    p.unlink(missing_ok=True)
            try:
                self.folder.rmdir()
            except OSError:
                pass


def is_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a file a :class:`Checkpointer` wrote: a key's name and a checkpoint's record inside."""
    if not re.fullmatch(r"[0-9a-f]{20}\.npz", path.name) or not path.is_file():
        return False
    try:
        with np.load(path, allow_pickle=False) as f:
            return json.loads(f["meta"].tobytes().decode()).get("format") == FORMAT
    except Exception:  # unreadable or not ours: leave it
        return False
