"""Every study kind's decision rule on synthetic measurements: each outcome, one seed, a threshold edge."""

import math

import numpy as np
import pytest

from mlpsweep.studies import batch_size, best, compare, dropout, regularisation, universal_approximation
from mlpsweep.studies import vanishing_gradient as vg
from mlpsweep.verdicts import Outcome

S, C, I = Outcome.SUPPORTED, Outcome.CONTRADICTED, Outcome.INCONCLUSIVE  # noqa: E741 (I: inconclusive)
TIGHT = np.array([0.850, 0.852, 0.848, 0.851, 0.849])
ARGS = dict(alpha=0.05, min_seeds=2)


def acc(delta, spread=1.0):
    return 0.85 + delta + spread * (TIGHT - 0.85)


# -- compare: deeper_not_better -------------------------------------------------------
@pytest.mark.parametrize("deltas, outcome", [((0.0, 0.002), S), ((0.0, 0.05), C), ((0.0, 0.0095), I)])
def test_deeper_not_better(deltas, outcome):
    groups = [("30", 3, acc(0))] + [(f"d{i}", 4 + i, acc(d)) for i, d in enumerate(deltas)]
    assert compare.decide_deeper_not_better(groups, margin=0.01, **ARGS).outcome is outcome


def test_deeper_not_better_one_seed_and_one_depth():
    one = compare.decide_deeper_not_better([("30", 3, [0.85]), ("30-30", 4, [0.87])], margin=0.01, **ARGS)
    assert one.outcome is I and "min_seeds" in one.sentence
    same = compare.decide_deeper_not_better([("a", 3, TIGHT), ("b", 3, TIGHT)], margin=0.01, **ARGS)
    assert same.outcome is I and "one depth" in same.sentence


def test_deeper_not_better_margin_edge():
    flat = [0.85, 0.85]
    groups = [("a", 3, flat), ("b", 4, [0.86, 0.86])]  # zero spread: the interval is the point +1 pp
    assert compare.decide_deeper_not_better(groups, margin=0.0101, **ARGS).outcome is S
    assert compare.decide_deeper_not_better(groups, margin=0.0099, **ARGS).outcome is C


# -- compare: alternatives_better -----------------------------------------------------
@pytest.mark.parametrize("deltas, outcome", [((0.0, 0.03), S), ((-0.01, -0.02), C), ((0.0, 0.0005), I)])
def test_alternatives_better(deltas, outcome):
    alts = [(f"alt{i}", acc(d)) for i, d in enumerate(deltas)]
    assert compare.decide_alternatives_better(("base", acc(0)), alts, margin=0.0, **ARGS).outcome is outcome


def test_alternatives_better_holm_edge():
    # one alternative whose one-sided p (Yuen, 25 % trimmed) is between α/2 and α: significant alone, not after
    # Holm over two
    base, alt = acc(0), acc(0.0028)
    alone = compare.decide_alternatives_better(("b", base), [("x", alt)], margin=0.0, df="welch", **ARGS)
    p = alone.numbers["comparisons"][0]["p_one_sided"]
    assert 0.025 < p < 0.05 and alone.outcome is S
    two = compare.decide_alternatives_better(
        ("b", base), [("x", alt), ("y", acc(-0.001))], margin=0.0, df="welch", **ARGS
    )
    assert two.outcome is I


def test_alternatives_better_one_seed():
    assert compare.decide_alternatives_better(("b", [0.8]), [("x", [0.9])], margin=0.0, **ARGS).outcome is I


# -- regularisation -------------------------------------------------------------------------
def test_regularisation_outcomes():
    zero, sparse = np.array([0.0, 0.0]), np.array([0.5, 0.52])
    assert regularisation.decide([("L1", sparse)], [("L2", zero)], floor=0.1, **ARGS).outcome is S
    assert regularisation.decide([("L1", np.array([0.01, 0.02]))], [("L2", zero)], floor=0.1, **ARGS).outcome is C
    assert regularisation.decide([("L1", sparse)], [("L2", np.array([0.4, 0.42]))], floor=0.1, **ARGS).outcome is C
    assert regularisation.decide([("L1", np.array([0.05, 0.3]))], [("L2", zero)], floor=0.1, **ARGS).outcome is I
    assert regularisation.decide([("L1", np.array([0.5]))], [("L2", np.array([0.0]))], floor=0.1, **ARGS).outcome is I


def test_regularisation_floor_edge():
    shares = np.array([0.2, 0.2])
    assert regularisation.decide([("L1", shares)], [], floor=0.2, **ARGS).outcome is S
    assert regularisation.decide([("L1", shares)], [], floor=0.2000001, **ARGS).outcome is C


