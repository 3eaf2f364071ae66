"""The decision rules on synthetic numbers: each outcome, one seed, and the threshold edges."""

import math

import numpy as np
import pytest

from mlpsweep import verdicts as v
from mlpsweep.verdicts import Outcome

S, C, I = Outcome.SUPPORTED, Outcome.CONTRADICTED, Outcome.INCONCLUSIVE  # noqa: E741 (I: inconclusive)
BASE = np.array([0.850, 0.852, 0.848, 0.851, 0.849])  # sd 0.16 pp


def shifted(delta, spread=1.0):
    return 0.850 + delta + spread * (BASE - 0.850)


def test_difference_matches_the_textbook_formulas():
    a, b = [0.80, 0.82, 0.81], [0.84, 0.83, 0.86, 0.85]
    d = v.difference(a, b, alpha=0.05)
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 4
    se = math.sqrt(va + vb)
    nu = se**4 / (va**2 / 2 + vb**2 / 3)
    scipy = pytest.importorskip("scipy.stats")
    assert d.diff == pytest.approx(np.mean(b) - np.mean(a), rel=1e-12)
    assert d.df == pytest.approx(nu, rel=1e-12)
    assert d.high - d.diff == pytest.approx(scipy.t.ppf(0.95, nu) * se, rel=1e-9)
    # the MDE: the shift at which the two-sided test's upper critical value is exceeded with 80 % probability
    crit = scipy.t.ppf(0.975, nu)
    assert scipy.nct.sf(crit, nu, d.mde / se) == pytest.approx(0.8, abs=1e-9)
    # above the old normal-style sum t(1−α/2) + t(power), which the noncentral t's skew makes too small
    assert d.mde > (crit + scipy.t.ppf(0.8, nu)) * se


def test_the_trimmed_difference_is_yuens_test_as_scipy_computes_it():
    """With ``trim`` the difference is of trimmed means and its one-sided p and interval are Yuen's: SciPy's
    ``ttest_ind(trim=…)`` with Welch-type degrees of freedom on the kept counts, and with ``df="min"`` Student's
    t on min(h_A, h_B) − 1 (here 6 − 1: twelve runs keep six, eight keep four → 3)."""
    scipy = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    a, b = 0.85 + 0.01 * rng.standard_normal(12), 0.86 + 0.015 * rng.standard_normal(8)
    d = v.difference(a, b, alpha=0.05, trim=0.25)
    ref = scipy.ttest_ind(b - 0.01, a, equal_var=False, trim=0.25, alternative="greater")
    assert d.diff == pytest.approx(scipy.trim_mean(b, 0.25) - scipy.trim_mean(a, 0.25), rel=1e-12)
    assert v.one_sided_p(d, 0.01, greater=True) == pytest.approx(ref.pvalue, rel=1e-9)
    assert d.df == pytest.approx(ref.df, rel=1e-9)
    m = v.difference(a, b, alpha=0.05, df="min", trim=0.25)
    assert m.df == 3 and m.high - m.diff == pytest.approx(scipy.t.ppf(0.95, 3) * m.se, rel=1e-12)
    assert m.of_what == " (25 % trimmed means, Yuen)" and "Yuen" in m.test


def test_the_detectable_shift_is_the_noncentral_t_s_by_simulation():
    """An independent check: t statistics drawn as (Z + δ/SE)/√(χ²_ν/ν) exceed the one-sided critical value at
    level α/k in `power` of the draws when the true shift is the detectable one."""
    from mlpsweep.stats import detectable_shift

    scipy = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for df, level in ((4.0, 0.025), (8.0, 0.05), (3.2, 0.0125)):
        shift = detectable_shift(1.0, df, level, 0.8)
        z = rng.standard_normal(400_000) + shift
        t = z / np.sqrt(rng.chisquare(df, 400_000) / df)
        share = float(np.mean(t > scipy.t.ppf(1 - level, df)))
        assert abs(share - 0.8) < 4 * math.sqrt(0.8 * 0.2 / 400_000), (df, level, share)
    # many degrees of freedom: the normal approximation z(1 − α) + z(power)
    assert detectable_shift(1.0, 1e7, 0.05, 0.8) == pytest.approx(1.6449 + 0.8416, abs=2e-3)


@pytest.mark.parametrize("delta, outcome", [(0.0, S), (0.03, C), (0.0095, I)])
def test_not_better_three_outcomes(delta, outcome):
    verdict = v.not_better(BASE, shifted(delta), margin=0.01)
    assert verdict.outcome is outcome, verdict.sentence
    assert verdict.thresholds["margin_pp"] == pytest.approx(1.0)


