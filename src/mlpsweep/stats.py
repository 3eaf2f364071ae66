"""The report's statistics: thin, named wrappers over :mod:`scipy.stats`.

* :func:`t_ppf`, :func:`t_sf2`: Student's t quantile and two-sided tail.
* :func:`trimmed`: Yuen's trimmed mean and its squared standard error, row by row (the trained part of a
  compare study's verdict, :func:`mlpsweep.verdicts.difference`).
* :func:`mean_ci`: mean, sample standard deviation and the two-sided
  confidence interval of the mean from Student's t distribution.
* :func:`welch`: Welch's unequal-variance t-test of two samples (here: the
  test accuracies of two topologies over their seeds).
* :func:`mcnemar`: McNemar's test on paired predictions (two models on the
  same test images): exact binomial p-value on the discordant pairs.
* :func:`clopper_pearson`: a rate k/n with its exact interval (e.g. stuck runs).
* :func:`fisher_exact`: two rates compared exactly (two-sided).

The formulas are those of ``STATISTICS.md``; SciPy computes the distributions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _scipy():
    """scipy.stats, imported when first needed (it takes a good half second; the workflow's DAG never needs it)."""
    from scipy import stats

    return stats


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail probability P(|T| ≥ |t|) of Student's t with ``df`` degrees of freedom."""
    return float(2.0 * _scipy().t.sf(abs(t), df))


def t_cdf(t: float, df: float) -> float:
    return float(_scipy().t.cdf(t, df))


def t_ppf(q: float, df: float) -> float:
    """The quantile t_q of Student's t."""
    if not 0.0 < q < 1.0:
        raise ValueError("q must be in (0, 1)")
    return float(_scipy().t.ppf(q, df))


def detectable_shift(se: float, df: float, level: float, power: float, two_sided: bool = False) -> float:
    """The smallest shift of the true value from the tested one that a t test at ``level`` (one-sided, or
    two-sided) detects with probability ``power``: ncp·SE, where the noncentral t of ``df`` degrees of freedom
    and noncentrality ncp exceeds the test's critical value with that probability (scipy.stats.nct; the far
    tail of a two-sided test is left out, a conservative choice).  nan without a spread, 0 with none."""
    if not (math.isfinite(se) and math.isfinite(df)) or df <= 0:
        return math.nan
    if se == 0.0:
        return 0.0
    from scipy.optimize import brentq

    stats = _scipy()
    crit = float(stats.t.ppf(1 - (level / 2 if two_sided else level), df))

    def gap(ncp: float) -> float:
        return float(stats.nct.sf(crit, df, ncp)) - power

    # the noncentral t's quantile sits near crit + z(power) (exact for ν → ∞): bracket the root close to it,
    # and widen only when that bracket misses (few evaluations of nct.sf, the costly part)
    guess = crit + float(stats.norm.ppf(power))
    lo, hi = guess - 1.0, guess + 1.0 + 4.0 / math.sqrt(df)
    while gap(lo) > 0:
        lo -= 2 * (hi - lo)
    while gap(hi) < 0:
        hi += 2 * (hi - lo)
    return float(brentq(gap, lo, hi, xtol=1e-12)) * se


@dataclass(frozen=True)
class Trimmed:
    """Row-wise pieces of Yuen's test (arrays): the ``trim``-trimmed mean, its squared standard error
    d = SS_w / (h (h − 1)) (SS_w: the winsorised sum of squares), the values kept h, and the values n."""

    mean: np.ndarray
    d: np.ndarray
    h: np.ndarray
    n: np.ndarray


def trimmed(x, trim: float) -> Trimmed:
    """Yuen's trimmed mean of every row of ``x`` (nan: missing), and its squared standard error
    (Yuen 1974; Wilcox, *Introduction to Robust Estimation and Hypothesis Testing*, ch. 4 and 5).

    g = ⌊trim·n⌋ values are cut from each end of a row of n values, h = n − 2g are kept; the squared
    standard error of their mean is d = Σ(w − w̄)² / (h (h − 1)) over the row winsorised at its g-th smallest
    and largest values.  ``trim`` 0 gives the mean and s²/n.  The same arithmetic as
    ``scipy.stats.ttest_ind(..., trim=trim)`` (the suite compares them); rows with h < 2 give nan for d."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    s = np.sort(x, axis=1)  # nan last
    if x.shape[1] >= 2 and not np.isnan(s[:, -1]).any():  # every row complete: one g for all
        return _trimmed_complete(s, trim)
    n = np.isfinite(x).sum(axis=1)
    g = np.floor(trim * n).astype(np.int64)
    h = n - 2 * g
    at = np.arange(x.shape[1])[None, :]
    kept = (at >= g[:, None]) & (at < (n - g)[:, None])
    valid = at < n[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(kept, s, 0.0).sum(axis=1) / h
        edge = np.clip(np.stack([g, n - g - 1], axis=1), 0, max(x.shape[1] - 1, 0))
        low, high = (np.take_along_axis(s, edge[:, i : i + 1], axis=1) for i in (0, 1))
        w = np.where(valid, np.clip(s, low, high), 0.0)
        w_mean = w.sum(axis=1) / n
        d = np.where(valid, (w - w_mean[:, None]) ** 2, 0.0).sum(axis=1) / (h * (h - 1.0))
    return Trimmed(np.where(h > 0, mean, np.nan), np.where(h > 1, d, np.nan), h, n)


def _trimmed_complete(s: np.ndarray, trim: float) -> Trimmed:
    """:func:`trimmed` of sorted rows without a missing value (the same arithmetic, sliced)."""
    rows, n = s.shape
    g = math.floor(trim * n)
    h = n - 2 * g
    w = s.copy()
    w[:, :g] = s[:, g : g + 1]
    w[:, n - g :] = s[:, n - g - 1 : n - g]
    d = ((w - w.mean(axis=1, keepdims=True)) ** 2).sum(axis=1) / (h * (h - 1.0)) if h > 1 else np.full(rows, np.nan)
    return Trimmed(s[:, g : n - g].mean(axis=1), d, np.full(rows, h), np.full(rows, n))


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof = 1); nan for n < 2
    ci_low: float
    ci_high: float
    level: float


def mean_ci(values, level: float = 0.95) -> Summary:
    """Mean, sample std and the t confidence interval of the mean (nan when n < 2)."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x)]
    n = x.size
    if n == 0:
        return Summary(0, math.nan, math.nan, math.nan, math.nan, level)
    mean = float(x.mean())
    if n < 2:
        return Summary(1, mean, math.nan, math.nan, math.nan, level)
    std = float(x.std(ddof=1))
    half = t_ppf(0.5 + level / 2.0, n - 1) * std / math.sqrt(n)
    return Summary(n, mean, std, mean - half, mean + half, level)


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    df: float | None = None


def welch(a, b) -> TestResult:
    """Welch's t-test (two-sided) of mean(a) = mean(b) with unequal variances."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na, nb = a.size, b.size
    if na < 2 or nb < 2:
        return TestResult(math.nan, math.nan, None)
    va, vb = a.var(ddof=1) / na, b.var(ddof=1) / nb
    diff = a.mean() - b.mean()
    if va + vb == 0:
        return TestResult(0.0 if diff == 0 else math.copysign(math.inf, diff), 1.0 if diff == 0 else 0.0, None)
    t = diff / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    return TestResult(float(t), float(t_sf2(t, df)), float(df))


def mcnemar(correct_a, correct_b) -> TestResult:
    """McNemar's exact test on paired correctness (same test items, two models).

    ``statistic`` is b − c: items only A got right minus items only B got
    right.  The p-value is the two-sided exact binomial probability of a
    split at least that uneven among the n = b + c discordant items.
    """
    ca = np.asarray(correct_a, dtype=bool)
    cb = np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape:
        raise ValueError("McNemar's test needs predictions on the same items")
    b = int(np.count_nonzero(ca & ~cb))
    c = int(np.count_nonzero(~ca & cb))
    n = b + c
    if n == 0:
        return TestResult(0.0, 1.0)
    # two-sided: twice the smaller tail of Binomial(n, ½), at most 1 (STATISTICS.md)
    tail = float(_scipy().binom.cdf(min(b, c), n, 0.5))
    return TestResult(float(b - c), min(1.0, 2.0 * tail))


@dataclass(frozen=True)
class Rate:
    """k events in n trials with the exact (Clopper–Pearson) two-sided interval of level ``level``."""

    k: int
    n: int
    low: float
    high: float
    level: float

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else math.nan


def clopper_pearson(k: int, n: int, level: float = 0.95) -> Rate:
    """k/n with the Clopper–Pearson interval: lower = Beta(α/2; k, n − k + 1) (0 when k = 0), upper =
    Beta(1 − α/2; k + 1, n − k) (1 when k = n), α = 1 − level."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 ≤ k ≤ n, got k = {k}, n = {n}")
    if n == 0:
        return Rate(0, 0, math.nan, math.nan, level)
    a = 1.0 - level
    low = 0.0 if k == 0 else float(_scipy().beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(_scipy().beta.ppf(1 - a / 2, k + 1, n - k))
    return Rate(k, n, low, high, level)


def fisher_exact(k_a: int, n_a: int, k_b: int, n_b: int) -> float:
    """Two-sided p-value of Fisher's exact test that two rates k_a/n_a and k_b/n_b are equal (1 when a side
    has no trials)."""
    if n_a == 0 or n_b == 0:
        return 1.0
    return float(_scipy().fisher_exact([[k_a, n_a - k_a], [k_b, n_b - k_b]]).pvalue)