# -- dropout -----------------------------------------------------------------------------------
def test_dropout_outcomes():
    g0, g_small = np.array([0.06, 0.062, 0.058]), np.array([0.02, 0.022, 0.018])
    assert dropout.decide([("w100", g0, g_small, 0.5)], margin=0.0, **ARGS).outcome is S
    assert dropout.decide([("w100", g_small, g0, 0.5)], margin=0.0, **ARGS).outcome is C
    assert (
        dropout.decide([("w100", np.array([0.06, 0.02]), np.array([0.05, 0.03]), 0.5)], margin=0.0, **ARGS).outcome is I
    )
    assert dropout.decide([("w100", np.array([0.06]), np.array([0.02]), 0.5)], margin=0.0, **ARGS).outcome is I
    # every width must hold: one contradicted width contradicts
    assert dropout.decide([("a", g0, g_small, 0.5), ("b", g_small, g0, 0.5)], margin=0.0, **ARGS).outcome is C


def test_dropout_margin_edge():
    g0, g1 = np.array([0.06, 0.06]), np.array([0.02, 0.02])  # reduction exactly 4 pp, no spread
    assert dropout.decide([("w", g0, g1, 0.5)], margin=0.0399, **ARGS).outcome is S
    assert dropout.decide([("w", g0, g1, 0.5)], margin=0.0401, **ARGS).outcome is C


# -- vanishing gradient ---------------------------------------------------------------------------
def points(slope, noise=0.02):
    x = np.repeat([2.0, 3.0, 4.0, 5.0], 2)
    return x, slope * x + noise * np.tile([1, -1], 4)


@pytest.mark.parametrize("slope, outcome", [(-1.5, S), (0.0, C), (math.log(0.5), I)])
def test_vanishing_gradient_outcomes(slope, outcome):
    pts = {phase: points(slope) for phase in vg.PHASES}
    assert [r.outcome for r in vg.decide(pts, shrink=0.5, alpha=0.05).values()] == [outcome, outcome]


def test_a_claim_that_holds_in_one_regime_gets_one_verdict_per_regime():
    """The issue's numbers: slope −0.40 per layer at initialisation (a factor 0.67), −0.009 during training;
    against a declared factor 0.9 the first regime supports the claim and the second contradicts it — two
    verdicts, not one word for both."""
    mixed = {vg.PHASES[0]: points(-0.40), vg.PHASES[1]: points(-0.009)}
    regimes = vg.decide(mixed, shrink=0.9, alpha=0.05)
    assert regimes[vg.PHASES[0]].outcome is S and regimes[vg.PHASES[1]].outcome is C
    assert regimes[vg.PHASES[0]].sentence.startswith("At initialisation, the first layer's share")
    assert regimes[vg.PHASES[1]].sentence.startswith("During training, the gradient does not compound")


def test_vanishing_gradient_needs_enough_points_in_each_regime():
    few = {vg.PHASES[0]: (np.array([2.0, 3.0]), np.array([-1.0, -2.0]))}
    regimes = vg.decide(few, shrink=0.5, alpha=0.05)
    assert regimes[vg.PHASES[0]].outcome is I and regimes[vg.PHASES[1]].outcome is I
    assert "no sigmoid run recorded gradient norms during training" in regimes[vg.PHASES[1]].sentence


def test_ratio_points_take_log_first_over_last():
    x, y = vg.ratio_points([(2, [0.1, 0.4]), (3, [0.0, 1.0]), (4, [0.2, 0.1, 0.4])])
    np.testing.assert_allclose(x, [2, 4])
    np.testing.assert_allclose(y, [math.log(0.25), math.log(0.5)])


# -- batch size ------------------------------------------------------------------------------------
def spread_rows(exponent, m=50_000, noise=0.0):
    ks = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    wiggle = noise * np.array([1, -1, 1, -1, -1, 1, -1, 1, 1, -1])
    return [
        {"batch_size": k, "spread": math.exp(w) * k**exponent * batch_size.finite_population(m, k)}
        for k, w in zip(ks, wiggle)
    ]


@pytest.mark.parametrize("exponent, noise, outcome", [(-0.5, 0.01, S), (-0.35, 0.01, C), (-0.5, 0.6, I)])
def test_batch_size_outcomes(exponent, noise, outcome):
    assert batch_size.decide(spread_rows(exponent, noise=noise), 50_000, tolerance=0.1, alpha=0.05).outcome is outcome


