"""Verdicts: what the measurements allow a report to say about a claim.

A :class:`Verdict` is one of three outcomes — *supported*, *contradicted*,
*inconclusive* — with the sentence that explains it, the numbers it used and
the declared thresholds it was decided on.  Nothing downstream parses a
verdict's text: the report reads :attr:`Verdict.outcome`.

The decision rules follow ``STATISTICS.md`` (the project's statistics
reference; Wellek 2010 for margins, Holm 1979 for several tests):

* :func:`difference` — Welch's difference of two groups of seeds (or Yuen's
  difference of their trimmed means, :data:`TRIM`), its (1 − 2α) interval
  and the smallest difference the run could have detected.
* :func:`not_better` — non-superiority of B over A with a margin δ.
* :func:`better` — superiority of B over A by at least δ.
* :func:`holm` — Holm's step-down rejections for a family of p-values.
* :func:`slope` / :func:`slope_below` — a least-squares trend and the claim
  that it lies below a declared value (e.g. "compounds with depth").
* :func:`exponent_matches` — a fitted power-law exponent against its law.
* :func:`at_least` — a measured share or score against a declared floor.
* :func:`equivalent` — two groups (or the same seeds made twice, paired) agree
  within ±δ (TOST), as a reproduction check asks.

Every rule says *inconclusive* when there are fewer seeds than the declared
minimum, and says why.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .stats import detectable_shift, mean_ci, t_ppf, t_sf2, trimmed


class Outcome(enum.Enum):
    SUPPORTED = "supported"
    CONTRADICTED = "contradicted"
    INCONCLUSIVE = "inconclusive"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Verdict:
    """A decided claim: the outcome, why, and the numbers and thresholds behind it."""

    outcome: Outcome
    sentence: str
    numbers: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.outcome.value.capitalize()

    @property
    def text(self) -> str:
        """The sentence for display beside the label: without a leading "inconclusive: ", capitalised."""
        body = self.sentence.removeprefix(f"{self.outcome.value}: ")
        return body[:1].upper() + body[1:]

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome.value,
            "sentence": self.sentence,
            "numbers": self.numbers,
            "thresholds": self.thresholds,
        }


def combine(parts: list[Verdict]) -> Verdict:
    """All parts must hold: supported if every part is, contradicted if any part is, else inconclusive."""
    if not parts:
        return Verdict(Outcome.INCONCLUSIVE, "nothing was measured that could decide the claim.")
    outcomes = {p.outcome for p in parts}
    if Outcome.CONTRADICTED in outcomes:
        outcome = Outcome.CONTRADICTED
    elif outcomes == {Outcome.SUPPORTED}:
        outcome = Outcome.SUPPORTED
    else:
        outcome = Outcome.INCONCLUSIVE
    return Verdict(outcome, " ".join(p.sentence for p in parts), {}, parts[0].thresholds)


def level_pct(level: float) -> str:
    """An interval's level in per cent with the decimals it needs: 90, 98.33 (α/6), 99.994 (a sequential
    look's), never a rounded 100."""
    x = 100 * level
    if abs(x - round(x)) < 1e-9 or x >= 100:
        return f"{x:.0f}"
    text = f"{x:.{max(0, math.ceil(-math.log10(100 - x)) + 2)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def pp(x: float) -> str:
    """A difference of accuracies (fractions) in signed percentage points."""
    return f"{100 * x:+.2f} pp"


# -- two groups of seeds -------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """mean(b) − mean(a) over seeds (Welch), or the difference of ``trim``-trimmed means (Yuen), with its
    (1 − 2α) interval and power."""

    n_a: int
    n_b: int
    diff: float
    se: float
    df: float
    low: float
    high: float
    level: float  # two-sided level of [low, high], 1 − 2α
    mde: float  # smallest |difference| a two-sided level-α Welch test detects with the stated power (noncentral t)
    power: float
    df_rule: str = "welch"  # "welch": Welch–Satterthwaite's ν; "min": min(h_a, h_b) − 1 (see :func:`difference`)
    trim: float = 0.0  # the share cut from each end of each side (0: means, Welch; > 0: trimmed means, Yuen)

    @property
    def test(self) -> str:
        """The test's name in words: Welch's (means) or Yuen's (trimmed means)."""
        return f"Yuen ({100 * self.trim:g} % trimmed means)" if self.trim else "Welch"

    @property
    def of_what(self) -> str:
        """What the difference is of, as a parenthesis after it ("" for means)."""
        return f" ({100 * self.trim:g} % trimmed means, Yuen)" if self.trim else ""

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def interval_text(self) -> str:
        """The interval in words; one wider than any difference of accuracies can be (±100 pp) is said to be."""
        if not self.has_interval:
            return "no interval"
        if self.high - self.low > 2.0:
            return f"{level_pct(self.level)} % CI wider than the ±100 pp any difference lies in"
        return f"{level_pct(self.level)} % CI [{100 * self.low:+.2f}, {100 * self.high:+.2f}] pp"

    def shift(self, level: float) -> float:
        """The smallest shift of the true difference beyond a tested value that a one-sided Welch test at
        ``level`` detects with this difference's power (noncentral t, :func:`mlpsweep.stats.detectable_shift`)."""
        return detectable_shift(self.se, self.df, level, self.power)

    def to_dict(self) -> dict:
        keys = ("n_a", "n_b", "diff", "se", "df", "low", "high", "level", "mde", "power", "df_rule", "trim")
        return {k: getattr(self, k) for k in keys}