def test_not_better_with_a_wide_spread_is_inconclusive_and_says_what_it_could_detect():
    # The Fashion-MNIST depth case: +1.93 pp with one seed far below the rest.
    a = [0.6524, 0.8488, 0.8521, 0.8503, 0.8572]
    b = [0.8453, 0.8566, 0.8542, 0.8554, 0.8458]
    verdict = v.not_better(a, b, margin=0.01, holm_k=2)
    assert verdict.outcome is I
    assert "with 80 % power this run could only have supported the claim for a true difference below" in (
        verdict.sentence
    )
    # the contradiction is tested one-sided against the margin at Holm's first step, α/2: its reach is wider
    # than at α, and wider than the old two-sided-from-zero figure
    d = v.difference(a, b, 0.05)
    above = float(verdict.sentence.split("contradicted it above ")[1].split(" pp")[0]) / 100
    assert above == pytest.approx(0.01 + d.shift(0.025), abs=5e-5)
    assert d.shift(0.025) > d.shift(0.05)
    assert "at α = 0.05 and 0.025" in verdict.sentence


def test_not_better_one_seed_is_inconclusive_and_names_the_reason():
    verdict = v.not_better([0.85], [0.90], margin=0.01)
    assert verdict.outcome is I and "1 finished seed" in verdict.sentence and "min_seeds" in verdict.sentence


def test_min_seeds_is_the_declared_minimum():
    assert v.not_better(BASE[:3], shifted(0)[:3], margin=0.01, min_seeds=3).outcome is S
    assert v.not_better(BASE[:3], shifted(0)[:3], margin=0.01, min_seeds=4).outcome is I


def test_not_better_threshold_edge():
    # Zero spread: the interval is the point itself; equal to the margin is not below it.
    a, b = [0.85, 0.85], [0.86, 0.86]
    assert v.not_better(a, b, margin=0.01 + 1e-9).outcome is S
    assert v.not_better(a, b, margin=0.01 - 1e-9).outcome is C


@pytest.mark.parametrize("delta, outcome", [(0.02, S), (-0.01, C), (0.0005, I)])
def test_better_three_outcomes(delta, outcome):
    assert v.better(BASE, shifted(delta), margin=0.0).outcome is outcome


def test_better_margin_edge_and_one_seed():
    d = v.better(BASE, shifted(0.02), margin=0.0)
    low = d.numbers["low"]
    assert v.better(BASE, shifted(0.02), margin=low - 1e-6).outcome is S
    assert v.better(BASE, shifted(0.02), margin=low + 1e-6).outcome is I
    assert v.better([0.8], [0.9]).outcome is I


def test_one_sided_p_agrees_with_the_interval():
    d = v.difference(BASE, shifted(0.002))
    p = v.one_sided_p(d, 0.0, greater=True)
    assert (p < 0.05) == (d.low > 0)
    assert v.one_sided_p(d, 0.0, greater=False) == pytest.approx(1 - p)


def test_holm_step_down():
    assert v.holm([0.01, 0.04, 0.03], alpha=0.05) == [True, False, False]  # 0.01 ≤ .0167; 0.03 > .025
    assert v.holm([0.01, 0.02, 0.04], alpha=0.05) == [True, True, True]  # .01≤.0167, .02≤.025, .04≤.05
    assert v.holm([0.2, float("nan")]) == [False, False]


def test_combine():
    s, c, i = (v.Verdict(o, o.value) for o in (S, C, I))
    assert v.combine([s, s]).outcome is S
    assert v.combine([s, i]).outcome is I
    assert v.combine([s, i, c]).outcome is C
    assert v.combine([]).outcome is I


@pytest.mark.parametrize("true_slope, bound, outcome", [(-0.5, -0.2, S), (0.0, -0.2, C), (-0.2, -0.2, I)])
def test_slope_below_three_outcomes(true_slope, bound, outcome):
    x = np.repeat([2, 3, 4, 5], 3).astype(float)
    noise = np.tile([-0.01, 0.0, 0.01], 4)
    assert v.slope_below(x, true_slope * x + noise, bound=bound).outcome is outcome


def test_slope_matches_scipy_linregress():
    scipy = pytest.importorskip("scipy.stats")
    x = np.array([2, 2, 3, 3, 4, 4, 5, 5], float)
    y = np.array([-0.9, -1.0, -1.3, -1.5, -1.9, -1.8, -2.4, -2.2])
    s = v.slope(x, y)
    ref = scipy.linregress(x, y)
    assert s.slope == pytest.approx(ref.slope, rel=1e-12) and s.se == pytest.approx(ref.stderr, rel=1e-9)


def test_slope_with_too_few_points_is_inconclusive():
    assert v.slope_below([2, 3], [0.1, 0.2], bound=0.0).outcome is I
    assert v.slope_below([2, 2, 2], [0.1, 0.2, 0.3], bound=0.0).outcome is I  # one x value


@pytest.mark.parametrize("a, noise, outcome", [(-0.5, 0.01, S), (-0.3, 0.01, C), (-0.5, 0.5, I)])
def test_exponent_three_outcomes(a, noise, outcome):
    lk = np.log([1, 2, 5, 10, 20, 50, 100, 200])
    wiggle = noise * np.array([1, -1, 1, -1, -1, 1, -1, 1])
    assert v.exponent_matches(lk, a * lk + wiggle, law=-0.5, tolerance=0.1).outcome is outcome