def test_batch_size_divides_out_the_finite_population_factor():
    # K up to half of m: without the factor the slope would bend away from −½
    rows = spread_rows(-0.5, m=2000) + [
        {"batch_size": 1000, "spread": 1000**-0.5 * batch_size.finite_population(2000, 1000)}
    ]
    verdict = batch_size.decide(rows, 2000, tolerance=0.01, alpha=0.05)
    assert verdict.outcome is S and verdict.numbers["slope"] == pytest.approx(-0.5, abs=1e-9)


# -- universal approximation -----------------------------------------------------------------------
def ua_rows(sig, sq, seed=1, target="sin3x_abs"):
    return [{"target": target, "activation": "sigmoid", "width": w, "seed": seed, "sup_error": e} for w, e in sig] + [
        {"target": target, "activation": "square", "width": w, "seed": seed, "sup_error": e} for w, e in sq
    ]


def test_universal_approximation_outcomes():
    good = ua_rows([(1, 1.0), (64, 0.1)], [(1, 1.2), (64, 1.0)])
    assert universal_approximation.decide(good, error_reduction=0.5, min_seeds=1).outcome is S
    stalls = ua_rows([(1, 1.0), (64, 0.8)], [(1, 1.2), (64, 1.0)])
    assert universal_approximation.decide(stalls, error_reduction=0.5, min_seeds=1).outcome is C
    poly_wins = ua_rows([(1, 1.0), (64, 0.3)], [(1, 1.2), (64, 0.2)])
    assert universal_approximation.decide(poly_wins, error_reduction=0.5, min_seeds=1).outcome is C
    diverged = ua_rows([(1, 1.0), (64, math.inf)], [(1, 1.2), (64, 1.0)])
    assert universal_approximation.decide(diverged, error_reduction=0.5, min_seeds=1).outcome is I
    # diverged x² fits are left out (and counted); the finite ones still decide
    poly_diverged = ua_rows([(1, 1.0), (64, 0.1)], [(1, 1.2), (64, math.inf)])
    verdict = universal_approximation.decide(poly_diverged, error_reduction=0.5, min_seeds=1)
    assert verdict.outcome is S and "1 diverged fit left out" in verdict.sentence
    all_poly_diverged = ua_rows([(1, 1.0), (64, 0.1)], [(1, math.inf), (64, math.inf)])
    assert universal_approximation.decide(all_poly_diverged, error_reduction=0.5, min_seeds=1).outcome is I
    assert universal_approximation.decide(good, error_reduction=0.5, min_seeds=2).outcome is I  # one seed of two


def test_universal_approximation_reduction_edge():
    rows = ua_rows([(1, 1.0), (64, 0.5)], [(1, 1.2), (64, 1.0)])
    assert universal_approximation.decide(rows, error_reduction=0.5, min_seeds=1).outcome is S
    assert universal_approximation.decide(rows, error_reduction=0.4999, min_seeds=1).outcome is C


# -- best ----------------------------------------------------------------------------------------------
TARGET = {"accuracy": 0.871, "setup": "MLPClassifier [100]", "source": "Fashion-MNIST paper"}


def test_best_outcomes():
    assert best.decide([0.893, 0.892, 0.894], TARGET, margin=0.0, **ARGS).outcome is S
    assert best.decide([0.85, 0.851, 0.852], TARGET, margin=0.0, **ARGS).outcome is C
    assert best.decide([0.86, 0.89, 0.875], TARGET, margin=0.0, **ARGS).outcome is I
    one = best.decide([0.8937], TARGET, margin=0.0, **ARGS)
    assert one.outcome is I and "1 seed" in one.sentence
    assert best.decide([0.9, 0.9], None, margin=0.0, **ARGS).outcome is I


def test_best_margin_edge():
    assert best.decide([0.881, 0.881], TARGET, margin=0.01 - 1e-9, **ARGS).outcome is S
    assert best.decide([0.881, 0.881], TARGET, margin=0.01 + 1e-9, **ARGS).outcome is C


# -- compare: the two parts of the primary verdict (trained runs, failures) ---------------
def runs(delta, n, failed=0):
    """An Arm's fields: ``n`` runs of which ``failed`` failed; the others trained, tight around 0.85 + delta."""
    trained = 0.85 + delta + np.resize(TIGHT - 0.85, n - failed)
    return trained, failed, n


def deeper(shallow, deep, **kw):
    a, b = runs(*shallow), runs(*deep)
    groups = [("30", 3, a[0], a[1], a[2]), ("30-30", 4, b[0], b[1], b[2])]
    return compare.decide_deeper_not_better(groups, margin=0.01, failure_margin=0.2, **ARGS, **kw)


