"""Sequential seeds: the group-sequential boundaries, their error rates by simulation, and the look job."""

import json
import math
from statistics import NormalDist

import numpy as np
import pytest

from mlpsweep import operating as op
from mlpsweep.sequential import Design, boundaries, seed_sequence, spent, t_levels
from mlpsweep.studies import kind
from mlpsweep.studies.base import STAGE_JOB

Z = NormalDist()


def test_spending_functions_spend_alpha_by_the_end():
    for rule in ("obrien_fleming", "pocock"):
        assert spent(1.0, 0.05, rule) == pytest.approx(0.05, rel=1e-12)
        assert spent(0.2, 0.05, rule) < spent(0.6, 0.05, rule) < 0.05
    assert spent(0.2, 0.05, "obrien_fleming") < 1e-3 < spent(0.2, 0.05, "pocock")  # little early vs evenly
    with pytest.raises(ValueError, match="unknown spending rule"):
        spent(0.5, 0.05, "haybittle")


def test_one_look_is_the_fixed_design():
    (c,) = boundaries((1.0,), 0.05, "obrien_fleming")
    assert c == pytest.approx(Z.inv_cdf(0.95), abs=1e-9)
    assert Design(5, 5, 5, trim=0.0).levels == [pytest.approx(0.05, abs=1e-9)]  # Welch's: α itself


@pytest.mark.parametrize("n", [5, 12, 30])
def test_a_fixed_designs_level_makes_yuens_one_sample_statistic_cross_with_probability_alpha(n):
    """The fixed design's level for the trimmed statistic, checked by an independent simulation (another seed,
    scipy's trimmed mean and winsorised variance): the one-sample statistic — the limit of an unbounded ratio
    of spreads — crosses the level's t boundary in α of 400,000 samples (4 MC SEs); Student's t at α itself
    would not hold it at 5 seeds."""
    from scipy import stats

    (level,) = Design.fixed(n).levels
    h = n - 2 * math.floor(0.25 * n)
    x = np.random.default_rng(404).standard_normal((400_000, n))
    winsorised = stats.mstats.winsorize(x, limits=(0.25, 0.25), axis=1).data
    se = np.sqrt(winsorised.var(axis=1, ddof=1) * (n - 1) / (h * (h - 1)))
    t = stats.trim_mean(x, 0.25, axis=1) / se
    tail = 4 * math.sqrt(0.05 * 0.95 / len(t))
    assert abs(np.mean(t >= stats.t.isf(level, h - 1)) - 0.05) <= tail
    if n == 5:
        assert level < 0.045 and np.mean(t >= stats.t.isf(0.05, h - 1)) > 0.05 + tail


@pytest.mark.parametrize("rule", ["obrien_fleming", "pocock"])
def test_boundaries_spend_what_the_function_says_on_simulated_brownian_paths(rule):
    """An independent check of the numerical integration: 400,000 Brownian paths observed at the looks cross
    each boundary first as often as the spending function's increments say (4 Monte-Carlo SEs)."""
    t = np.array([5, 10, 15, 20, 25, 30]) / 30
    c = np.array(boundaries(tuple(t), 0.05, rule))
    rng = np.random.default_rng(20261201)
    paths = np.cumsum(rng.standard_normal((400_000, len(t))) * np.sqrt(np.diff(t, prepend=0.0)), axis=1)
    crossed = paths / np.sqrt(t) >= c
    first = np.where(crossed.any(axis=1), crossed.argmax(axis=1), -1)
    increments = np.diff([0.0] + [spent(x, 0.05, rule) for x in t])
    for k, want in enumerate(increments):
        got = np.mean(first == k)
        assert abs(got - want) <= 4 * math.sqrt(want * (1 - want) / len(paths)) + 1e-5, (k, got, want)


def test_looks_and_seeds():
    assert Design(5, 5, 30).sizes == [5, 10, 15, 20, 25, 30]
    assert Design(5, 5, 12).sizes == [5, 10, 12]
    assert Design(4, 10, 4).sizes == [4]
    assert seed_sequence([1, 2, 3, 4, 5], 8) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert seed_sequence([10, 3], 4) == [10, 3, 11, 12] and seed_sequence([1, 2, 3], 2) == [1, 2]
    text = Design(5, 5, 30).describe()
    assert "looks at 5, 10, 15, 20, 25, 30 seeds" in text and "O'Brien–Fleming" in text


