"""Operating characteristics of the compare study's verdicts, by simulation.

How often does a verdict say *supported* or *contradicted* when it should not?  This module simulates
whole studies — seeds drawn, looks taken, the decision rule applied — many thousands at once, so that the
error rates the report relies on can be measured under the situations real runs meet:

* per-seed accuracies of the runs that train: normal, with equal or unequal spreads;
* runs that fail partly: a share of a topology's trained runs a few points low (still predicting every
  class, so counted as trained), and left-skewed accuracies (:data:`SHAPES`);
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
from functools import lru_cache

import numpy as np

from .sequential import Design, t_levels
from .stats import trimmed
from .verdicts import TRIM

RULES = ("primary", "trained", "all runs")
CLAIMS = ("deeper_not_better", "alternatives_better")


#: Shapes of the trained runs' accuracies: normal, or left-skewed (a long tail of lower runs) — the mirror image
#: of a gamma of shape 1 or 4 or of a log-normal (σ = 1), each scaled to the side's spread.
SHAPES = ("normal", "gamma1", "gamma4", "lognormal")


def _shape(name: str):
    """The frozen SciPy distribution of a shape, standardised to spread 1 (its mean need not be 0)."""
    from scipy import stats

    if name == "normal":
        return stats.norm()
    if name in ("gamma1", "gamma4"):
        k = float(name[-1])
        return stats.gamma(k, scale=1 / math.sqrt(k))
    if name == "lognormal":
        return stats.lognorm(1.0, scale=1 / math.sqrt((math.e - 1) * math.e))
    raise ValueError(f"unknown shape {name!r}; use one of {', '.join(SHAPES)}")


@lru_cache(maxsize=256)
def trimmed_location(shape: str, sd: float, low_share: float, low_drop: float, trim: float) -> float:
    """The population ``trim``-trimmed mean of a side's trained runs: ``shape`` at spread ``sd`` (left-skewed
    shapes mirrored), with a share ``low_share`` of the runs ``low_drop`` lower — the integral of the quantile
    function over (trim, 1 − trim), by the midpoint rule on 200,000 points of the mixture's quantile found
    from its distribution function on a fine grid (error ~10⁻⁷ of the spread)."""
    dist = _shape(shape)
    sign = 1.0 if shape == "normal" else -1.0

    def cdf(x):  # of sign·sd·X − low_drop·Bernoulli(low_share)
        def base(y):
            return dist.cdf(y / sd) if sign > 0 else dist.sf(-y / sd)

        return (1 - low_share) * base(x) + low_share * base(x + low_drop)

    lo = sd * (dist.ppf(1e-12) if sign > 0 else -dist.isf(1e-12)) - low_drop
    hi = sd * (dist.isf(1e-12) if sign > 0 else -dist.ppf(1e-12))
    grid = np.linspace(lo, hi, 400_001)
    u = cdf(grid)
    points = 200_000
    q = trim + (np.arange(points) + 0.5) / points * (1 - 2 * trim)
    return float(np.interp(q, u, grid).mean())


@dataclass(frozen=True)
class Scenario:
    """The truth of a simulated study, in fractions of accuracy.  The runs that train: ``shape`` (normal, or
    left-skewed: :data:`SHAPES`) with spreads ``sd_a``, ``sd_b``; a share ``low_a`` (``low_b``) of them fail
    partly — ``low_drop_a`` (``low_drop_b``) lower, yet counted as trained.  B's trained runs are ``diff``
    above A's by the estimand of the verdict's rule — the difference of ``trim``-trimmed means of the
    trained runs' populations (:data:`mlpsweep.verdicts.TRIM`; 0: of means).  Each seed fails to train with
    ``fail_a`` (``fail_b``) and then loses ``drop_a`` (``drop_b``)."""

    diff: float
    sd_a: float
    sd_b: float
    fail_a: float = 0.0
    fail_b: float = 0.0
    drop_a: float = 0.0
    drop_b: float = 0.0
    low_a: float = 0.0
    low_b: float = 0.0
    low_drop_a: float = 0.0
    low_drop_b: float = 0.0
    shape_a: str = "normal"
    shape_b: str = "normal"
    trim: float = TRIM

    def trained(self, side: str, size: tuple, rng: np.random.Generator) -> np.ndarray:
        """Draws of a side's trained runs, centred so that the estimand of that side is 0."""
        shape, sd = getattr(self, f"shape_{side}"), getattr(self, f"sd_{side}")
        low, drop = getattr(self, f"low_{side}"), getattr(self, f"low_drop_{side}")
        if shape == "normal":
            x = rng.standard_normal(size) * sd
        else:
            x = -_shape(shape).rvs(size=size, random_state=rng) * sd
        if low:
            x = x - drop * (rng.random(size) < low)
        if shape == "normal" and not low:
            return x  # symmetric about 0: every trimmed mean is 0
        return x - trimmed_location(shape, sd, low, drop, self.trim)


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


