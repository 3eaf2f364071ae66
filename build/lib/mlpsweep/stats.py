"""The statistics of the report, in NumPy and the standard library only.

* :func:`mean_ci`: mean, sample standard deviation and the two-sided
  confidence interval of the mean from Student's t distribution.
* :func:`welch`: Welch's unequal-variance t-test of two samples (here: the
  test accuracies of two topologies over their seeds).
* :func:`mcnemar`: McNemar's test on paired predictions (two models on the
  same test images): exact binomial p-value on the discordant pairs.

Student's t distribution is computed through the regularised incomplete beta
function, ``P(|T| > t) = I_{ν/(ν+t²)}(ν/2, 1/2)``, evaluated with Lentz's
continued fraction (accurate to ~1e-14); its quantile by bisection on that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float, y: float | None = None) -> float:
    """The regularised incomplete beta function I_x(a, b).

    ``y`` is 1 − x when the caller knows it more precisely than ``1 - x``
    (for x near 1 the subtraction would lose digits).
    """
    if not 0.0 <= x <= 1.0:
        raise ValueError("x must be in [0, 1]")
    y = 1.0 - x if y is None else y
    if x == 0.0 or y == 0.0:
        return float(x != 0.0)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, y) / b


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail probability P(|T| ≥ |t|) of Student's t with ``df`` degrees of freedom."""
    if math.isinf(t):
        return 0.0
    t2 = t * t
    return betainc(df / 2.0, 0.5, df / (df + t2), t2 / (df + t2))


def t_cdf(t: float, df: float) -> float:
    half = 0.5 * t_sf2(t, df)
    return 1.0 - half if t >= 0 else half


def t_ppf(q: float, df: float) -> float:
    """The quantile t_q of Student's t (bisection to machine precision)."""
    if not 0.0 < q < 1.0:
        raise ValueError("q must be in (0, 1)")
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < q:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    std: float  # sample standard deviation (ddof = 1); nan for n < 2
    ci_low: float
    ci_high: float
    level: float

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2


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
    k = min(b, c)
    # log C(n, i) − n log 2, summed in log space (n may be thousands).
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    top = max(logs)
    tail = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return TestResult(float(b - c), min(1.0, 2.0 * tail))
