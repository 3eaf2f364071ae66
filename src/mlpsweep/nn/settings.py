"""One run's settings, complete: the one form they take from the plan to the update line."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from .penalties import LpPenalty


@dataclass(frozen=True)
class Settings:
    """One run's settings, complete: the one form they take from the plan to the update line.

    :func:`mlpsweep.settings.resolve` builds it, once, from settings checked
    against the config schema with the schema's defaults (the lecture's recipe)
    filled in; this class only holds them.  Values keep the JSON types the
    schema allows (``eta: 3`` stays an integer), so :meth:`to_dict` gives back
    exactly the JSON a run records and a job receives.  The network's keys
    (``hidden`` … ``dtype``) build it (:meth:`Network.from_config`); the rest
    drive its training: η and its per-epoch decay, the batch size K, epochs,
    the Lp penalty λ Σ|w|^p (λ = 0: none), the dropout rate r and momentum μ.
    """

    hidden: tuple
    activation: str
    output: str
    cost: str
    init: str
    eta: float
    batch_size: int
    epochs: int
    penalty_p: float
    penalty_lambda: float
    dropout: float
    dtype: str
    momentum: float
    eta_decay: float
    optimizer: dict | None = None  # None: sgd, or momentum μ when ``momentum`` > 0 (:attr:`rule`)

    #: What the runs of one stack share (the others, e.g. η, λ, p, dropout, init, momentum, may differ).
    STACKED = ("hidden", "activation", "output", "cost", "dtype", "batch_size", "epochs")

    @classmethod
    def from_dict(cls, data: dict) -> Settings:
        """From the JSON form of complete, already checked settings (:func:`mlpsweep.settings.resolve` checks)."""
        pen = data["penalty"]
        rest = {k: v for k, v in data.items() if k not in ("penalty", "hidden")}
        return cls(hidden=tuple(data["hidden"]), **rest, penalty_p=pen["p"], penalty_lambda=pen["lambda"])

    def to_dict(self) -> dict:
        """The JSON form, as the config schema writes settings."""
        out = {}
        for f in fields(self):
            if f.name == "penalty_p":
                out["penalty"] = {"p": self.penalty_p, "lambda": self.penalty_lambda}
            elif f.name != "penalty_lambda":
                out[f.name] = list(self.hidden) if f.name == "hidden" else getattr(self, f.name)
        return out

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def penalty(self) -> LpPenalty:
        return LpPenalty(float(self.penalty_p), float(self.penalty_lambda))

    @property
    def rule(self) -> dict:
        """The update rule, ``{"name": …, its options}``: ``optimizer``, or what ``momentum`` stands for."""
        if self.optimizer is not None:
            return dict(self.optimizer)
        return {"name": "momentum", "momentum": self.momentum} if self.momentum else {"name": "sgd"}
