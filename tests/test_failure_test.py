"""The exact failure test (verdicts.rate_p: an exact unconditional test of two failure rates with a margin,
Farrington–Manning's score ordering, Chan 1998) against computations that share none of its code: the score's
restricted maximum found by Brent's bounded search, the supremum over the null by brute force on a finer grid,
and at a zero margin SciPy's Barnard test (``scipy.stats.barnard_exact``, pooled: the same statistic)."""

import math

import numpy as np
import pytest
from scipy import optimize, stats

from mlpsweep import verdicts as v


def score(xa: int, na: int, xb: int, nb: int, margin: float) -> float:
    """Farrington–Manning's statistic for p_b − p_a = margin, its restricted maximum likelihood found apart."""
    gap = xb / nb - xa / na - margin
    if abs(gap) < 1e-12:
        return 0.0
    lo, hi = max(0.0, -margin), min(1.0, 1.0 - margin)

    def nll(pa):
        total = 0.0
        for x, n, p in ((xa, na, pa), (xb, nb, pa + margin)):
            total -= x * math.log(max(p, 1e-300)) if x else 0.0
            total -= (n - x) * math.log(max(1 - p, 1e-300)) if n - x else 0.0
        return total

    pa = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded", options={"xatol": 1e-12}).x
    pa = min((lo, pa, hi), key=nll)  # the bounded search stops short of an end where the maximum lies
    pb = pa + margin
    return gap / math.sqrt(max(pa * (1 - pa) / na + pb * (1 - pb) / nb, 1e-300))


def brute_p(ka: int, na: int, kb: int, nb: int, margin: float, greater: bool) -> float:
    """The largest probability over the null (a 201 × 201 grid of it and 10,001 points of its edge) of
    counts whose statistic is at least the observed one on the claim's side (equal statistics included)."""
    sign = 1.0 if greater else -1.0
    z = np.array([[sign * score(a, na, b, nb, margin) for b in range(nb + 1)] for a in range(na + 1)])
    extreme = (z >= z[ka, kb] - 1e-6).astype(float)
    g = np.linspace(0.0, 1.0, 201)
    pa, pb = (x.ravel() for x in np.meshgrid(g, g, indexing="ij"))
    null = sign * (pb - pa - margin) <= 0
    edge = np.linspace(max(0.0, -margin), min(1.0, 1.0 - margin), 10_001)
    pa = np.concatenate([pa[null], edge])
    pb = np.clip(np.concatenate([pb[null], edge + margin]), 0.0, 1.0)
    fa = stats.binom.pmf(np.arange(na + 1)[None, :], na, pa[:, None])
    fb = stats.binom.pmf(np.arange(nb + 1)[None, :], nb, pb[:, None])
    return float(min(np.einsum("gi,gj,ij->g", fa, fb, extreme).max(), 1.0))


#: (failed in A, runs of A, failed in B, runs of B, margin, claim p_b − p_a > margin): the primary verdicts'
#: margins on both sides, equal and unequal groups, no failures, all failures, and counts whose statistic ties
#: with others' (0 of 5 against 2 of 5 ties with 3 of 5 against 5 of 5).
CASES = [
    (0, 5, 0, 5, -0.2, True),
    (0, 5, 2, 5, -0.2, True),
    (0, 30, 0, 30, -0.2, True),
    (0, 14, 0, 14, -0.2, True),
    (1, 12, 4, 9, -0.1, True),
    (2, 20, 9, 25, 0.1, True),
    (4, 10, 4, 10, -0.15, True),
    (3, 7, 3, 7, 0.1, False),
    (5, 30, 1, 30, -0.1, False),
    (0, 8, 3, 13, 0.05, False),
    (6, 6, 0, 9, 0.2, False),
    (2, 11, 2, 4, 0.0, True),
]


@pytest.mark.parametrize("case", CASES, ids=[",".join(map(str, c)) for c in CASES])
def test_p_values_are_the_supremum_of_the_tail_over_the_null(case):
    assert v.rate_p(*case) == pytest.approx(brute_p(*case), abs=1e-5)


@pytest.mark.parametrize(
    "ka,na,kb,nb", [(0, 10, 5, 10), (5, 10, 0, 10), (2, 8, 6, 9), (0, 5, 0, 5), (1, 12, 1, 12), (3, 30, 0, 17)]
)
def test_at_a_zero_margin_p_values_are_scipys_barnard_test(ka, na, kb, nb):
    table = [[kb, ka], [nb - kb, na - ka]]  # columns: B, A; rows: failed, trained
    for greater, alternative in ((True, "greater"), (False, "less")):
        want = stats.barnard_exact(table, alternative=alternative, pooled=True, n=200).pvalue
        assert v.rate_p(ka, na, kb, nb, 0.0, greater) == pytest.approx(want, abs=1e-4)


def test_the_issues_five_seed_example_can_be_supported():
    """0 of 5 failed against 2 of 5: p = 0.023 for “B does not fail less often by 20 pp” — a fixed 5-seed
    study's failure part can be supported (#40)."""
    assert v.rate_p(0, 5, 2, 5, -0.2, True) == pytest.approx(0.0226, abs=5e-4)
