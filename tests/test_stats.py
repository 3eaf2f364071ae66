"""The report's statistics against values computed by hand and published tables."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlpsweep.stats import clopper_pearson, fisher_exact, mcnemar, mean_ci, t_cdf, t_ppf, t_sf2, welch


@pytest.mark.parametrize(
    "q,df,value",
    [  # Student's t table (two-sided 95 % and 99 %)
        (0.975, 1, 12.706204736174698),
        (0.975, 4, 2.7764451051977987),
        (0.975, 30, 2.0422724563012373),
        (0.995, 10, 3.16927267261695),
        (0.975, 1000, 1.9623390808264078),
    ],
)
def test_t_quantiles(q, df, value):
    assert t_ppf(q, df) == pytest.approx(value, rel=1e-12)
    assert t_ppf(1 - q, df) == pytest.approx(-value, rel=1e-12)


def test_t_tails():
    # df = 1 is Cauchy: P(|T| > 1) = 1/2; df = 2 has the closed form 1 − t/sqrt(2 + t²).
    assert t_sf2(1.0, 1) == pytest.approx(0.5, rel=1e-14)
    for t in (0.3, 1.0, 2.5, 10.0):
        assert t_sf2(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)
    assert t_cdf(0.0, 7) == 0.5


def test_mean_ci_by_hand():
    s = mean_ci([1, 2, 3, 4, 5])
    half = 2.7764451051977987 * math.sqrt(2.5) / math.sqrt(5)
    assert (s.n, s.mean, s.std) == (5, 3.0, pytest.approx(math.sqrt(2.5)))
    assert (s.ci_low, s.ci_high) == (pytest.approx(3 - half, rel=1e-12), pytest.approx(3 + half, rel=1e-12))
    assert math.isnan(mean_ci([0.9]).ci_low) and mean_ci([0.9]).mean == 0.9
    assert mean_ci([0.9, np.nan, 0.8]).n == 2


def test_welch_by_hand():
    # a = 1..5, b = 2,4,..,10: t = −3/sqrt(0.5 + 2), df = 2.5²/(0.5²/4 + 2²/4) = 100/17.
    r = welch([1, 2, 3, 4, 5], [2, 4, 6, 8, 10])
    assert r.statistic == pytest.approx(-3 / math.sqrt(2.5), rel=1e-14)
    assert r.df == pytest.approx(100 / 17, rel=1e-14)
    assert r.p_value == pytest.approx(0.10753119493062728, rel=1e-10)
    assert welch([1, 1], [1, 1]).p_value == 1.0
    assert math.isnan(welch([1], [2, 3]).p_value)


def test_mcnemar_by_hand():
    # 10 items only A got right, 2 only B: p = 2 (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 158/4096.
    a = [1] * 10 + [0] * 2 + [1] * 50 + [0] * 7
    b = [0] * 10 + [1] * 2 + [1] * 50 + [0] * 7
    r = mcnemar(a, b)
    assert r.statistic == 8
    assert r.p_value == pytest.approx(158 / 4096, rel=1e-12)
    assert mcnemar(a, a).p_value == 1.0
    big = mcnemar([1] * 3000 + [0] * 2900, [0] * 3000 + [1] * 2900)
    assert 0 < big.p_value < 1


def test_clopper_pearson_by_hand():
    # k = 0: the upper end solves (1 − p)^n = α/2; k = n: the lower end solves p^n = α/2 (closed forms).
    none = clopper_pearson(0, 5)
    assert (none.k, none.n, none.rate, none.low) == (0, 5, 0.0, 0.0)
    assert none.high == pytest.approx(1 - 0.025 ** (1 / 5), rel=1e-12)
    every = clopper_pearson(5, 5)
    assert every.low == pytest.approx(0.025 ** (1 / 5), rel=1e-12) and every.high == 1.0
    # k = 1 of n = 5: the lower end solves 1 − (1 − p)^5 = α/2, i.e. p = 1 − (1 − α/2)^(1/5)
    one = clopper_pearson(1, 5)
    assert one.low == pytest.approx(1 - 0.975 ** (1 / 5), rel=1e-12) and one.rate == 0.2
    assert one.low < 0.2 < one.high
    assert math.isnan(clopper_pearson(0, 0).rate)
    with pytest.raises(ValueError, match="k ≤ n"):
        clopper_pearson(3, 2)


def test_fisher_exact_by_hand():
    # 3 of 3 against 0 of 3: the observed table and its mirror are the only ones as extreme, each 1/C(6,3) = 1/20.
    assert fisher_exact(3, 3, 0, 3) == pytest.approx(0.1, rel=1e-12)
    assert fisher_exact(1, 5, 1, 5) == pytest.approx(1.0)
    assert fisher_exact(0, 0, 2, 5) == 1.0


@settings(max_examples=30, deadline=None)
@given(
    a=st.lists(st.floats(0.8, 1.0), min_size=2, max_size=8),
    b=st.lists(st.floats(0.8, 1.0), min_size=2, max_size=8),
)
def test_welch_against_scipy(a, b):
    stats = pytest.importorskip("scipy.stats")
    assume(np.ptp(a) > 1e-3 and np.ptp(b) > 1e-3)  # scipy warns on near-constant samples
    ref = stats.ttest_ind(a, b, equal_var=False)
    ours = welch(a, b)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-7, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(st.floats(0.5, 1.0), min_size=4, max_size=31),
    b=st.lists(st.floats(0.5, 1.0), min_size=4, max_size=31),
    trim=st.sampled_from([0.1, 0.2, 0.25]),
)
def test_yuens_pieces_against_scipys_trimmed_t_test(a, b, trim):
    """Yuen's statistic and Welch-type degrees of freedom from :func:`trimmed` are SciPy's
    ``ttest_ind(..., trim=…)``, for rows of different lengths (nan-padded) as for complete ones."""
    from mlpsweep.stats import trimmed

    stats = pytest.importorskip("scipy.stats")
    ta, tb = trimmed(a, trim), trimmed(b, trim)
    assume(ta.d[0] > 1e-10 and tb.d[0] > 1e-10)
    t = (tb.mean[0] - ta.mean[0]) / np.sqrt(ta.d[0] + tb.d[0])
    ref = stats.ttest_ind(b, a, equal_var=False, trim=trim)
    assert t == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
    assert tb.mean[0] == pytest.approx(stats.trim_mean(b, trim), rel=1e-12)
    padded = np.full((2, max(len(a), len(b)) + 2), np.nan)
    padded[0, : len(a)], padded[1, : len(b)] = a, b
    rows = trimmed(padded, trim)
    assert rows.mean.tolist() == pytest.approx([ta.mean[0], tb.mean[0]], rel=1e-12)
    assert rows.d.tolist() == pytest.approx([ta.d[0], tb.d[0]], rel=1e-9)
    assert rows.h.tolist() == [len(a) - 2 * int(trim * len(a)), len(b) - 2 * int(trim * len(b))]


def test_a_trimmed_mean_sets_a_low_run_aside():
    """What the trained part relies on: one run 8 points low moves the mean of five by 1.6 points, and the 25 %
    trimmed mean (the middle three) by less than a tenth of a point — the low run is set aside, the middle
    moves one place."""
    from mlpsweep.stats import trimmed

    runs = np.array([0.85, 0.851, 0.849, 0.852, 0.848])
    low = runs.copy()
    low[0] -= 0.08
    assert low.mean() - runs.mean() == pytest.approx(-0.016)
    assert trimmed(runs, 0.25).mean[0] == pytest.approx(0.85)
    assert trimmed(low, 0.25).mean[0] == pytest.approx((0.848 + 0.849 + 0.851) / 3)