@pytest.mark.parametrize("rule", ["obrien_fleming", "pocock"])
def test_the_z_boundaries_spend_alpha_by_scipys_multivariate_normal(rule):
    """An independent computation of the joint normal probabilities (SciPy's Genz integration): the chance of
    crossing by each look is the spending function's, to 10⁻⁶ — the grid the boundaries came from left
    Pocock's up to 0.0019 low before they were integrated with Simpson's rule to the boundary."""
    from scipy import stats

    t = np.array([5, 10, 15, 20, 25, 30]) / 30
    c = np.array(boundaries(tuple(t), 0.05, rule))
    cov = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
    for k in range(1, len(t) + 1):
        mvn = stats.multivariate_normal(np.zeros(k), cov[:k, :k], abseps=1e-8, releps=1e-8, maxpts=10**6, seed=1)
        assert 1 - mvn.cdf(c[:k]) == pytest.approx(spent(t[k - 1], 0.05, rule), abs=1e-6), k


def test_the_t_levels_are_exact_at_the_first_look_and_below_the_z_levels_after_it():
    """The first look's level is the spending function's first increment exactly (Student's t needs no
    calibration there); later looks test at smaller nominal levels than the normal theory's, because
    Student's t statistics of a growing sample are less correlated from look to look than z statistics."""
    design = Design(5, 5, 30, 0.05, "pocock", trim=0.0)
    levels, z = design.levels, design.z_levels
    assert levels[0] == pytest.approx(spent(5 / 30, 0.05, "pocock"), rel=1e-9) == pytest.approx(z[0], rel=1e-9)
    assert all(p < q for p, q in zip(levels[1:], z[1:]))
    assert t_levels((5, 10), 0.05, "pocock") == t_levels((5, 10), 0.05, "pocock")[:2]  # cached and fixed-seed


def test_yuens_first_look_spends_the_first_increment_by_an_independent_simulation():
    """The trimmed statistic's first look is calibrated by simulation: at 5 seeds its one-sample statistic
    crosses the look's t boundary as often as Pocock's first increment says (400,000 fresh samples, 4 MC
    SEs), and its level is below Welch's (the trimmed statistic's tail is heavier than t on h − 1 = 2 df)."""
    from scipy import stats

    level = Design(5, 5, 30, 0.05, "pocock").levels[0]
    want = spent(5 / 30, 0.05, "pocock")
    x = np.sort(np.random.default_rng(505).standard_normal((400_000, 5)), axis=1)
    w = np.concatenate([x[:, 1:2], x[:, 1:4], x[:, 3:4]], axis=1)  # winsorised: g = 1
    t = x[:, 1:4].mean(axis=1) / np.sqrt(w.var(axis=1, ddof=1) * 4 / 6)
    got = np.mean(t >= stats.t.isf(level, 2))
    assert abs(got - want) <= 4 * math.sqrt(want * (1 - want) / len(t))
    assert level < Design(5, 5, 30, 0.05, "pocock", trim=0.0).levels[0]


STUDIES = 20_000
BOUND = 0.05 + 3 * math.sqrt(0.05 * 0.95 / STUDIES)


@pytest.mark.parametrize("rule", ["obrien_fleming", "pocock"])
@pytest.mark.parametrize("ratio", [1, 25])
def test_type_one_error_at_the_margin_stays_at_alpha_across_looks_for_any_spread_ratio(rule, ratio):
    """20,000 synthetic studies whose true difference is exactly the margin, the deeper net's spread 1× or 25×
    the shallow one's: at most α of them may end supported (or contradicted), up to 3 Monte-Carlo standard
    errors; every look at α without the design's levels would not hold it (for contrast, it exceeds it)."""
    design = Design(5, 5, 30, 0.05, rule)
    truth = op.Scenario(diff=0.01, sd_a=0.005, sd_b=0.005 * ratio)
    oc = op.simulate(design, truth, studies=STUDIES, rng=np.random.default_rng(1), rule="trained")
    assert oc.supported <= BOUND and oc.contradicted <= BOUND, oc
    peeking = op.simulate(
        Design(5, 5, 30, 0.05, rule),
        truth,
        studies=STUDIES,
        rng=np.random.default_rng(1),
        rule="trained",
        levels=[0.05] * design.looks,
    )
    assert peeking.supported > BOUND  # every look at α: the error grows with the looks


def test_the_sequential_design_has_about_the_fixed_designs_power_for_fewer_seeds():
    """Deeper nets truly equal (difference 0, margin 1 pp, per-seed spread 1.5 pp): a fixed design of 30 seeds
    has about 73 % power (Welch's test of the means had 81 %: trimming a quarter of each end costs normal
    runs that); O'Brien–Fleming looks at 5, 10, …, 30 (with their conservative degrees of freedom) lose about
    6 points of it (at most 8 here) and use a sixth fewer seeds on average."""
    truth = op.Scenario(diff=0.0, sd_a=0.015, sd_b=0.015)
    kw = dict(studies=STUDIES, rule="trained")
    seq = op.simulate(Design(5, 5, 30, 0.05, "obrien_fleming"), truth, rng=np.random.default_rng(2), **kw)
    fixed = op.simulate(Design.fixed(30), truth, rng=np.random.default_rng(2), **kw)
    welch = op.simulate(Design.fixed(30), truth, rng=np.random.default_rng(2), trim=0.0, **kw)
    assert fixed.mean_seeds == 30 and 0.69 < fixed.supported < 0.77 < welch.supported < 0.85
    assert seq.supported >= fixed.supported - 0.08
    assert seq.mean_seeds <= 0.87 * fixed.mean_seeds