@pytest.mark.parametrize(
    "shallow, deep, outcome, words",
    [
        ((0.0, 30), (0.0, 30), S, "intersection–union"),  # both parts shown: 0/30 against 0/30 excludes 20 pp
        ((0.0, 5), (0.0, 5), I, "not shown either way"),  # trained part shown, 5 runs cannot exclude 20 pp
        ((0.0, 10, 8), (0.0, 10), C, "fails to train less often"),  # 8 of 10 shallow runs failed
        ((0.0, 30), (0.05, 30), C, "trained runs are better"),  # deeper trained runs 5 pp better
    ],
)
def test_deeper_not_better_decides_both_parts(shallow, deep, outcome, words):
    verdict = deeper(shallow, deep)
    assert verdict.outcome is outcome and words in verdict.sentence
    assert len(verdict.numbers["failures"]) == 1 and verdict.thresholds["failure_margin_pp"] == 20


def test_the_parts_alone_are_what_the_report_prints_beside_the_primary_verdict():
    assert deeper((0.0, 5), (0.0, 5), parts=("trained",)).outcome is S
    assert deeper((0.0, 5), (0.0, 5), parts=("failures",)).outcome is I
    # without counts (failures not looked for) the failure part is left out, not guessed
    plain = [("30", 3, acc(0)), ("30-30", 4, acc(0.002))]
    assert compare.decide_deeper_not_better(plain, margin=0.01, failure_margin=0.2, **ARGS).outcome is S


def alternatives(base, alt):
    a, b = runs(*base), runs(*alt)
    return compare.decide_alternatives_better(("base", *a), [("alt", *b)], margin=0.01, failure_margin=0.2, **ARGS)


@pytest.mark.parametrize(
    "base, alt, outcome",
    [
        ((0.0, 30), (0.03, 30), S),  # trained 3 pp better and not failing more often (0/30 against 0/30)
        ((0.0, 5), (0.03, 5), I),  # trained better, but 5 runs cannot exclude 20 pp more failures
        ((0.0, 5), (0.03, 5, 5), C),  # every alternative run failed: excluded by the failure part alone
        ((0.0, 30), (-0.02, 30), C),  # trained runs 2 pp worse
    ],
)
def test_alternatives_better_decides_both_parts(base, alt, outcome):
    assert alternatives(base, alt).outcome is outcome


# -- compare: the primary verdict's two parts combine with AND (an intersection–union test) ------------------
def _runs(delta, n):
    return np.resize(acc(delta), n)  # n runs that trained, the TIGHT spread repeated


@pytest.mark.parametrize(
    "trained_delta,n_failure_runs,outcome",
    [(0.002, 30, S), (0.002, 5, I), (0.0095, 30, I)],
    ids=["both-supported", "failures-inconclusive", "trained-inconclusive"],
)
def test_deeper_not_better_needs_both_parts(trained_delta, n_failure_runs, outcome):
    """Supported only when the trained part and the failure part both are: either part inconclusive leaves the
    verdict inconclusive (combining them with OR would say supported)."""
    n = n_failure_runs
    groups = [("30", 3, _runs(0.0, n), 0, n), ("30-30", 4, _runs(trained_delta, n), 0, n)]
    verdict = compare.decide_deeper_not_better(groups, margin=0.01, failure_margin=0.2, **ARGS)
    trained, failures = ("supported" if ok else "inconclusive" for ok in (trained_delta < 0.005, n == 30))
    if outcome is I:  # which part left it open: the verdict says so
        said = f"(the runs that trained): {trained}; part 2 (how often runs fail to train): {failures}"
        assert said in verdict.sentence
    assert verdict.outcome is outcome


@pytest.mark.parametrize(
    "trained_delta,n_failure_runs,outcome",
    [(0.03, 30, S), (0.03, 5, I), (0.0005, 30, I)],
    ids=["both-supported", "failures-inconclusive", "trained-inconclusive"],
)
def test_alternatives_better_needs_both_parts(trained_delta, n_failure_runs, outcome):
    n = n_failure_runs
    base, alt = ("base", _runs(0.0, n), 0, n), ("alt", _runs(trained_delta, n), 0, n)
    verdict = compare.decide_alternatives_better(base, [alt], margin=0.0, failure_margin=0.2, **ARGS)
    row = verdict.numbers["comparisons"][0]  # each part's one-sided p: below α where that part holds
    assert (row["p_one_sided"] <= 0.05, row["failures"]["p_support"] <= 0.05) == (trained_delta > 0.01, n == 30)
    assert verdict.outcome is outcome
