"""Operating characteristics of the compare study's verdicts, by simulation.

How often does a verdict say *supported* or *contradicted* when it should not?  This module simulates
whole studies — seeds drawn, looks taken, the decision rule applied — many thousands at once, so that the
error rates the report relies on can be measured under the situations real runs meet:

* per-seed accuracies of the runs that train: normal, with equal or unequal spreads;
* runs that fail to train (stuck, or diverged): each seed fails with a topology's rate and then loses a
  fixed drop of accuracy — the mixture a user of the recipe gets;
* designs: a fixed number of seeds, or a sequential design (:mod:`mlpsweep.sequential`).

:func:`simulate` applies, in vectorised form, the rules of :mod:`mlpsweep.studies.compare` for one deeper
network (``deeper_not_better``) or one alternative (``alternatives_better``): ``rule="primary"`` the
verdict the report leads with (both parts, :data:`mlpsweep.studies.compare.PARTS`), ``"trained"`` its
first part alone, and ``"all runs"`` the rule this project used before (Welch on every run's accuracy,
failures included), kept to show what it did.  The suite checks that the vectorised rule decides as
:func:`mlpsweep.studies.compare.decide_deeper_not_better` and ``decide_alternatives_better`` do, study by
study; ``benchmarks/verdict_errors.py`` runs the full table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .sequential import Design

RULES = ("primary", "trained", "all runs")
CLAIMS = ("deeper_not_better", "alternatives_better")


@dataclass(frozen=True)
class Scenario:
    """The truth of a simulated study, in fractions of accuracy: B's trained runs are ``diff`` above A's;
    per-seed spreads ``sd_a``, ``sd_b``; each seed fails to train with ``fail_a`` (``fail_b``) and then loses
    ``drop_a`` (``drop_b``)."""

    diff: float
    sd_a: float
    sd_b: float
    fail_a: float = 0.0
    fail_b: float = 0.0
    drop_a: float = 0.0
    drop_b: float = 0.0


@dataclass(frozen=True)
class Outcomes:
    """Shares of simulated studies by verdict, the mean seeds per topology used, and the number of studies."""

    supported: float
    contradicted: float
    inconclusive: float
    mean_seeds: float
    studies: int

    def se(self, share: float) -> float:
        """The Monte-Carlo standard error of a share of these studies."""
        return math.sqrt(max(share * (1 - share), 0.0) / self.studies)


def fixed(n: int, alpha: float = 0.05) -> Design:
    """A fixed design of ``n`` seeds per topology: one look at α."""
    return Design(n, n, n, alpha)


def draw(scenario: Scenario, studies: int, seeds: int, rng: np.random.Generator) -> dict:
    """Per-seed accuracies and failure flags of both topologies for ``studies`` studies of ``seeds`` seeds."""
    s = scenario
    fail_a = rng.random((studies, seeds)) < s.fail_a
    fail_b = rng.random((studies, seeds)) < s.fail_b
    a = rng.standard_normal((studies, seeds)) * s.sd_a - s.drop_a * fail_a
    b = s.diff + rng.standard_normal((studies, seeds)) * s.sd_b - s.drop_b * fail_b
    return {"a": a, "b": b, "fail_a": fail_a, "fail_b": fail_b}


def _welch(a, b, keep_a, keep_b, df_rule: str):
    """Vectorised :func:`mlpsweep.verdicts.difference` over rows: diff, se, ν (nan where a side has < 2)."""
    na, nb = keep_a.sum(axis=1), keep_b.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = np.where(keep_a, a, 0.0).sum(axis=1) / na
        mb = np.where(keep_b, b, 0.0).sum(axis=1) / nb
        va = np.where(keep_a, (a - ma[:, None]) ** 2, 0.0).sum(axis=1) / (na - 1) / na
        vb = np.where(keep_b, (b - mb[:, None]) ** 2, 0.0).sum(axis=1) / (nb - 1) / nb
        se = np.sqrt(va + vb)
        if df_rule == "min":
            nu = np.minimum(na, nb) - 1.0
        else:
            nu = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    ok = (na >= 2) & (nb >= 2)
    return np.where(ok, mb - ma, np.nan), np.where(ok, se, np.nan), np.where(ok, nu, np.nan)


def _holm_any(p: np.ndarray, alpha: float) -> np.ndarray:
    """Row-wise: does Holm's procedure reject at least one of the columns of ``p`` (nan never rejected)?"""
    return np.nan_to_num(p, nan=np.inf).min(axis=1) <= alpha / p.shape[1]