def write_metrics(folder, accs: dict, counted: bool = False) -> list[str]:
    paths = []
    for topo, values in accs.items():
        depth = 3 if topo == "30" else 4
        for seed, acc in enumerate(values, start=1):
            m = {
                "topology": topo,
                "seed": seed,
                "status": "ok",
                "sizes": [784] + [30] * (depth - 2) + [10],
                "n_params": 1,
                "test": {"accuracy": acc, "cost": 0.1},
                "best_validation_epoch": {"epoch": 1, "test_accuracy": acc},
                "training_seconds": {"total": 1.0},
            }
            if counted:  # per-class predictions on validation: every class predicted (no run stuck)
                m["validation"] = {"images_per_class": [100] * 10, "predicted_per_class": [100] * 10}
            path = folder / f"{topo}-{seed}.json"
            path.write_text(json.dumps(m))
            paths.append(str(path))
    return paths


STUDY = {
    "name": "depth",
    "kind": "compare",
    "expect": "deeper_not_better",
    "margin_pp": 1.0,
    "topologies": ["30", "30-30"],
    "alpha": 0.05,
    "power": 0.8,
    "min_seeds": 2,
    "stuck_below": 0.0,  # the metrics below carry no per-class counts: the failure part is tested elsewhere
    "failure_margin_pp": 10.0,
    "replication": {"start": 5, "step": 5, "max": 10, "spending": "pocock", "seeds": list(range(1, 11))},
}


@pytest.mark.parametrize(
    "look,accs,stop,outcome",
    [
        (1, {"30": [0.85, 0.851, 0.849, 0.85, 0.852], "30-30": [0.85, 0.849, 0.851, 0.85, 0.848]}, True, "supported"),
        (1, {"30": [0.85, 0.80, 0.87, 0.85, 0.76], "30-30": [0.86, 0.85, 0.80, 0.84, 0.88]}, False, "inconclusive"),
    ],
)
def test_a_look_stops_when_decided_and_goes_on_when_not(tmp_path, look, accs, stop, outcome):
    out = tmp_path / "look1.json"
    kind("compare").run_job(
        STAGE_JOB,
        {"study": STUDY, "look": look, "metrics": write_metrics(tmp_path, accs), "previous": None},
        [str(out)],
    )
    doc = json.loads(out.read_text())
    assert (doc["stop"], doc["looks"][-1]["outcome"]) == (stop, outcome)
    assert doc["seeds"] == [1, 2, 3, 4, 5] and doc["level"] == Design(5, 5, 10, 0.05, "pocock").levels[0]


def test_the_last_look_stops_whatever_the_verdict(tmp_path):
    first = tmp_path / "look1.json"
    first.write_text(
        json.dumps(
            {"looks": [{"look": 1, "seeds_per_topology": 5, "level": 0.03, "outcome": "inconclusive", "sentence": "…"}]}
        )
    )
    noisy = {"30": [0.85, 0.80, 0.87, 0.85, 0.76] * 2, "30-30": [0.86, 0.85, 0.80, 0.84, 0.88] * 2}
    out = tmp_path / "look2.json"
    kind("compare").run_job(
        STAGE_JOB,
        {"study": STUDY, "look": 2, "metrics": write_metrics(tmp_path, noisy), "previous": str(first)},
        [str(out)],
    )
    doc = json.loads(out.read_text())
    assert doc["stop"] and doc["looks"][-1]["outcome"] == "inconclusive" and len(doc["looks"]) == 2
    assert doc["seeds"] == list(range(1, 11)) and doc["runs"] == 20


def test_a_look_with_the_failure_part_does_not_stop_on_five_seeds_whatever_their_accuracy(tmp_path):
    """With failures looked for, five seeds without a failure cannot exclude that the deeper net fails 20 pp less
    often — least of all at a sequential look's small level — so the study goes on to its next look."""
    tight = {"30": [0.85, 0.851, 0.849, 0.85, 0.852], "30-30": [0.85, 0.849, 0.851, 0.85, 0.848]}
    out = tmp_path / "look1.json"
    study = {**STUDY, "stuck_below": 0.1, "failure_margin_pp": 20.0}
    kind("compare").run_job(
        STAGE_JOB,
        {"study": study, "look": 1, "metrics": write_metrics(tmp_path, tight, counted=True), "previous": None},
        [str(out)],
    )
    doc = json.loads(out.read_text())
    assert not doc["stop"] and doc["looks"][-1]["outcome"] == "inconclusive"
    assert "failed to train 0/5 against 0/5" in doc["looks"][-1]["sentence"]
