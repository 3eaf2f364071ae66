"""Sequential seeds: a study looks at its verdict after every batch of seeds and stops once it is decided.

A study with ``replication: {start, step, max}`` trains ``start`` seeds per
topology, decides, and — while the verdict is *inconclusive* and ``max``
allows — trains ``step`` more and decides again.  Looking repeatedly at the
same growing data and stopping at the first decision would inflate the error
rates, so every look k tests at a *nominal* level p_k fixed in advance, from a
group-sequential design (Lan & DeMets 1983; Jennison & Turnbull 2000, ch. 7;
``STATISTICS.md``, "Sequential designs"):

* Looks at n_k = start, start + step, …, max seeds per topology (the last one
  at max), information fractions t_k = n_k / max.
* A spending function gives the one-sided error α(t) spent by fraction t:

  - O'Brien–Fleming type: α(t) = 1 − Φ(z(1 − α) / √t) — almost nothing early,
    nearly all of α at the last look;
  - Pocock type: α(t) = α · ln(1 + (e − 1) t) — about evenly spread.

* The boundaries c_1 … c_K (one-sided, on the z scale) solve, under H0, for the
  standardised statistics Z_k of the same Brownian motion (Cov(Z_j, Z_k) =
  √(t_j / t_k), j ≤ k):

      P(Z_1 ≥ c_1) = α(t_1),
      P(Z_1 < c_1, …, Z_{k−1} < c_{k−1}, Z_k ≥ c_k) = α(t_k) − α(t_{k−1}),

  computed by the recursive numerical integration of Armitage, McPherson and
  Rowe (1969) with Simpson's rule on grids that end at each boundary
  (:func:`boundaries`): S_t = √t Z is a Brownian motion,
  the sub-density of S at look k on the paths that have not crossed is the
  previous one convolved with N(0, t_k − t_{k−1}), and c_k is found by root
  finding on the crossing probability.
* Look k's test is the study's one-sided test at a *nominal* level p_k.  Its
  statistic is Welch's, and at these sample sizes and levels (the first look
  at 5 seeds tests near 10⁻⁵) Welch–Satterthwaite's degrees of freedom are not
  to be trusted when the two topologies' spreads differ; so a look refers the
  statistic to Student's t with min(n_A, n_B) − 1 degrees of freedom, which is
  conservative for every spread ratio (Mickey & Brown 1966), and the levels
  p_k are calibrated for the case where it is exact — an unbounded ratio, the
  one-sample t of the noisier side — by :func:`t_levels`: exactly (Student's t)
  at the first look, by a fixed-seed simulation of 2 × 10⁶ paths after it.
  The z boundaries above stay the normal theory's reference (``z_levels``).
  Each direction of a verdict (supported, contradicted) is a one-sided test
  with its own error: both stay at most α over all looks.
* The study stops at the first look whose verdict is not inconclusive, or at
  the last look; the report gives its verdict at that look's level.

The error rates hold for normally distributed per-seed accuracies of the runs
that train, for any ratio of spreads; runs that fail to train are a part of
the verdict of their own (:mod:`mlpsweep.studies.compare`).  The suite checks
by simulation (:mod:`mlpsweep.operating`) that a true difference exactly at
the margin ends *supported* or *contradicted* in at most α of the studies (up
to Monte-Carlo error) at spread ratios 1 and 25 and with failing seeds;
``benchmarks/verdict_errors.py`` measures every design and scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .verdicts import TRIM

SPENDING = ("obrien_fleming", "pocock")


def spent(t: float, alpha: float, rule: str) -> float:
    """The one-sided error spent by information fraction ``t`` (0 < t ≤ 1) under ``rule``."""
    from statistics import NormalDist

    if rule == "obrien_fleming":
        return 1.0 - NormalDist().cdf(NormalDist().inv_cdf(1 - alpha) / math.sqrt(t))
    if rule == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    raise ValueError(f"unknown spending rule {rule!r}; use one of {', '.join(SPENDING)}")


def _simpson(lo: float, hi: float, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the composite Simpson rule on [lo, hi] (``points`` odd)."""
    x = np.linspace(lo, hi, points)
    w = np.full(points, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * (x[1] - x[0]) / 3.0


@lru_cache(maxsize=64)
def boundaries(fractions: tuple, alpha: float, rule: str, points: int = 801) -> tuple:
    """One-sided z boundaries c_k at the information ``fractions`` (increasing, the last 1) that spend α by
    ``rule`` (see the module's docstring).

    The sub-density of S_t = √t·Z on the paths that have not crossed lives on (−∞, b_k] with b_k = c_k√t_k:
    each look's is kept at the nodes of Simpson's rule on [−12√t_k, b_k] — the boundary is the last node,
    so no grid cell straddles it — and carried to the next look by the normal kernel of variance
    t_{k+1} − t_k, integrated with the same rule (Jennison & Turnbull 2000, ch. 19).  The crossing
    probabilities are smooth integrals over a closed interval: 801 nodes give the boundaries to ~10⁻⁸ (the
    tests check the spending against SciPy's multivariate normal)."""
    from scipy import optimize, stats

    norm = stats.norm
    out, previous_t, previous_spent = [], 0.0, 0.0
    nodes = weights = density = None
    for t in fractions:
        target = spent(t, alpha, rule) - previous_spent
        if density is None:  # the first look: Z_1 is standard normal
            c = float(norm.isf(target))
            b = c * math.sqrt(t)
            nodes, weights = _simpson(-12.0 * math.sqrt(t), b, points)
            density = norm.pdf(nodes, scale=math.sqrt(t))
        else:
            sd = math.sqrt(t - previous_t)
            mass = density * weights

            def crossing(b, mass=mass, nodes=nodes, sd=sd):
                return float(np.sum(mass * norm.sf((b - nodes) / sd)))

            b = optimize.brentq(lambda b: crossing(b) - target, -20.0, 40.0, xtol=1e-13)
            c = b / math.sqrt(t)
            new_nodes, weights = _simpson(-12.0 * math.sqrt(t), b, points)
            density = norm.pdf((new_nodes[:, None] - nodes[None, :]) / sd) @ mass / sd
            nodes = new_nodes
        out.append(c)
        previous_t, previous_spent = t, spent(t, alpha, rule)
    return tuple(out)


#: Simulated paths (each also read mirrored) and the seed that calibrate the looks of the trained part's statistic.
CALIBRATION_PATHS = 2_000_000
CALIBRATION_SEED = 20261203
#: Paths a block of the trimmed statistic's calibration draws at once (memory: block × max seeds doubles).
CALIBRATION_BLOCK = 250_000


def _one_sample_t(sizes: tuple, rng: np.random.Generator) -> np.ndarray:
    """The one-sample t statistics of ``CALIBRATION_PATHS`` growing standard normal samples at looks of
    ``sizes`` values (looks × paths): each look's new block enters by its sum and sum of squares, drawn from
    their exact normal and χ² laws."""
    paths = CALIBRATION_PATHS
    total, squares = np.zeros(paths), np.zeros(paths)
    out, seen = np.empty((len(sizes), paths)), 0
    for k, n in enumerate(sizes):
        block = n - seen
        head = rng.standard_normal(paths) * math.sqrt(block)  # the block's sum
        squares += head**2 / block + (rng.chisquare(block - 1, paths) if block > 1 else 0.0)
        total += head
        seen = n
        out[k] = total / np.sqrt(np.maximum(n * (squares - total**2 / n) / (n - 1), 1e-300))
    return out


def _one_sample_yuen(sizes: tuple, trim: float, rng: np.random.Generator) -> np.ndarray:
    """Yuen's one-sample statistics (the trimmed mean over its standard error, :func:`mlpsweep.stats.trimmed`)
    of ``CALIBRATION_PATHS`` growing standard normal samples at looks of ``sizes`` values (looks × paths),
    drawn ``CALIBRATION_BLOCK`` paths at a time."""
    from .stats import trimmed

    paths = CALIBRATION_PATHS
    out = np.empty((len(sizes), paths))
    for start in range(0, paths, CALIBRATION_BLOCK):
        x = rng.standard_normal((min(CALIBRATION_BLOCK, paths - start), sizes[-1]))
        for k, n in enumerate(sizes):
            t = trimmed(x[:, :n], trim)
            out[k, start : start + len(x)] = t.mean / np.sqrt(t.d)
    return out


def kept(n: int, trim: float) -> int:
    """The values a ``trim``-trimmed mean of ``n`` keeps: n − 2⌊trim·n⌋."""
    return n - 2 * math.floor(trim * n)


@lru_cache(maxsize=64)
def t_levels(sizes: tuple, alpha: float, rule: str, trim: float = 0.0) -> tuple:
    """Per-look nominal one-sided levels p_k for the trained part's statistic — Welch's (``trim`` 0) or
    Yuen's (the difference of ``trim``-trimmed means) — referred to Student's t with min(h_A, h_B) − 1
    degrees of freedom (h = the values kept, :func:`kept`) at looks of ``sizes`` seeds per side, spending α
    by ``rule``.

    That statistic's tail at a look is, for every ratio of the two spreads, at most that of t with
    h_k − 1 degrees of freedom (Mickey & Brown 1966 for Welch's; the suite's simulations for Yuen's), and it
    reaches it as the ratio grows without bound, where the statistic becomes the one-sample statistic of the
    noisier side.  The looks are calibrated for that limit: the boundaries c_k on the t scale are those at
    which the one-sample statistics T_k of one growing normal sample first cross with the spending
    function's increments, P(T_1 < c_1, …, T_{k−1} < c_{k−1}, T_k ≥ c_k) = α(t_k) − α(t_{k−1}).  A first
    look that trims nothing (Welch's, or Yuen's below 4 seeds) is exact (Student's t); every other look, and
    every look of Yuen's statistic that trims (its one-sample law is Student's only approximately), is
    found by simulation (``CALIBRATION_PATHS`` paths with a fixed seed, each read also mirrored, −T, so the
    same design gives the same levels everywhere).  The levels are then p_k = P(t_{h_k − 1} ≥ c_k).  One
    look is a fixed design: Welch's is tested at α, Yuen's (from 4 seeds, where it trims) at the level whose
    t boundary its one-sample statistic crosses with probability α (at 5 seeds Student's t on h − 1 = 2
    degrees of freedom would give it 6 %).  Normal z boundaries used with t statistics at these sample sizes
    would not keep α (the first look at 5 seeds tests in the far tail, where Welch's degrees of freedom are
    least trustworthy); the benchmark
    ``benchmarks/verdict_errors.py`` measures what these levels keep."""
    from scipy import stats

    if len(sizes) == 1 and kept(sizes[0], trim) == sizes[0]:
        return (alpha,)  # nothing trimmed at this size: Student's t is exact
    rng = np.random.default_rng(CALIBRATION_SEED)
    paths = CALIBRATION_PATHS
    statistic = _one_sample_yuen(sizes, trim, rng) if trim else _one_sample_t(sizes, rng)
    alive = np.ones(2 * paths, dtype=bool)  # the paths and their mirror images that have not crossed
    previous_spent, out = 0.0, []
    for k, n in enumerate(sizes):
        df = kept(n, trim) - 1
        both = np.concatenate([statistic[k], -statistic[k]])
        target = spent(n / sizes[-1], alpha, rule) - previous_spent
        if k == 0 and kept(n, trim) == n:
            c = float(stats.t.isf(target, df))
        else:
            rank = max(1, round(target * 2 * paths))  # how many of the paths and mirrors must cross here
            live = -np.partition(-both[alive], (rank - 1, rank))
            c = float((live[rank - 1] + live[rank]) / 2)  # between the rank-th largest and the next
        alive &= both < c
        out.append(float(stats.t.sf(c, df)))
        previous_spent = spent(n / sizes[-1], alpha, rule)
    return tuple(out)


@dataclass(frozen=True)
class Design:
    """Looks at ``start``, ``start + step``, … seeds per topology up to ``max``, α spent by ``spending``."""

    start: int
    step: int
    max: int
    alpha: float = 0.05
    spending: str = "obrien_fleming"
    trim: float = TRIM

    @classmethod
    def fixed(cls, n: int, alpha: float = 0.05) -> "Design":
        """A fixed design of ``n`` seeds per topology: one look, at the level that keeps α
        (:func:`t_levels`)."""
        return cls(n, n, n, alpha)

    @classmethod
    def of(cls, study: dict) -> "Design":
        r = study["replication"]
        return cls(r["start"], r["step"], r["max"], study["alpha"], r["spending"])

    @property
    def sizes(self) -> list[int]:
        """Seeds per topology at each look."""
        sizes = list(range(self.start, self.max, self.step))
        return sizes + [self.max]

    @property
    def looks(self) -> int:
        return len(self.sizes)

    @property
    def levels(self) -> list[float]:
        """The nominal one-sided level p_k of every look, for the trained part's statistic with min(h_A, h_B) − 1
        degrees of freedom (:func:`t_levels`)."""
        return list(t_levels(tuple(self.sizes), self.alpha, self.spending, self.trim))

    @property
    def z_levels(self) -> list[float]:
        """The normal theory's levels 1 − Φ(c_k) from the z boundaries (:func:`boundaries`): what the looks
        would be for a statistic known to be normal."""
        from statistics import NormalDist

        c = boundaries(tuple(n / self.max for n in self.sizes), self.alpha, self.spending)
        return [1.0 - NormalDist().cdf(ck) for ck in c]

    def describe(self) -> str:
        levels = ", ".join(f"{n}: {p:.2g}" for n, p in zip(self.sizes, self.levels))
        rule = {"obrien_fleming": "O'Brien–Fleming", "pocock": "Pocock"}[self.spending]
        statistic = f"Yuen's statistic ({100 * self.trim:g} % trimmed means)" if self.trim else "Welch's statistic"
        return (
            f"looks at {', '.join(map(str, self.sizes))} seeds per topology; α = {self.alpha:g} spent across them "
            f"by {rule}-type alpha spending (Lan & DeMets); each look refers {statistic} to Student's t with "
            f"min(h_A, h_B) − 1 degrees of freedom (h: the runs kept) at a level calibrated to hold for any ratio "
            f"of the spreads, "
            f"nominal one-sided level per look (seeds: level) {levels}"
        )


def seed_sequence(seeds: list[int], length: int) -> list[int]:
    """A sequential study's seeds: its declared ``seeds`` continued by consecutive integers after the largest."""
    out = list(seeds[:length])
    nxt = max(seeds) + 1
    while len(out) < length:
        out.append(nxt)
        nxt += 1
    return out