def test_exponent_tolerance_edge():
    lk = np.log([1, 2, 5, 10, 20, 50, 100, 200])
    y = -0.5 * lk + 0.05 * np.array([1, -1, 1, -1, -1, 1, -1, 1])
    s = v.slope(lk, y, alpha=0.1)  # TOST at α = 0.05 reads the 90 % interval
    reach = max(s.high + 0.5, -0.5 - s.low)
    assert v.exponent_matches(lk, y, law=-0.5, tolerance=reach * 1.001).outcome is S
    assert v.exponent_matches(lk, y, law=-0.5, tolerance=reach * 0.999).outcome is I


def test_exponent_practically_exact_but_tight_is_supported():
    # −0.505 with a very tight interval: within a ±0.1 tolerance, not a contradiction
    lk = np.log([1, 2, 5, 10, 20, 50, 100, 200, 500, 1000])
    y = -0.505 * lk + 0.001 * np.array([1, -1, 1, -1, -1, 1, -1, 1, 1, -1])
    assert v.exponent_matches(lk, y, law=-0.5, tolerance=0.1).outcome is S


@pytest.mark.parametrize(
    "values, outcome", [([0.90, 0.91, 0.905], S), ([0.80, 0.81, 0.805], C), ([0.84, 0.88, 0.86], I)]
)
def test_at_least_three_outcomes(values, outcome):
    assert v.at_least(values, floor=0.871).outcome is outcome


def test_at_least_one_seed_and_edge():
    one = v.at_least([0.95], floor=0.871)
    assert one.outcome is I and "1 seed" in one.sentence
    assert v.at_least([0.9, 0.9], floor=0.9).outcome is S  # zero spread, exactly at the floor
    assert v.at_least([0.9, 0.9], floor=0.9 + 1e-12).outcome is C


@pytest.mark.parametrize("values, outcome", [([0.1, 0.11], S), ([0.5, 0.52], C), ([0.1, 0.5], I)])
def test_at_most_three_outcomes(values, outcome):
    verdict = v.at_most(values, ceiling=0.3)
    assert verdict.outcome is outcome, verdict.sentence
    assert verdict.numbers["low"] <= verdict.numbers["mean"] <= verdict.numbers["high"]


def test_seeds_needed_is_the_smallest_fixed_design_the_noncentral_t_says_is_enough():
    from mlpsweep.stats import detectable_shift

    a, b = [0.80, 0.82, 0.84], [0.83, 0.85, 0.87]  # s² = 4e-4 each, difference 0.03
    n = v.seeds_needed(a, b, margin=0.01)
    shift = lambda k: detectable_shift(0.02 * math.sqrt(2 / k), 2 * k - 2, 0.05, 0.8)  # noqa: E731
    assert shift(n) <= 0.02 < shift(n - 1)
    assert n == 14  # the normal approximation said 13: too few at ν = 2n − 2
    assert v.seeds_needed(a, b, margin=0.01, level=0.025) > n  # a Holm step's smaller level needs more
    assert v.seeds_needed(a, b, margin=0.03) == math.inf  # the difference sits on the margin
    assert math.isnan(v.seeds_needed([0.8], b, margin=0.01))
    assert v.seeds_needed([0.8, 0.8], [0.9, 0.9], margin=0.0) == 2  # no spread: the minimum


def test_an_inconclusive_comparison_says_how_many_seeds_would_decide_it():
    a = [0.6524, 0.8488, 0.8521, 0.8503, 0.8572]
    b = [0.8453, 0.8566, 0.8542, 0.8554, 0.8458]
    for verdict in (v.not_better(a, b, margin=0.01), v.better(a, b, margin=0.01)):
        assert verdict.outcome is I
        assert "a fixed design would need about 59 seeds per topology" in verdict.sentence
    assert "fixed design" not in v.not_better(BASE, shifted(0.0), margin=0.01).sentence  # decided: no estimate


def test_interval_levels_are_printed_with_the_decimals_they_need():
    from mlpsweep.verdicts import level_pct

    assert [level_pct(x) for x in (0.9, 0.95, 1 - 2 * 0.05 / 6, 1 - 2 * 3e-5, 0.999, 1.0)] == [
        "90",
        "95",
        "98.33",
        "99.994",
        "99.9",
        "100",
    ]
    sentence = v.not_better([0.85, 0.80, 0.87], [0.86, 0.85, 0.80], margin=0.01, alpha=3e-5).sentence
    assert "99.994 % CI" in sentence and "100 % CI" not in sentence


def test_a_sequential_look_states_the_fixed_designs_seeds_at_the_studys_alpha():
    a, b = [0.85, 0.80, 0.87, 0.84, 0.86], [0.86, 0.85, 0.80, 0.85, 0.84]
    look = v.not_better(a, b, margin=0.01, alpha=3e-5, plan_alpha=0.05).sentence
    plain = v.not_better(a, b, margin=0.01, alpha=0.05).sentence
    need = lambda text: text.split("would need about ")[1].split(" seeds")[0]  # noqa: E731
    assert need(look) == need(plain) == f"{v.seeds_needed(a, b, 0.01, 0.05):,.0f}"
