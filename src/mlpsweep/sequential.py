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
  Rowe (1969) on a grid (:func:`boundaries`): S_t = √t Z is a Brownian motion,
  the sub-density of S at look k on the paths that have not crossed is the
  previous one convolved with N(0, t_k − t_{k−1}), and c_k is found by root
  finding on the crossing probability.
* Look k's test is the study's usual one-sided test (Welch's t for a
  difference of topologies) at the nominal level p_k = 1 − Φ(c_k): the verdict
  rules of :mod:`mlpsweep.verdicts` with α = p_k, i.e. the (1 − 2p_k) interval
  — the usual "nominal p-value" way of using z boundaries with t statistics.
  Each direction of a verdict (supported, contradicted) is a one-sided test
  with its own error: both stay at most α over all looks.
* The study stops at the first look whose verdict is not inconclusive, or at
  the last look; the report gives its verdict at that look's level.

The error rates hold for normally distributed per-seed accuracies; the tests
check by simulation (:func:`simulate`, 20,000 synthetic studies) that a true
difference exactly at the margin ends *supported* in at most α of the studies
(up to Monte-Carlo error) and compare power and average seeds with a fixed
design of ``max`` seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

SPENDING = ("obrien_fleming", "pocock")


def spent(t: float, alpha: float, rule: str) -> float:
    """The one-sided error spent by information fraction ``t`` (0 < t ≤ 1) under ``rule``."""
    from statistics import NormalDist

    if rule == "obrien_fleming":
        return 1.0 - NormalDist().cdf(NormalDist().inv_cdf(1 - alpha) / math.sqrt(t))
    if rule == "pocock":
        return alpha * math.log(1 + (math.e - 1) * t)
    raise ValueError(f"unknown spending rule {rule!r}; use one of {', '.join(SPENDING)}")


@lru_cache(maxsize=64)
def boundaries(fractions: tuple, alpha: float, rule: str, step: float = 0.005) -> tuple:
    """One-sided z boundaries c_k at the information ``fractions`` (increasing, the last 1) that spend α by
    ``rule`` (see the module's docstring), by numerical integration on a grid of spacing ``step``."""
    from scipy import optimize, stats

    norm = stats.norm
    grid = np.arange(-12.0, 12.0 + step / 2, step)
    out, density, previous_t, previous_spent = [], None, 0.0, 0.0
    for t in fractions:
        target = spent(t, alpha, rule) - previous_spent
        if density is None:  # the first look: Z_1 is standard normal
            c = float(norm.isf(target))
            b = c * math.sqrt(t)
            density = norm.pdf(grid, scale=math.sqrt(t)) * (grid < b)
        else:
            sd = math.sqrt(t - previous_t)
            weights = density * step

            def crossing(b, weights=weights, sd=sd):
                return float(np.sum(weights * norm.sf((b - grid) / sd)))

            b = optimize.brentq(lambda b: crossing(b) - target, -20.0, 40.0, xtol=1e-12)
            c = b / math.sqrt(t)
            kernel_x = np.arange(-math.ceil(8 * sd / step), math.ceil(8 * sd / step) + 1) * step
            moved = np.convolve(weights, norm.pdf(kernel_x, scale=sd), mode="same")
            density = moved * (grid < b)
        out.append(c)
        previous_t, previous_spent = t, spent(t, alpha, rule)
    return tuple(out)


@dataclass(frozen=True)
class Design:
    """Looks at ``start``, ``start + step``, … seeds per topology up to ``max``, α spent by ``spending``."""

    start: int
    step: int
    max: int
    alpha: float = 0.05
    spending: str = "obrien_fleming"

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
        """The nominal one-sided level p_k of every look."""
        from statistics import NormalDist

        c = boundaries(tuple(n / self.max for n in self.sizes), self.alpha, self.spending)
        return [1.0 - NormalDist().cdf(ck) for ck in c]

    def describe(self) -> str:
        levels = ", ".join(f"{n}: {p:.2g}" for n, p in zip(self.sizes, self.levels))
        rule = {"obrien_fleming": "O'Brien–Fleming", "pocock": "Pocock"}[self.spending]
        return (
            f"looks at {', '.join(map(str, self.sizes))} seeds per topology; α = {self.alpha:g} spent across them "
            f"by {rule}-type alpha spending (Lan & DeMets), nominal one-sided level per look (seeds: level) {levels}"
        )


def seed_sequence(seeds: list[int], length: int) -> list[int]:
    """A sequential study's seeds: its declared ``seeds`` continued by consecutive integers after the largest."""
    out = list(seeds[:length])
    nxt = max(seeds) + 1
    while len(out) < length:
        out.append(nxt)
        nxt += 1
    return out


@dataclass(frozen=True)
class OperatingCharacteristics:
    """How a design behaves over simulated studies: shares of outcomes and the mean seeds per topology used."""

    supported: float
    contradicted: float
    inconclusive: float
    mean_seeds: float
    studies: int


def simulate(
    design: Design,
    *,
    difference: float,
    sd: float,
    margin: float,
    studies: int,
    rng: np.random.Generator,
    sequential: bool = True,
) -> OperatingCharacteristics:
    """Synthetic studies of the non-superiority claim "B is not better than A by the margin": per-seed
    accuracies N(0, sd²) for A and N(difference, sd²) for B, decided as :func:`mlpsweep.verdicts.not_better`
    does (Welch's (1 − 2p) interval: supported when its upper end is below the margin, contradicted when its
    lower end is above it) at every look of ``design`` — or once at ``max`` seeds at level α when not
    ``sequential`` (the fixed design)."""
    from scipy import stats

    n_max = design.max
    a = rng.standard_normal((studies, n_max)) * sd
    b = difference + rng.standard_normal((studies, n_max)) * sd
    plan = list(zip(design.sizes, design.levels)) if sequential else [(n_max, design.alpha)]
    outcome = np.zeros(studies, dtype=np.int8)  # 0 undecided, 1 supported, -1 contradicted
    used = np.full(studies, n_max)
    for n, level in plan:
        open_ = outcome == 0
        xa, xb = a[open_, :n], b[open_, :n]
        va, vb = xa.var(axis=1, ddof=1) / n, xb.var(axis=1, ddof=1) / n
        se = np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (n - 1))
        half = stats.t.isf(level, df) * se
        diff = xb.mean(axis=1) - xa.mean(axis=1)
        decided = np.where(diff + half < margin, 1, np.where(diff - half > margin, -1, 0)).astype(np.int8)
        idx = np.flatnonzero(open_)
        outcome[idx] = decided
        used[idx[decided != 0]] = n
    return OperatingCharacteristics(
        float(np.mean(outcome == 1)),
        float(np.mean(outcome == -1)),
        float(np.mean(outcome == 0)),
        float(used.mean()),
        studies,
    )