def draw(scenario: Scenario, studies: int, seeds: int, rng: np.random.Generator) -> dict:
    """Per-seed accuracies and failure flags of both topologies for ``studies`` studies of ``seeds`` seeds."""
    s = scenario
    fail_a = rng.random((studies, seeds)) < s.fail_a
    fail_b = rng.random((studies, seeds)) < s.fail_b
    a = s.trained("a", (studies, seeds), rng) - s.drop_a * fail_a
    b = s.diff + s.trained("b", (studies, seeds), rng) - s.drop_b * fail_b
    return {"a": a, "b": b, "fail_a": fail_a, "fail_b": fail_b}


def _difference(a, b, keep_a, keep_b, df_rule: str, trim: float):
    """Vectorised :func:`mlpsweep.verdicts.difference` over rows: diff, se, ν (nan where a side keeps < 2)."""
    ta = trimmed(np.where(keep_a, a, np.nan), trim)
    tb = trimmed(np.where(keep_b, b, np.nan), trim)
    ha, hb = ta.h.astype(np.float64), tb.h.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(ta.d + tb.d)
        if df_rule == "min":
            nu = np.minimum(ha, hb) - 1.0
        else:
            nu = (ta.d + tb.d) ** 2 / (ta.d**2 / (ha - 1) + tb.d**2 / (hb - 1))
    ok = (ha >= 2) & (hb >= 2)
    return np.where(ok, tb.mean - ta.mean, np.nan), np.where(ok, se, np.nan), np.where(ok, nu, np.nan)


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
    trim: float = TRIM,
) -> np.ndarray:
    """Every study's verdict on its first ``n`` seeds per topology at level ``level``: +1 supported, −1
    contradicted, 0 inconclusive (the rules of :mod:`mlpsweep.studies.compare` for one deeper network or one
    alternative, with ``min_seeds`` 2); ``trim``: the trained part's trimming (0: the means, Welch's test — the
    rule before #40)."""
    from scipy import stats

    from .verdicts import rate_p_table

    a, b = data["a"][:, :n], data["b"][:, :n]
    fa, fb = data["fail_a"][:, :n], data["fail_b"][:, :n]
    if rule == "all runs":
        keep_a = keep_b = np.ones_like(a, dtype=bool)
    else:
        keep_a, keep_b = ~fa, ~fb
    if rule == "all runs":  # the rule before #32: Welch on every run, Welch–Satterthwaite's ν
        diff, se, nu = _difference(a, b, keep_a, keep_b, "welch", 0.0)
    else:
        diff, se, nu = _difference(a, b, keep_a, keep_b, df_rule, trim)
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
    trim: float = TRIM,
) -> Outcomes:
    """``studies`` simulated studies of ``design`` under ``scenario``, decided by ``rule`` at every look (a
    design of one look is a fixed design, tested at α) — Welch's statistic on min(n_A, n_B) − 1 degrees of
    freedom, as the report uses it, at the design's calibrated levels, or at ``levels`` when given (to show
    what other levels would do).  ``trim``: the trained part's trimming — :data:`mlpsweep.verdicts.TRIM`, or
    0 for the rule before #40 (Welch's test of the means, at its own calibrated levels).  ``rule="all runs"``
    is the rule before #32: Welch on every run, Welch–Satterthwaite's ν."""
    if claim not in CLAIMS or rule not in RULES:
        raise ValueError(f"claim must be one of {CLAIMS} and rule one of {RULES}")
    data = draw(scenario, studies, design.max, rng)
    trim = 0.0 if rule == "all runs" else trim
    sequential = design.looks > 1
    if sequential:
        levels = levels or t_levels(tuple(design.sizes), design.alpha, design.spending, trim)
        plan = list(zip(design.sizes, levels))
    else:
        plan = [(design.max, t_levels((design.max,), design.alpha, design.spending, trim)[0])]  # α at trim 0
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
            trim=trim,
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
