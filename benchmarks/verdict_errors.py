"""Simulated error rates of the compare study's verdicts, for every design × scenario.

    python benchmarks/verdict_errors.py [--studies 100000] [--out benchmarks/verdict_errors.md]

Each cell simulates ``--studies`` whole studies (:mod:`mlpsweep.operating`: seeds drawn, looks taken, the
report's decision rule applied) with a fixed seed, and gives the share that end *supported* and
*contradicted* where that verdict is wrong, with its Monte-Carlo standard error, against α + 3 MC SE.

Designs: a fixed 5 and a fixed 30 seeds per topology, and sequential looks at 5, 10, …, 30 with
O'Brien–Fleming- and Pocock-type alpha spending.  Scenarios, in accuracy points (pp):

(a) normal per-seed accuracies with equal spreads 0.5, 1 and 2 pp;
(b) unequal spreads, the deeper (alternative) topology's 2–25 times the other's 0.5 pp, and the other way round;
(c) runs that fail to train: each seed of A, of B or of both fails with rate 1/30, 1/10 or 1/5 and then
    loses 10 or 60 pp (trained spreads 0.5 pp);
(d) the failure part at its own margin (the rates 20 pp apart, the trained runs 2 pp inside the claim);
(e) runs that fail partly: one run in 30, 10 % or 20 % of A's or of B's trained runs 1, 3, 5 or 8 pp low (still
    counted as trained; spreads 1 pp);
(f) one-sided skew: A's or B's trained runs left-skewed — the mirror image of a gamma of shape 1 or 4 or of a
    log-normal, spread 1 pp.

In (a)–(c), (e) and (f) the trained runs' true difference — the estimand, the difference of their 25 %
trimmed means (``mlpsweep.verdicts.TRIM``) — is the margin (1 pp), the edge of the claim's first part;
a verdict is counted as an error when it is wrong there: *supported* when the claim is false or on its edge,
*contradicted* when it is true or on its edge (where the failure rates alone make the claim false, a
contradiction is right and only *supported* is counted).  Power: the share of right verdicts with the trained
runs 1 pp inside the claim, the rest as in the scenario, beside the same studies decided by the rule before
#40 (Welch's test of the trained runs' means, at its own calibrated levels).  A last table runs the rule
this project used before #32 (Welch's test of every run's accuracy, failures included, at the normal theory's
levels) where it went wrong: the mixture means exactly at the margin.  Every table says which BLAS kernel ran
(threadpoolctl; the simulation does not use BLAS products, so any kernel gives the same numbers).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

TREE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TREE / "src"))

from mlpsweep import operating as op  # noqa: E402
from mlpsweep.sequential import Design  # noqa: E402

CLAIMS = op.CLAIMS

ALPHA, MARGIN, FAILURE_MARGIN = 0.05, 0.01, 0.20
DESIGNS = {
    "fixed 5": Design.fixed(5),
    "fixed 30": Design.fixed(30),
    "O'Brien–Fleming 5…30": Design(5, 5, 30, ALPHA, "obrien_fleming"),
    "Pocock 5…30": Design(5, 5, 30, ALPHA, "pocock"),
}


def scenarios() -> list[tuple[str, str, dict]]:
    """(group, label, Scenario fields but ``diff``) for every scenario of the module's docstring."""
    out = [("a", f"equal spreads {sd:g} pp", dict(sd_a=sd / 100, sd_b=sd / 100)) for sd in (0.5, 1, 2)]
    out += [("b", f"spread ratio {r} (B noisier)", dict(sd_a=0.005, sd_b=0.005 * r)) for r in (2, 5, 10, 25)]
    out += [("b", "spread ratio 25 (A noisier)", dict(sd_a=0.125, sd_b=0.005))]
    for rate, label in ((1 / 30, "1/30"), (1 / 10, "1/10"), (1 / 5, "1/5")):
        for drop in (0.10, 0.60):
            for where in ("A", "B", "both"):
                f = dict(sd_a=0.005, sd_b=0.005)
                if where in ("A", "both"):
                    f.update(fail_a=rate, drop_a=drop)
                if where in ("B", "both"):
                    f.update(fail_b=rate, drop_b=drop)
                out.append(("c", f"{where} fails {label}, −{100 * drop:.0f} pp", f))
    for side in ("a", "b"):
        for share, label in ((1 / 30, "1 in 30"), (0.1, "10 %"), (0.2, "20 %")):
            for low in (0.01, 0.03, 0.05, 0.08):
                f = {"sd_a": 0.01, "sd_b": 0.01, f"low_{side}": share, f"low_drop_{side}": low}
                out.append(("e", f"{side.upper()}: {label} of runs {100 * low:.0f} pp low", f))
    for side in ("a", "b"):
        for shape, label in (("gamma1", "gamma, shape 1"), ("gamma4", "gamma, shape 4"), ("lognormal", "log-normal")):
            out.append(
                ("f", f"{side.upper()}: left skew, {label}", {"sd_a": 0.01, "sd_b": 0.01, f"shape_{side}": shape})
            )
    return out