def decide(
    data: dict,
    n: int,
    level: float,
    *,
    claim: str,
    rule: str,
    margin: float,
    failure_margin: float,
    df_rule: str,
) -> np.ndarray:
    """Every study's verdict on its first ``n`` seeds per topology at level ``level``: +1 supported, −1
    contradicted, 0 inconclusive (the rules of :mod:`mlpsweep.studies.compare` for one deeper network or one
    alternative, with ``min_seeds`` 2)."""
    from scipy import stats

    from .verdicts import rate_p_table

    a, b = data["a"][:, :n], data["b"][:, :n]
    fa, fb = data["fail_a"][:, :n], data["fail_b"][:, :n]
    if rule == "all runs":
        keep_a = keep_b = np.ones_like(a, dtype=bool)
    else:
        keep_a, keep_b = ~fa, ~fb
    diff, se, nu = _welch(a, b, keep_a, keep_b, "welch" if rule == "all runs" else df_rule)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.isf(level, nu) * se
        t = (diff - margin) / se
        p_above = stats.t.sf(t, nu)  # one-sided p of "the trained difference is above the margin"
    p_below = 1.0 - p_above
    high_below, low_above = diff + half < margin, diff - half > margin
    if rule != "primary":  # one part: the Welch test alone
        if claim == "deeper_not_better":
            return np.where(high_below, 1, np.where(low_above & (p_above <= level), -1, 0)).astype(np.int8)
        return np.where(p_above <= level, 1, np.where(high_below, -1, 0)).astype(np.int8)
    ka, kb = fa.sum(axis=1), fb.sum(axis=1)
    if claim == "deeper_not_better":  # B does not fail less often by the margin: p_b − p_a > −ε
        p_rate_support = rate_p_table(n, n, -failure_margin, True)[ka, kb]
        p_rate_contra = rate_p_table(n, n, -failure_margin, False)[ka, kb]
        supported = high_below & (p_rate_support <= level)
        contradicted = _holm_any(np.stack([p_above, p_rate_contra], 1), level)  # Holm over the two parts
        return np.where(contradicted, -1, np.where(supported, 1, 0)).astype(np.int8)
    # alternatives_better: B does not fail more often by the margin: p_b − p_a < ε
    p_rate_support = rate_p_table(n, n, failure_margin, False)[ka, kb]
    p_rate_contra = rate_p_table(n, n, failure_margin, True)[ka, kb]
    p_support = np.fmax(np.where(np.isnan(p_above), np.inf, p_above), p_rate_support)
    supported = p_support <= level
    contradicted = (np.nan_to_num(np.fmin(p_below, p_rate_contra), nan=np.inf) <= level / 2) & ~supported
    return np.where(supported, 1, np.where(contradicted, -1, 0)).astype(np.int8)


def simulate(
    design: Design,
    scenario: Scenario,
    *,
    studies: int,
    rng: np.random.Generator,
    claim: str = "deeper_not_better",
    rule: str = "primary",
    margin: float = 0.01,
    failure_margin: float = 0.2,
    levels: list[float] | None = None,
) -> Outcomes:
    """``studies`` simulated studies of ``design`` under ``scenario``, decided by ``rule`` at every look (a
    design of one look is a fixed design, tested at α) — Welch's statistic on min(n_A, n_B) − 1 degrees of
    freedom, as the report uses it, at the design's calibrated levels, or at ``levels`` when given (to show
    what other levels would do).  ``rule="all runs"`` is the rule before: Welch–Satterthwaite's ν."""
    if claim not in CLAIMS or rule not in RULES:
        raise ValueError(f"claim must be one of {CLAIMS} and rule one of {RULES}")
    data = draw(scenario, studies, design.max, rng)
    sequential = design.looks > 1
    plan = list(zip(design.sizes, levels or design.levels)) if sequential else [(design.max, design.alpha)]
    outcome = np.zeros(studies, dtype=np.int8)
    used = np.full(studies, design.max)
    for n, level in plan:
        open_ = np.flatnonzero(outcome == 0)
        sub = {k: x[open_] for k, x in data.items()}
        decided = decide(
            sub,
            n,
            level,
            claim=claim,
            rule=rule,
            margin=margin,
            failure_margin=failure_margin,
            df_rule="min",
        )
        outcome[open_] = decided
        used[open_[decided != 0]] = n
    return Outcomes(
        float(np.mean(outcome == 1)),
        float(np.mean(outcome == -1)),
        float(np.mean(outcome == 0)),
        float(used.mean()),
        studies,
    )
