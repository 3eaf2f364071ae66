"""The report's statistics against values computed by hand and published tables."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlpsweep.stats import betainc, mcnemar, mean_ci, t_cdf, t_ppf, t_sf2, welch


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


def test_t_tails_and_beta():
    # df = 1 is Cauchy: P(|T| > 1) = 1/2; df = 2 has the closed form 1 − t/sqrt(2 + t²).
    assert t_sf2(1.0, 1) == pytest.approx(0.5, rel=1e-14)
    for t in (0.3, 1.0, 2.5, 10.0):
        assert t_sf2(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)
    assert t_cdf(0.0, 7) == 0.5
    assert betainc(1.0, 1.0, 0.3) == pytest.approx(0.3, rel=1e-14)  # the uniform distribution
    assert betainc(2.0, 3.0, 0.4) == pytest.approx(0.5248, rel=1e-12)  # 1 − (1−x)^3 (1 + 3x) at 0.4


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


@settings(max_examples=50, deadline=None)
@given(
    t=st.floats(-50, 50, allow_nan=False),
    df=st.floats(1, 500, allow_nan=False),
)
def test_t_against_scipy(t, df):
    stats = pytest.importorskip("scipy.stats")
    # abs 1e-8: near t = 0 SciPy rounds to 1.0 what is 1 − 2·atan(t)/π (df = 1, t = 3.6e-9: 1 − 2.3e-9), which t_sf2 keeps
    assert t_sf2(t, df) == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9, abs=1e-8)


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
