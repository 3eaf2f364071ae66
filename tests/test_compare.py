"""The reproduction check, `python -m mlpsweep compare`, on report folders made for each outcome."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from mlpsweep.compare import CompareError, compare, run

HASWELL = json.dumps(
    {
        "mode": "portable",
        "blas": ["openblas 0.3.31 Haswell"],
        "numpy": "2.4.6",
        "numpy_simd": ["X86_V2"],
        "machine": "x86_64",
    },
    sort_keys=True,
)
SKYLAKEX = json.dumps(
    {
        "mode": "native",
        "blas": ["openblas 0.3.31 SkylakeX"],
        "numpy": "2.4.6",
        "numpy_simd": ["X86_V2", "X86_V3", "X86_V4"],
        "machine": "x86_64",
    },
    sort_keys=True,
)
ACC = {"a": [0.80, 0.82, 0.81, 0.79, 0.80], "b": [0.85, 0.86, 0.84, 0.85, 0.86]}


def report(folder, acc=ACC, *, salt="", arithmetic=HASWELL, verdict="inconclusive", drop=None):
    folder.mkdir(parents=True)
    rows = [
        {
            "topology": t,
            "seed": s + 1,
            "status": "ok",
            "test_accuracy": v,
            "model_sha256": f"m-{t}-{s}{salt}",
            "predictions_sha256": f"p-{t}-{s}{salt}",
            "arithmetic": arithmetic,
        }
        for t, vals in acc.items()
        for s, v in enumerate(vals)
        if (t, s + 1) != drop
    ]
    pd.DataFrame(rows).to_csv(folder / "runs.csv", index=False)
    pd.DataFrame({"topology": list(acc)}).to_csv(folder / "comparison.csv", index=False)
    pd.DataFrame([{"study": "depth", "kind": "compare", "outcome": verdict, "verdict": "…"}]).to_csv(
        folder / "verdicts.csv", index=False
    )
    return folder


def test_the_same_bytes_are_reproduced_bitwise(tmp_path, capsys):
    ref, new = report(tmp_path / "ref"), report(tmp_path / "results" / "report")
    res = compare(ref, tmp_path / "results")  # a dataset's results folder with its report/ works too
    assert res.bitwise and res.reproduced
    assert run(ref, new) == 0 and capsys.readouterr().out.startswith("REPRODUCED bitwise")


def test_other_arithmetic_within_the_margin_is_reproduced_statistically_and_says_why(tmp_path, capsys):
    ref = report(tmp_path / "ref")
    near = {t: [v + d for v, d in zip(vals, (0.001, -0.002, 0.0, 0.002, -0.001))] for t, vals in ACC.items()}
    new = report(tmp_path / "new", near, salt="x", arithmetic=SKYLAKEX)
    assert run(ref, new, out=tmp_path / "page") == 0
    out = capsys.readouterr().out
    assert out.startswith("REPRODUCED statistically") and "runs: 0 of 10 identical" in out
    assert "  10 run(s) (a seed 1, a seed 2, a seed 3 and 7 more): different bytes" in out  # one line per reason
    assert (
        "made with different arithmetic: mode portable → native, blas openblas 0.3.31 Haswell → openblas 0.3.31 "
        "SkylakeX, numpy_simd X86_V2 → X86_V2+X86_V3+X86_V4" in out
    )
    assert "equivalent: a: test accuracy, new − reference: +0.00 pp (paired by seed)" in out
    assert "REPRODUCED statistically" in (tmp_path / "page/compare.html").read_text()
    assert (tmp_path / "page/compare.md").read_text().startswith("# Reproduction check")


def test_other_bytes_with_the_same_arithmetic_point_at_a_change(tmp_path):
    res = compare(report(tmp_path / "ref"), report(tmp_path / "new", salt="x"))
    assert not res.bitwise and res.reproduced  # the same accuracies: statistically
    assert {r[3] for r in res.runs} == {
        "different bytes with the same arithmetic and versions: the settings, the data or the code changed"
    }


def test_a_shifted_accuracy_is_not_reproduced(tmp_path, capsys):
    shifted = {"a": [v - 0.03 for v in ACC["a"]], "b": ACC["b"]}
    assert run(report(tmp_path / "ref"), report(tmp_path / "new", shifted, salt="x")) == 1
    out = capsys.readouterr().out
    assert out.startswith("NOT REPRODUCED: a is not shown equivalent (contradicted)")
    assert "not equivalent: a: test accuracy, new − reference: -3.00 pp" in out


def test_a_changed_verdict_or_a_missing_run_is_not_reproduced(tmp_path):
    ref = report(tmp_path / "ref")
    res = compare(ref, report(tmp_path / "v", salt="x", verdict="supported"))
    assert not res.reproduced and res.problems == ["study depth: inconclusive in the reference, supported now"]
    res = compare(ref, report(tmp_path / "m", drop=("b", 5)))
    assert not res.reproduced and not res.bitwise and "1 run(s) of the reference are missing" in res.problems


def test_a_few_seeds_with_a_wide_spread_are_undecided_not_reproduced(tmp_path):
    wide = {"a": [0.80, 0.70]}
    res = compare(report(tmp_path / "ref", wide), report(tmp_path / "new", {"a": [0.75, 0.78]}, salt="x"))
    assert not res.reproduced and res.topologies[0][1].value == "inconclusive"


def test_a_folder_without_a_report_is_one_line(tmp_path):
    with pytest.raises(CompareError, match="no report here"):
        compare(tmp_path, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "mlpsweep", "-q", "compare", str(tmp_path), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("mlpsweep compare: error: ") and "no report here" in proc.stderr