#: How :func:`difference` refers its statistic to Student's t.
DF_RULES = ("welch", "min")

#: The share of runs a compare study's trained part cuts from each end of each topology's accuracies: its
#: estimand is the difference of the 25 %-trimmed means of the runs that trained, tested by Yuen's statistic
#: on min(h_A, h_B) − 1 degrees of freedom.  Runs that fail partly (a few points low, still predicting
#: every class) and one-sided skew put Welch's test of the means up to 22 % false claims at α = 5 %; this
#: rule stays within α + 3 Monte-Carlo standard errors in every such case simulated, 20 % trimming does not
#: with a fifth of one side's runs 5–8 pp low (``benchmarks/trained_part_methods.md``,
#: ``benchmarks/verdict_errors.py``, #40).
TRIM = 0.25


def difference(a, b, alpha: float = 0.05, power: float = 0.8, df: str = "welch", trim: float = 0.0) -> Difference:
    """mean(b) − mean(a) (Welch), or with ``trim`` > 0 the difference of trimmed means (Yuen's test,
    :func:`mlpsweep.stats.trimmed`): (1 − 2α) interval and minimum detectable difference.

    ``df``: the degrees of freedom of the t the statistic is referred to — ``"welch"``, Welch–Satterthwaite's
    ν on the kept counts h (the usual approximation), or ``"min"``, min(h_a, h_b) − 1 (h = n without
    trimming), whose tail bounds the statistic's for every ratio of the two spreads (Mickey & Brown 1966)
    and so stays valid at the small levels a sequential design's early looks test at
    (:func:`mlpsweep.sequential.t_levels`).
    MDE: the smallest |difference| a two-sided level-α test detects with probability ``power``, from the
    noncentral t at those degrees of freedom (:func:`mlpsweep.stats.detectable_shift`).  With fewer than
    two values kept on a side there is no interval.
    """
    if df not in DF_RULES:
        raise ValueError(f"unknown degrees-of-freedom rule {df!r}; use one of {', '.join(DF_RULES)}")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    na, nb = a.size, b.size
    ta, tb = (trimmed(x, trim) if x.size else None for x in (a, b))
    diff = float(tb.mean[0] - ta.mean[0]) if na and nb else math.nan
    rule = df
    ha, hb = (int(t.h[0]) if t is not None else 0 for t in (ta, tb))
    if ha < 2 or hb < 2:
        return Difference(
            na, nb, diff, math.nan, math.nan, math.nan, math.nan, 1 - 2 * alpha, math.nan, power, rule, trim
        )
    va, vb = float(ta.d[0]), float(tb.d[0])
    se = math.sqrt(va + vb)
    if se == 0.0:
        return Difference(na, nb, diff, 0.0, math.inf, diff, diff, 1 - 2 * alpha, 0.0, power, rule, trim)
    if rule == "min":
        nu = float(min(ha, hb) - 1)
    else:
        nu = (va + vb) ** 2 / (va**2 / (ha - 1) + vb**2 / (hb - 1))
    half = t_ppf(1 - alpha, nu) * se
    mde = detectable_shift(se, nu, alpha, power, two_sided=True)
    return Difference(na, nb, diff, se, nu, diff - half, diff + half, 1 - 2 * alpha, mde, power, rule, trim)


def one_sided_p(d: Difference, margin: float, greater: bool) -> float:
    """p-value of H0: diff ≤ margin (``greater``) or diff ≥ margin, from Welch's t."""
    if not d.has_interval:
        return math.nan
    if d.se == 0.0:
        return 0.0 if (d.diff > margin if greater else d.diff < margin) else 1.0
    t = (d.diff - margin) / d.se
    tail = 0.5 * t_sf2(t, d.df)  # P(T ≥ |t|)
    return tail if (t > 0) == greater else 1.0 - tail