def edge_scenario(claim: str) -> tuple[str, str, dict]:
    """(d): the failure rates exactly the failure margin apart, against the claim."""
    if claim == "deeper_not_better":  # B fails 10 pp less often than A: the edge of "not less often by ε"
        f = dict(sd_a=0.005, sd_b=0.005, fail_a=0.3, fail_b=0.1, drop_a=0.1, drop_b=0.1)
    else:  # B fails 20 pp more often: the edge of "not more often by ε"
        f = dict(sd_a=0.005, sd_b=0.005, fail_a=0.1, fail_b=0.3, drop_a=0.1, drop_b=0.1)
    return ("d", "failure rates 20 pp apart, trained 2 pp inside", f)


def truth(claim: str, fields: dict) -> tuple[bool, bool]:
    """(count false supported, count false contradicted) for a scenario: what is an error there."""
    gap = fields.get("fail_b", 0.0) - fields.get("fail_a", 0.0)
    edge = -FAILURE_MARGIN if claim == "deeper_not_better" else FAILURE_MARGIN
    failures_false = gap < edge - 1e-12 if claim == "deeper_not_better" else gap > edge + 1e-12
    return True, not failures_false


def trained_diff(claim: str, group: str, inside: float) -> float:
    """The trained runs' true difference B − A: the margin, moved ``inside`` the claim (2 pp in (d))."""
    inside = 0.02 if group == "d" else inside
    return MARGIN - inside if claim == "deeper_not_better" else MARGIN + inside


def cell(design: Design, claim: str, fields: dict, diff: float, studies: int, seed: int, **kw) -> op.Outcomes:
    return op.simulate(
        design,
        op.Scenario(diff=diff, **fields),
        studies=studies,
        rng=np.random.default_rng(seed),
        claim=claim,
        margin=MARGIN,
        failure_margin=FAILURE_MARGIN,
        **kw,
    )


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


def measure(studies: int) -> list[dict]:
    """Every cell: the primary verdict for every design × scenario, in (a) and (b) also its first part alone
    (the runs that trained, the verdict the report prints beside it), where the looks' levels matter most;
    then the rule this project used before, at its own claim's edge (the mixtures' means at the margin)."""
    cells, seed = [], 0
    for claim in CLAIMS:
        for group, label, fields in scenarios() + [edge_scenario(claim)]:
            count_sup, count_con = truth(claim, fields)
            for rule in ("primary", "trained") if group in "abef" else ("primary",):
                for name, design in DESIGNS.items():
                    seed += 1
                    at = cell(design, claim, fields, trained_diff(claim, group, 0.0), studies, seed, rule=rule)
                    inside = trained_diff(claim, group, 0.01)
                    good = cell(design, claim, fields, inside, studies, 10**5 + seed, rule=rule)
                    before = cell(design, claim, fields, inside, studies, 10**5 + seed, rule=rule, trim=0.0)
                    cells.append(
                        dict(
                            table="errors",
                            claim=claim,
                            group=group,
                            label=label,
                            rule=rule,
                            design=name,
                            supported=at.supported,
                            contradicted=at.contradicted,
                            count_sup=count_sup,
                            count_con=count_con,
                            se_sup=at.se(at.supported),
                            se_con=at.se(at.contradicted),
                            power=None if group == "d" else (good.supported if count_con else good.contradicted),
                            power_before=None
                            if group == "d"
                            else (before.supported if count_con else before.contradicted),
                            seeds=good.mean_seeds,
                        )
                    )
    for group, label, fields in scenarios():
        if group != "c":
            continue
        mixture = fields.get("fail_b", 0.0) * fields.get("drop_b", 0.0) - fields.get("fail_a", 0.0) * fields.get(
            "drop_a", 0.0
        )
        diff = MARGIN + mixture  # the trained difference that puts the mixtures' means at the margin
        for name, design in DESIGNS.items():
            seed += 1
            levels = design.z_levels if design.looks > 1 else None
            old = cell(design, "deeper_not_better", fields, diff, studies, seed, rule="all runs", levels=levels)
            new = cell(design, "deeper_not_better", fields, diff, studies, seed)
            cells.append(
                dict(
                    table="old",
                    label=label,
                    design=name,
                    supported=old.supported,
                    se_sup=old.se(old.supported),
                    new_supported=new.supported,
                )
            )
    return cells


