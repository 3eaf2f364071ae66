"""Which test should decide a compare study's trained part when runs fail partly? An exploration for #40.

    python benchmarks/trained_part_methods.py [--studies 20000] [--seed 40]

The trained part today is Welch's statistic on min(n_A, n_B) − 1 degrees of freedom, a claim about the
difference of the runs' *means*.  Runs that fail partly (a few points low, still predicting every class, so
counted as trained) and one-sided skew put that test above α.  This script simulates the trained part alone,
for a fixed number of seeds, under the classes #40 names — a share of one side's runs (one in 30, 10 %, 20 %)
1, 3, 5 or 8 pp low, on either side; left-skewed accuracies (gamma with shape 1 and 4, a log-normal, spreads
1–1.6 pp) — and
compares candidate tests, each with its own estimand and each simulated with the truth exactly at the 1 pp
margin *of its estimand* (a population value computed from 2 million draws):

* ``welch-min``: today's rule (the difference of means; t on min(n) − 1 degrees of freedom);
* ``yuen-20``, ``yuen-25``: Yuen's test of the difference of 20 % (25 %) trimmed means
  (``scipy.stats.ttest_ind(..., trim=…)``, Welch-type degrees of freedom on the untrimmed counts).

For each it prints the false-claim rate (``deeper_not_better`` *supported* with the shallower net's runs
failing partly, *contradicted* with the deeper net's) with α + 3 Monte-Carlo standard errors, and the power
with the truth 1 pp inside the claim.  Per-seed spread 1 pp, α = 0.05, seeded.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

MARGIN, SD, ALPHA = 0.01, 0.01, 0.05
METHODS = {"welch-min": 0.0, "yuen-20": 0.2, "yuen-25": 0.25}


def partial(share: float, low: float):
    """Accuracies around 0 with ``share`` of the runs ``low`` lower (counted as trained)."""

    def draw(rng, size):
        return rng.standard_normal(size) * SD - low * (rng.random(size) < share)

    return draw


def skewed(kind: str):
    """Left-skewed accuracies: a gamma's (spread 1 pp) or a log-normal's (1.6 pp) mirror image."""

    def draw(rng, size):
        if kind == "gamma1":
            return -rng.gamma(1.0, SD, size)
        if kind == "gamma4":
            return -rng.gamma(4.0, SD / 2, size)
        return -np.exp(rng.standard_normal(size)) * SD * 0.75

    return draw


SCENARIOS = [(f"{share_name} {int(low * 100)} pp low", partial(share, low))
             for share_name, share in (("1 in 30", 1 / 30), ("10 %", 0.1), ("20 %", 0.2))
             for low in (0.01, 0.03, 0.05, 0.08)]  # fmt: skip
SCENARIOS += [("left skew: gamma, shape 1", skewed("gamma1")), ("left skew: gamma, shape 4", skewed("gamma4")),
              ("left skew: log-normal", skewed("lognormal"))]  # fmt: skip


def location(draw, trim: float, rng) -> float:
    """The population value of the estimand: the mean, or the trimmed mean."""
    big = draw(rng, 2_000_000)
    return float(stats.trim_mean(big, trim) if trim else big.mean())


def p_values(b, a, trim: float, alternative: str) -> np.ndarray:
    """Row-wise one-sided p of (B − margin) against A."""
    if trim:
        return stats.ttest_ind(b - MARGIN, a, axis=1, equal_var=False, trim=trim, alternative=alternative).pvalue
    n_a, n_b = a.shape[1], b.shape[1]
    se = np.sqrt(a.var(axis=1, ddof=1) / n_a + b.var(axis=1, ddof=1) / n_b)
    t = (b.mean(axis=1) - a.mean(axis=1) - MARGIN) / se
    df = min(n_a, n_b) - 1
    return stats.t.cdf(t, df) if alternative == "less" else stats.t.sf(t, df)


def cell(draw, side: str, n: int, trim: float, inside: float, studies: int, rng) -> float:
    """The share of studies whose trained part makes the claim: with the partly failing (or skewed) runs on
    ``side``, the estimand's difference at the margin (``inside`` = 0) or ``inside`` within the claim."""
    loc = location(draw, trim, rng)
    if side == "shallower":  # deeper_not_better *supported*: B − A < margin shown
        a = draw(rng, (studies, n))
        b = loc + MARGIN - inside + rng.standard_normal((studies, n)) * SD
        return float(np.mean(p_values(b, a, trim, "less") <= ALPHA))
    a = rng.standard_normal((studies, n)) * SD  # deeper: *contradicted*, B − A > margin shown
    b = draw(rng, (studies, n)) - loc + MARGIN + inside
    return float(np.mean(p_values(b, a, trim, "greater") <= ALPHA))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=40)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    bound = 100 * (ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / args.studies))
    t0 = time.perf_counter()
    names = list(METHODS)
    print(f"{args.studies:,} studies a cell, seed {args.seed}; α + 3 MC SE = {bound:.2f} %; per-seed spread 1 pp.\n")
    print("| runs failing partly or skewed | seeds | false claim %: " + " / ".join(names) + " | power %: "
          + " / ".join(names) + " |")  # fmt: skip
    print("|---|---:|---:|---:|")
    for side, claim in (("shallower", "supported"), ("deeper", "contradicted")):
        for label, draw in SCENARIOS:
            for n in (5, 30):
                err = [100 * cell(draw, side, n, METHODS[m], 0.0, args.studies, rng) for m in names]
                power = [100 * cell(draw, side, n, METHODS[m], 0.01, args.studies, rng) for m in names]
                flag = ["**" + f"{e:.1f}" + "**" if e > bound else f"{e:.1f}" for e in err]
                print(f"| {side} net's: {label} (false *{claim}*) | {n} | {' / '.join(flag)} | "
                      f"{' / '.join(f'{p:.0f}' for p in power)} |")  # fmt: skip
    print(f"\n{time.perf_counter() - t0:.0f} s; bold: above α + 3 MC SE.")


if __name__ == "__main__":
    main()