def seeds_needed(
    a, b, margin: float, level: float = 0.05, power: float = 0.8, df: str = "welch", trim: float = 0.0
) -> float:
    """Seeds per configuration a fixed design needs for a one-sided test at ``level`` against the margin to
    decide the observed difference with the given power, at the observed spread: the smallest n whose
    detectable shift (noncentral t) reaches |Δ − δ|.  The spread at n seeds: σ_w² (n − 1) / (h (h − 1)) a
    side, h = n − 2⌊trim·n⌋ kept values, σ_w² the mean of the two sides' (winsorised, with ``trim``) sample
    variances; ν = 2h − 2, or h − 1 with ``df="min"``.  inf when the observed difference equals the margin."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if a.size < 2 or b.size < 2:
        return math.nan
    ta, tb = trimmed(a, trim), trimmed(b, trim)
    if min(ta.h[0], tb.h[0]) < 2:
        return math.nan
    gap = abs(float(tb.mean[0] - ta.mean[0]) - margin)
    if gap <= 1e-12:  # on the margin, up to rounding
        return math.inf

    def spread(t) -> float:  # the winsorised sample variance
        return float(t.d[0] * t.h[0] * (t.h[0] - 1) / (t.n[0] - 1))

    sigma = math.sqrt((spread(ta) + spread(tb)) / 2)

    def enough(n: int) -> bool:
        h = n - 2 * math.floor(trim * n)
        if h < 2:
            return False
        nu = (h - 1) if df == "min" else (2 * h - 2)
        return detectable_shift(sigma * math.sqrt(2 * (n - 1) / (h * (h - 1))), nu, level, power) <= gap

    from .stats import _scipy

    norm = _scipy().norm
    z = float(norm.ppf(1 - level) + norm.ppf(power))
    n = max(2, math.ceil(2 * sigma**2 * z**2 / gap**2 / (1 - 2 * trim) ** 2))  # normal approximation; t needs more
    if n > 10**7:
        return math.inf
    if enough(n):
        while n > 2 and enough(n - 1):
            n -= 1
        return float(n)
    step = 1
    while not enough(n + step):  # grow the step until enough, then walk back to the smallest n that is
        if n + step > 10**7:
            return math.inf
        n, step = n + step, step * 2
    lo, hi = n + 1, n + step
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid + 1, hi)
    return float(hi)


def _reach_text(d: Difference, margin: float, support: tuple[float, float], contra: tuple[float, float]) -> str:
    """What the run could detect, with the verdict's own tests: ``support`` and ``contra`` are (sign, level) of
    the one-sided test that would support (contradict) the claim: sign −1 for a test that the difference is
    below the margin, +1 above."""
    if not d.has_interval or d.se == 0.0:
        return ""

    def at(sign_level):
        sign, level = sign_level
        return margin + sign * d.shift(level), level

    (sup, sup_level), (con, con_level) = at(support), at(contra)
    words = {-1: "below", 1: "above"}
    if abs(sup) > 1.0 and abs(con) > 1.0:  # beyond ±100 pp: no possible difference
        return (
            f"with {100 * d.power:.0f} % power this run could not have decided the claim for any possible true "
            f"difference (one-sided {d.test} tests at α = {sup_level:.3g} and {con_level:.3g}, noncentral t)"
        )
    return (
        f"with {100 * d.power:.0f} % power this run could only have supported the claim for a true difference "
        f"{words[support[0]]} {100 * sup:+.2f} pp and contradicted it {words[contra[0]]} {100 * con:+.2f} pp "
        f"(one-sided {d.test} tests against the margin at α = {sup_level:.3g} and {con_level:.3g}, noncentral t)"
    )


def _sample_size_text(a, b, margin: float, level: float, power: float, df: str = "welch", trim: float = 0.0) -> str:
    n = seeds_needed(a, b, margin, level, power, df, trim)
    if math.isnan(n):
        return ""
    if math.isinf(n):
        return "; the observed difference equals the margin, which no number of seeds decides"
    return (
        f"; a fixed design would need about {n:,.0f} seeds per topology to decide it with {100 * power:.0f} % "
        "power at the observed spread and difference (an estimate: noncentral t, one-sided at the level above)"
    )


def _too_few(n_a: int, n_b: int, min_seeds: int, what: str, unit: str = "finished seed") -> str | None:
    need = max(2, min_seeds)
    n = min(n_a, n_b)
    if n < need:
        plural = unit.replace("seed", "seeds", 1) if n != 1 else unit
        return (
            f"inconclusive: {what} has {n} {plural} on its smaller side, and a verdict needs at least {need} per "
            "side (min_seeds)."
        )
    return None


def not_better(
    a,
    b,
    *,
    margin: float,
    alpha: float = 0.05,
    min_seeds: int = 2,
    power: float = 0.8,
    what: str = "B vs A",
    plan_alpha: float | None = None,
    holm_k: int = 1,
    df: str = "welch",
    unit: str = "finished seed",
    trim: float = 0.0,
) -> Verdict:
    """The claim "B is not better than A by more than ``margin``" (non-superiority).

    Supported when the upper end of the (1 − 2α) interval of mean(b) − mean(a)
    is below the margin; contradicted when its lower end is above the margin;
    inconclusive otherwise, or with fewer than ``min_seeds`` seeds a side.
    ``plan_alpha``: the level a fixed design would test at, for the seeds an
    inconclusive verdict says it needs (default α; a sequential look tests at
    a smaller nominal level than the study's α).  ``holm_k``: the tests a
    contradiction is Holm-adjusted over (its detectable difference is at the
    first step's α/k).  ``df``, ``trim``: the degrees-of-freedom rule and the trimming of :func:`difference`.
    """
    d = difference(a, b, alpha, power, df, trim)
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    nums = d.to_dict()
    reason = _too_few(d.n_a, d.n_b, min_seeds, what, unit)
    if reason:
        return Verdict(
            Outcome.INCONCLUSIVE,
            f"{what}: {pp(d.diff) if math.isfinite(d.diff) else 'no difference'}; {reason}",
            nums,
            th,
        )
    head = f"{what}: {pp(d.diff)}{d.of_what}, {d.interval_text()}, margin {100 * margin:.2f} pp"
    if d.high < margin:
        return Verdict(Outcome.SUPPORTED, f"{head}: the whole interval is below the margin.", nums, th)
    if d.low > margin:
        return Verdict(
            Outcome.CONTRADICTED, f"{head}: better by more than the margin (the whole interval is above it).", nums, th
        )
    level = plan_alpha or alpha
    deciding = level if d.diff < margin else level / holm_k  # support below the margin, contradiction above
    return Verdict(
        Outcome.INCONCLUSIVE,
        f"{head}: the interval contains the margin; {_reach_text(d, margin, (-1, alpha), (1, alpha / holm_k))}"
        f"{_sample_size_text(a, b, margin, deciding, power, df, trim)}.",
        nums,
        th,
    )


def better(
    a,
    b,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    min_seeds: int = 2,
    power: float = 0.8,
    what: str = "B vs A",
    plan_alpha: float | None = None,
    holm_k: int = 1,
    df: str = "welch",
    unit: str = "finished seed",
    trim: float = 0.0,
) -> Verdict:
    """The claim "B is better than A by at least ``margin``" (superiority).

    Supported when the lower end of the (1 − 2α) interval is above the
    margin; contradicted when its upper end is below the margin (the data
    exclude an improvement of that size); inconclusive otherwise.  ``holm_k``:
    the tests a support is Holm-adjusted over.  ``df``, ``trim``: the degrees-of-freedom rule and the trimming
    of :func:`difference`.
    """
    d = difference(a, b, alpha, power, df, trim)
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    nums = {**d.to_dict(), "p_one_sided": one_sided_p(d, margin, greater=True)}
    reason = _too_few(d.n_a, d.n_b, min_seeds, what, unit)
    if reason:
        return Verdict(
            Outcome.INCONCLUSIVE,
            f"{what}: {pp(d.diff) if math.isfinite(d.diff) else 'no difference'}; {reason}",
            nums,
            th,
        )
    head = f"{what}: {pp(d.diff)}{d.of_what}, {d.interval_text()}, margin {100 * margin:.2f} pp"
    if d.low > margin:
        return Verdict(Outcome.SUPPORTED, f"{head}: better by more than the margin.", nums, th)
    if d.high < margin:
        return Verdict(Outcome.CONTRADICTED, f"{head}: the data exclude an improvement of the margin.", nums, th)
    level = plan_alpha or alpha
    deciding = level / holm_k if d.diff > margin else level  # support above the margin, contradiction below
    return Verdict(
        Outcome.INCONCLUSIVE,
        f"{head}: the interval contains the margin; {_reach_text(d, margin, (1, alpha / holm_k), (-1, alpha))}"
        f"{_sample_size_text(a, b, margin, deciding, power, df, trim)}.",
        nums,
        th,
    )


def holm(p_values, alpha: float = 0.05) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level α.

    Sort p₍₁₎ ≤ … ≤ p₍ₖ₎; reject while p₍ᵢ₎ ≤ α / (k − i + 1).  NaN p-values are
    never rejected and count in k.
    """
    p = [math.inf if (v is None or math.isnan(v)) else float(v) for v in p_values]
    k = len(p)
    reject = [False] * k
    for rank, i in enumerate(sorted(range(k), key=lambda j: p[j])):
        if p[i] <= alpha / (k - rank):
            reject[i] = True
        else:
            break
    return reject


# -- two rates (runs that failed to train) -----------------------------------------
def _restricted_rates(xa, xb, n_a: int, n_b: int, margin: float):
    """The maximum-likelihood rates (p_a, p_a + margin) on the edge of H0 for every pair of counts (arrays):
    the log-likelihood is concave in p_a, so bisection on its derivative over the rates the edge allows."""
    lo = np.full(np.broadcast(xa, xb).shape, max(0.0, -margin))
    hi = np.full_like(lo, min(1.0, 1.0 - margin))
    eps = 1e-15

    def slope(pa):
        pb = pa + margin
        return (
            xa / np.maximum(pa, eps)
            - (n_a - xa) / np.maximum(1 - pa, eps)
            + xb / np.maximum(pb, eps)
            - (n_b - xb) / np.maximum(1 - pb, eps)
        )

    for _ in range(60):
        mid = (lo + hi) / 2
        up = slope(mid) > 0
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    pa = (lo + hi) / 2
    return pa, pa + margin


def _score(xa, xb, n_a: int, n_b: int, margin: float):
    """The score statistic of H0: p_b − p_a = margin (Farrington & Manning 1990): (D − margin) over its standard
    error at the restricted maximum-likelihood rates, D = x_b/n_b − x_a/n_a."""
    pa, pb = _restricted_rates(xa, xb, n_a, n_b, margin)
    gap = xb / n_b - xa / n_a - margin
    var = pa * (1 - pa) / n_a + pb * (1 - pb) / n_b
    return np.where(np.abs(gap) < 1e-12, 0.0, gap / np.sqrt(np.maximum(var, 1e-300)))


@lru_cache(maxsize=1024)
def rate_p_table(n_a: int, n_b: int, margin: float, greater: bool) -> np.ndarray:
    """:func:`rate_p` for every pair of counts (k_a, k_b) at once: an (n_a + 1) × (n_b + 1) array."""
    from scipy import stats

    sign = 1.0 if greater else -1.0
    xa, xb = np.arange(n_a + 1)[:, None], np.arange(n_b + 1)[None, :]
    z = (sign * _score(xa, xb, n_a, n_b, margin)).ravel()
    lo, hi = max(0.0, -margin), min(1.0, 1.0 - margin)
    if lo > hi:
        return np.zeros((n_a + 1, n_b + 1))  # the margin leaves H0 no rates
    g = np.linspace(0.0, 1.0, 101)
    pa, pb = (x.ravel() for x in np.meshgrid(g, g, indexing="ij"))
    inside = sign * (pb - pa - margin) <= 0
    edge = np.linspace(lo, hi, 4001)
    pa = np.concatenate([pa[inside], edge])
    pb = np.clip(np.concatenate([pb[inside], edge + margin]), 0.0, 1.0)
    fa = stats.binom.pmf(np.arange(n_a + 1)[None, :], n_a, pa[:, None])
    fb = stats.binom.pmf(np.arange(n_b + 1)[None, :], n_b, pb[:, None])
    joint = (fa[:, :, None] * fb[:, None, :]).reshape(len(pa), -1)  # every grid point's law of the counts
    order = np.argsort(-z, kind="stable")
    tails = np.cumsum(joint[:, order], axis=1)  # P(Z ≥ the j-th largest value), ties not yet grouped
    last = np.searchsorted(-z[order], -z[order] + 1e-9, side="right") - 1  # the last outcome tied with j
    worst = tails[:, last].max(axis=0)  # the largest over H0, for each outcome in sorted order
    out = np.empty_like(worst)
    out[order] = worst
    return np.minimum(out, 1.0).reshape(n_a + 1, n_b + 1)


def rate_p(k_a: int, n_a: int, k_b: int, n_b: int, margin: float, greater: bool) -> float:
    """Exact p-value of the claim p_b − p_a > ``margin`` (``greater``; H0: p_b − p_a ≤ margin) or
    p_b − p_a < ``margin`` (H0: p_b − p_a ≥ margin) from k_a events in n_a runs and k_b in n_b.

    The exact unconditional test (Chan 1998): order every possible pair of counts by the score statistic
    of :func:`_score`; the p-value is the largest probability, over all pairs of true rates H0 allows, of
    counts at least as far on the claim's side as those observed.  That largest value is searched on a
    grid over the whole of H0 (101 × 101 rates) and on a fine grid of its edge p_b = p_a + margin (4,001
    rates), where it usually lies.  Valid at any sample size — no normal approximation — and at its level
    for every true pair of rates (up to the grid's resolution of the supremum)."""
    if min(n_a, n_b) < 1:
        return math.nan
    return float(rate_p_table(n_a, n_b, float(margin), bool(greater))[k_a, k_b])


@lru_cache(maxsize=256)
def rate_runs_needed(margin: float, alpha: float) -> int:
    """Runs per side :func:`rate_p` needs to show p_b − p_a > −``margin`` at level α when neither side has an
    event (the p-value falls as the runs grow; 10,000 when no number up to it is enough)."""

    def enough(n: int) -> bool:
        return rate_p(0, n, 0, n, -margin, True) <= alpha

    hi = 1
    while not enough(hi):
        if hi >= 10_000:
            return 10_000
        hi *= 2
    lo = hi // 2 + 1 if hi > 1 else 1
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid + 1, hi)
    return hi


def failures_claim(
    k_a: int,
    n_a: int,
    k_b: int,
    n_b: int,
    *,
    margin: float,
    alpha: float = 0.05,
    sign: int,
    what: str = "B vs A",
    power: float = 0.8,
) -> Verdict:
    """A claim on the rates of runs that failed to train (stuck or diverged), with a margin in rate:
    ``sign`` −1: "B does not fail less often than A by more than the margin" (p_b − p_a > −margin), the part
    of "B is not better" that a user meets as failed runs; ``sign`` +1: "B does not fail more often than A
    by more than the margin" (p_b − p_a < margin), the part of "B is better".  Supported when the exact
    test of :func:`rate_p` gives the claim p ≤ α; contradicted when it gives the opposite claim (B fails
    less, or more, often by more than the margin) p ≤ α; inconclusive otherwise, with the runs that would
    decide it at ``power``.  ``numbers`` carry both p-values (``p_support``, ``p_contradict``) for Holm."""
    edge = sign * margin
    th = {"failure_margin_pp": 100 * margin, "alpha": alpha}
    if min(n_a, n_b) < 1:
        return Verdict(Outcome.INCONCLUSIVE, f"{what}: no runs on a side; inconclusive.", {}, th)
    p_support = rate_p(k_a, n_a, k_b, n_b, edge, greater=sign < 0)
    p_contradict = rate_p(k_a, n_a, k_b, n_b, edge, greater=sign > 0)
    nums = {"k_a": k_a, "n_a": n_a, "k_b": k_b, "n_b": n_b, "p_support": p_support, "p_contradict": p_contradict}
    side = "less" if sign < 0 else "more"
    head = (
        f"{what}: failed to train {k_b}/{n_b} against {k_a}/{n_a} ({100 * (k_b / n_b - k_a / n_a):+.0f} pp), "
        f"margin {100 * margin:.0f} pp"
    )
    test = "one-sided exact unconditional test"
    if p_support <= alpha:
        sentence = f"{head}: not {side} often by the margin or more ({test}, p = {p_support:.2g})."
        return Verdict(Outcome.SUPPORTED, sentence, nums, th)
    if p_contradict <= alpha:
        return Verdict(
            Outcome.CONTRADICTED,
            f"{head}: {side} often by more than the margin ({test}, p = {p_contradict:.2g}).",
            nums,
            th,
        )
    return Verdict(
        Outcome.INCONCLUSIVE,
        f"{head}: not shown either way (one-sided exact unconditional tests: p = {p_support:.2g} that it does not "
        f"fail {side} often by the margin, p = {p_contradict:.2g} that it does); "
        f"{_rate_runs_text(k_a / n_a, k_b / n_b, edge, margin, alpha, power)}.",
        nums,
        th,
    )


def _rate_runs_text(rate_a: float, rate_b: float, edge: float, margin: float, alpha: float, power: float) -> str:
    """How many runs per topology would decide a failure claim at this run's rates: exactly (:func:`rate_runs_needed`)
    when no run failed; otherwise the normal approximation (z_{1−α} + z_power)² (p_a q_a + p_b q_b) / (Δ − edge)²
    at the observed rates."""
    if rate_a == rate_b == 0:
        return f"with no run failing, {rate_runs_needed(margin, alpha)} runs per topology would decide it"
    gap = abs(rate_b - rate_a - edge)
    if gap < 1e-12:
        return "the observed difference of the rates equals the margin, which no number of runs decides"
    from statistics import NormalDist

    z = NormalDist().inv_cdf(1 - alpha) + NormalDist().inv_cdf(power)
    n = math.ceil(z**2 * (rate_a * (1 - rate_a) + rate_b * (1 - rate_b)) / gap**2)
    return (
        f"at the observed rates about {n:,} runs per topology would decide it with {100 * power:.0f} % power "
        "(a normal approximation)"
    )


# -- trends ----------------------------------------------------------------------
@dataclass(frozen=True)
class Slope:
    """Least-squares slope b̂ of y on x with its two-sided (1 − α) interval."""

    slope: float
    se: float
    low: float
    high: float
    level: float
    n: int

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("slope", "se", "low", "high", "level", "n")}