def render(cells: list[dict], studies: int, header: str) -> str:
    bound = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / studies)
    names = list(DESIGNS)
    lines = [header, ""]
    titles = {
        "deeper_not_better": "“a deeper network is not better” (depth studies)",
        "alternatives_better": "“the alternative is better” (one alternative)",
    }
    worst = []
    for claim in CLAIMS:
        mine = [c for c in cells if c["table"] == "errors" and c["claim"] == claim]
        rows = list(dict.fromkeys((c["group"], c["label"], c["rule"]) for c in mine))
        lines += [
            f"#### {titles[claim]}: false *supported* / false *contradicted*, % ± MC SE "
            "(— where that verdict is right)",
            "",
            "| scenario | verdict | " + " | ".join(names) + " |",
            "|---|---|" + "---:|" * len(names),
        ]
        for group, label, rule in rows:
            out = []
            for name in names:
                c = next(
                    x for x in mine if (x["group"], x["label"], x["rule"], x["design"]) == (group, label, rule, name)
                )
                parts = []
                for share, se, counted in (
                    (c["supported"], c["se_sup"], c["count_sup"]),
                    (c["contradicted"], c["se_con"], c["count_con"]),
                ):
                    parts.append(f"{pct(share)} ± {pct(se)}" if counted else "—")
                    if counted:
                        worst.append((share, claim, name, f"({group}) {label}, {rule}"))
                out.append(" / ".join(parts))
            what = "primary" if rule == "primary" else "part 1"
            lines.append(f"| ({group}) {label} | {what} | " + " | ".join(out) + " |")
        lines += [
            "",
            f"#### {titles[claim]}: power, % of right verdicts with the trained runs 1 pp inside the claim "
            "(mean seeds per topology), and the same studies' under the rule before #40 (Welch's test of the "
            "trained runs' means)",
            "",
        ]
        lines += ["| scenario | verdict | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
        for group, label, rule in rows:
            if group == "d":
                continue
            cs = [
                next(x for x in mine if (x["group"], x["label"], x["rule"], x["design"]) == (group, label, rule, n))
                for n in names
            ]
            what = "primary" if rule == "primary" else "part 1"
            lines.append(
                f"| ({group}) {label} | {what} | "
                + " | ".join(f"{pct(c['power'])} ({c['seeds']:.1f}); before {pct(c['power_before'])}" for c in cs)
                + " |"
            )
        lines.append("")
    old = [c for c in cells if c["table"] == "old"]
    if old:
        lines += [
            "#### The rule this replaces (Welch on every run's accuracy, normal-theory looks), the mixtures' means "
            "at the margin: its false *supported* % ± MC SE, and the new rule's *supported* % (a right verdict "
            "there: the trained runs are inside the margin and the failure rates within 20 pp)",
            "",
            "| scenario | " + " | ".join(names) + " |",
            "|---|" + "---:|" * len(names),
        ]
        for label in dict.fromkeys(c["label"] for c in old):
            cs = [next(x for x in old if (x["label"], x["design"]) == (label, n)) for n in names]
            lines.append(
                f"| {label} | "
                + " | ".join(f"{pct(c['supported'])} ± {pct(c['se_sup'])} (new {pct(c['new_supported'])})" for c in cs)
                + " |"
            )
        lines.append("")
    top = max(worst)
    over = [w for w in worst if w[0] > bound]
    lines.append(
        f"Error cells: {len(worst)}; above α + 3 MC SE = {100 * bound:.2f} %: {len(over)}; the largest "
        f"{100 * top[0]:.2f} % ({top[1]}, {top[2]}, {top[3]})."
    )
    return "\n".join(lines) + "\n", len(over)


def environment() -> str:
    from threadpoolctl import threadpool_info

    blas = [
        f"{i.get('internal_api')} {i.get('architecture')}" for i in threadpool_info() if i.get("user_api") == "blas"
    ]
    return (
        f"NumPy {np.__version__}, Python {platform.python_version()}, {platform.machine()}, BLAS: "
        f"{', '.join(blas) or 'none loaded'}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=100_000)
    ap.add_argument("--out", type=Path, default=TREE / "benchmarks" / "verdict_errors.md")
    ap.add_argument("--render", action="store_true", help="only render the tables again from the .json beside --out")
    args = ap.parse_args(argv)
    store = args.out.with_suffix(".json")
    if args.render:
        doc = json.loads(store.read_text(encoding="utf-8"))
    else:
        started = time.time()
        for design in DESIGNS.values():
            design.levels  # calibrate once
        cells = measure(args.studies)
        doc = {
            "studies": args.studies,
            "header": (
                f"Simulated verdict errors, {args.studies:,} studies per cell (fixed seeds), α = {ALPHA}, margin "
                f"{100 * MARGIN:g} pp, failure margin {100 * FAILURE_MARGIN:g} pp. {environment()}. "
                f"{time.time() - started:.0f} s."
            ),
            "cells": cells,
        }
        store.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    text, over = render(doc["cells"], doc["studies"], doc["header"])
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