def slope(x, y, alpha: float = 0.05) -> Slope:
    """OLS slope, SE = √(Σr²/(m−2)) / √(Σ(x−x̄)²), interval b̂ ± t(1−α/2, m−2)·SE."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    m = x.size
    sxx = float(np.sum((x - x.mean()) ** 2)) if m else 0.0
    if m < 2 or sxx == 0.0:
        return Slope(math.nan, math.nan, math.nan, math.nan, 1 - alpha, m)
    b = float(np.sum((x - x.mean()) * (y - y.mean())) / sxx)
    if m < 3:
        return Slope(b, math.nan, math.nan, math.nan, 1 - alpha, m)
    resid = y - (y.mean() + b * (x - x.mean()))
    se = math.sqrt(float(np.sum(resid**2)) / (m - 2)) / math.sqrt(sxx)
    half = t_ppf(1 - alpha / 2, m - 2) * se if se > 0 else 0.0
    return Slope(b, se, b - half, b + half, 1 - alpha, m)


def slope_below(
    x, y, *, bound: float, alpha: float = 0.05, min_points: int = 3, what: str = "the slope", unit: str = ""
) -> Verdict:
    """The claim "the trend's slope is below ``bound``".

    Supported when the whole (1 − α) interval of the slope lies below the
    bound; contradicted when it lies wholly above; inconclusive otherwise.
    """
    s = slope(x, y, alpha)
    th = {"bound": bound, "alpha": alpha, "min_points": min_points}
    if s.n < max(3, min_points) or not s.has_interval:
        return Verdict(
            Outcome.INCONCLUSIVE,
            f"inconclusive: {what} rests on {s.n} point(s); an interval needs at least "
            f"{max(3, min_points)} at two or more x values.",
            s.to_dict(),
            th,
        )
    head = (
        f"{what} = {s.slope:+.3f}{unit}, {level_pct(s.level)} % CI [{s.low:+.3f}, {s.high:+.3f}], "
        f"against the declared bound {bound:+.3f}"
    )
    if s.high < bound:
        return Verdict(Outcome.SUPPORTED, f"{head}: the whole interval is below the bound.", s.to_dict(), th)
    if s.low > bound:
        return Verdict(Outcome.CONTRADICTED, f"{head}: the whole interval is above the bound.", s.to_dict(), th)
    return Verdict(Outcome.INCONCLUSIVE, f"{head}: the interval contains the bound.", s.to_dict(), th)


def exponent_matches(log_x, log_y, *, law: float, tolerance: float, alpha: float = 0.05) -> Verdict:
    """A power law y ∝ x^a: is the fitted exponent â the law's, within ±``tolerance``?

    An equivalence claim, decided by two one-sided tests (Schuirmann's TOST) on
    the least-squares slope: supported when the whole (1 − 2α) interval of â
    lies inside [law − tolerance, law + tolerance]; contradicted when it lies
    wholly outside that band; inconclusive otherwise.  (The narrower reading,
    "the law lies inside the interval", would call a practically exact −0.505
    with a very tight interval a contradiction; the tolerance is what declares
    which deviations matter.)
    """
    s = slope(log_x, log_y, 2 * alpha)
    lo_band, hi_band = law - tolerance, law + tolerance
    th = {"law": law, "tolerance": tolerance, "alpha": alpha}
    if not s.has_interval:
        return Verdict(
            Outcome.INCONCLUSIVE,
            f"inconclusive: the exponent rests on {s.n} point(s); an interval needs 3.",
            s.to_dict(),
            th,
        )
    head = (
        f"fitted exponent {s.slope:+.3f}, {level_pct(s.level)} % CI [{s.low:+.3f}, {s.high:+.3f}], "
        f"law {law:+.3f} ± {tolerance:g}"
    )
    if lo_band < s.low and s.high < hi_band:
        return Verdict(
            Outcome.SUPPORTED, f"{head}: the whole interval lies within the tolerance of the law.", s.to_dict(), th
        )
    if s.high < lo_band or s.low > hi_band:
        return Verdict(
            Outcome.CONTRADICTED, f"{head}: the whole interval lies outside the tolerance of the law.", s.to_dict(), th
        )
    return Verdict(Outcome.INCONCLUSIVE, f"{head}: the interval crosses the edge of the tolerance.", s.to_dict(), th)


def at_least(
    values, *, floor: float, alpha: float = 0.05, min_seeds: int = 2, what: str = "the value", fmt=lambda v: f"{v:.4g}"
) -> Verdict:
    """The claim "the mean of ``values`` is at least ``floor``" (one sample, t interval).

    Supported when the lower end of the (1 − 2α) interval of the mean is at
    or above the floor; contradicted when its upper end is below the floor;
    inconclusive otherwise, or with fewer than ``min_seeds`` values.
    """
    s = mean_ci(values, level=1 - 2 * alpha)
    th = {"floor": floor, "alpha": alpha, "min_seeds": min_seeds}
    nums = {"n": s.n, "mean": s.mean, "low": s.ci_low, "high": s.ci_high, "level": s.level}
    need = max(2, min_seeds)
    if s.n < need:
        shown = fmt(s.mean) if s.n else "nothing"
        return Verdict(
            Outcome.INCONCLUSIVE,
            f"{what}: {shown} from {s.n} seed(s); inconclusive: a verdict needs at "
            f"least {need} seeds (min_seeds) for an interval.",
            nums,
            th,
        )
    head = (
        f"{what}: mean {fmt(s.mean)}, {level_pct(s.level)} % CI [{fmt(s.ci_low)}, {fmt(s.ci_high)}], "
        f"declared floor {fmt(floor)}"
    )
    if s.ci_low >= floor:
        return Verdict(Outcome.SUPPORTED, f"{head}: the whole interval is at or above the floor.", nums, th)
    if s.ci_high < floor:
        return Verdict(Outcome.CONTRADICTED, f"{head}: the whole interval is below the floor.", nums, th)
    return Verdict(Outcome.INCONCLUSIVE, f"{head}: the interval contains the floor.", nums, th)


def at_most(
    values,
    *,
    ceiling: float,
    alpha: float = 0.05,
    min_seeds: int = 2,
    what: str = "the value",
    fmt=lambda v: f"{v:.4g}",
) -> Verdict:
    """The mirror of :func:`at_least`: the mean of ``values`` stays below ``ceiling``."""
    flipped = at_least(
        [-v for v in np.asarray(values, dtype=np.float64)],
        floor=-ceiling,
        alpha=alpha,
        min_seeds=min_seeds,
        what=what,
        fmt=lambda v: fmt(0.0 - v),
    )
    n = flipped.numbers
    nums = {"n": n["n"], "mean": 0.0 - n["mean"], "low": 0.0 - n["high"], "high": 0.0 - n["low"], "level": n["level"]}
    th = {"ceiling": ceiling, "alpha": alpha, "min_seeds": min_seeds}
    if n["n"] < max(2, min_seeds):
        return Verdict(flipped.outcome, flipped.sentence, nums, th)
    head = (
        f"{what}: mean {fmt(nums['mean'])}, {level_pct(nums['level'])} % CI [{fmt(nums['low'])}, {fmt(nums['high'])}], "
        f"declared ceiling {fmt(ceiling)}"
    )
    tail = {
        Outcome.SUPPORTED: "the whole interval is at or below the ceiling.",
        Outcome.CONTRADICTED: "the whole interval is above the ceiling.",
        Outcome.INCONCLUSIVE: "the interval contains the ceiling.",
    }[flipped.outcome]
    return Verdict(flipped.outcome, f"{head}: {tail}", nums, th)


def two_sided_p(d: Difference) -> float:
    """Welch's two-sided p-value of mean(b) = mean(a), from a :class:`Difference`."""
    if not d.has_interval:
        return math.nan
    if d.se == 0.0:
        return 1.0 if d.diff == 0 else 0.0
    return float(t_sf2(d.diff / d.se, d.df))


def paired_difference(a, b, alpha: float = 0.05, power: float = 0.8) -> Difference:
    """mean(b − a) of paired values (the same seeds made twice): (1 − 2α) t interval with n − 1 degrees of
    freedom, and the minimum detectable difference; pairs with a non-finite side are left out."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    d = (b - a)[np.isfinite(a) & np.isfinite(b)]
    n = d.size
    diff = float(d.mean()) if n else math.nan
    if n < 2:
        return Difference(n, n, diff, math.nan, math.nan, math.nan, math.nan, 1 - 2 * alpha, math.nan, power)
    se = float(d.std(ddof=1) / math.sqrt(n))
    if se == 0.0:
        return Difference(n, n, diff, 0.0, math.inf, diff, diff, 1 - 2 * alpha, 0.0, power)
    df = n - 1
    half = t_ppf(1 - alpha, df) * se
    mde = detectable_shift(se, df, alpha, power, two_sided=True)
    return Difference(n, n, diff, se, df, diff - half, diff + half, 1 - 2 * alpha, mde, power)


def equivalent(
    a, b, *, margin: float, alpha: float = 0.05, min_seeds: int = 2, paired: bool = False, what: str = "B vs A"
) -> Verdict:
    """The claim "A and B are equivalent within ±``margin``" (two one-sided tests, TOST).

    Supported when the whole (1 − 2α) interval of the difference lies inside
    (−margin, margin); contradicted when it lies wholly outside it (the data
    exclude equivalence); inconclusive otherwise, or with fewer than
    ``min_seeds`` values a side.  ``paired``: the values are pairs (the same
    seeds), and the interval is that of the mean paired difference.
    """
    d = paired_difference(a, b, alpha) if paired else difference(a, b, alpha)
    th = {"margin_pp": 100 * margin, "alpha": alpha, "min_seeds": min_seeds}
    nums = {**d.to_dict(), "paired": paired}
    reason = _too_few(d.n_a, d.n_b, min_seeds, what)
    if reason:
        return Verdict(
            Outcome.INCONCLUSIVE,
            f"{what}: {pp(d.diff) if math.isfinite(d.diff) else 'no difference'}; {reason}",
            nums,
            th,
        )
    paired_text = " (paired by seed)" if paired else ""
    head = f"{what}: {pp(d.diff)}{paired_text}, {d.interval_text()}, margin ±{100 * margin:.2f} pp"
    if -margin < d.low and d.high < margin:
        return Verdict(Outcome.SUPPORTED, f"{head}: the whole interval lies within the margin.", nums, th)
    if d.low >= margin or d.high <= -margin:
        return Verdict(Outcome.CONTRADICTED, f"{head}: the whole interval lies outside the margin.", nums, th)
    return Verdict(Outcome.INCONCLUSIVE, f"{head}: the interval reaches beyond the margin.", nums, th)
