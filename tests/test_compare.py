"""The reproduction check, `python -m mlpsweep compare`, on report folders made for each outcome."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from mlpsweep.compare import CompareError, compare, run

HASWELL = json.dumps(
    {
        "mode": "native",
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
        "made with different arithmetic: blas openblas 0.3.31 Haswell → openblas 0.3.31 "
        "SkylakeX, numpy_simd X86_V2 → X86_V2+X86_V3+X86_V4" in out
    )
    assert "equivalent: a: test accuracy, new − reference: +0.00 pp (paired by seed)" in out
    assert "REPRODUCED statistically" in (tmp_path / "page/compare.html").read_text()
    assert (tmp_path / "page/compare.md").read_text().startswith("# Reproduction check")


def test_other_bytes_with_the_same_arithmetic_fail_and_point_at_a_change(tmp_path):
    res = compare(report(tmp_path / "ref"), report(tmp_path / "new", salt="x"))
    assert not res.bitwise and not res.reproduced  # the same accuracies do not excuse unexplained bytes
    assert {r[3] for r in res.runs} == {
        "different bytes with the same arithmetic and versions: the settings, the data or the code changed"
    }
    assert res.problems == [
        "10 run(s) (a seed 1, a seed 2, a seed 3 and 7 more) have other bytes that their recorded arithmetic "
        "does not explain (the same, or exact on both sides): the settings, the data or the code changed"
    ]
    # another C library or BLAS thread count is a cause the check can see
    other = json.dumps({**json.loads(HASWELL), "libc": "glibc 2.41", "blas_threads": 2}, sort_keys=True)
    res = compare(
        report(
            tmp_path / "ref2",
            arithmetic=json.dumps({**json.loads(HASWELL), "libc": "glibc 2.36", "blas_threads": 1}, sort_keys=True),
        ),
        report(tmp_path / "new2", salt="x", arithmetic=other),
    )
    assert res.reproduced and not res.bitwise
    assert "blas_threads 1 → 2" in res.runs[0][3] and "libc glibc 2.36 → glibc 2.41" in res.runs[0][3]


def test_exact_arithmetic_explains_no_difference_of_bytes(tmp_path):
    """Two runs made in exact arithmetic on an x86-64 and an aarch64 machine: other bytes are not the machine's."""
    x86 = json.dumps({**json.loads(HASWELL), "mode": "exact"}, sort_keys=True)
    arm = json.dumps(
        {"mode": "exact", "blas": ["openblas 0.3.31 armv8"], "numpy": "2.4.6", "numpy_simd": ["NEON", "ASIMD"]}
        | {"machine": "aarch64"},
        sort_keys=True,
    )
    same = compare(report(tmp_path / "ref", arithmetic=x86), report(tmp_path / "same", arithmetic=arm))
    assert same.bitwise and same.reproduced
    res = compare(report(tmp_path / "ref2", arithmetic=x86), report(tmp_path / "new", salt="x", arithmetic=arm))
    assert not res.reproduced
    assert {r[3] for r in res.runs} == {
        "different bytes, both made with exact arithmetic, whose bytes no machine, library or thread count "
        "changes: the settings, the data or the code changed"
    }


def test_a_shifted_accuracy_is_not_reproduced(tmp_path, capsys):
    shifted = {"a": [v - 0.03 for v in ACC["a"]], "b": ACC["b"]}
    assert run(report(tmp_path / "ref"), report(tmp_path / "new", shifted, salt="x", arithmetic=SKYLAKEX)) == 1
    out = capsys.readouterr().out
    assert out.startswith("NOT REPRODUCED: a is not shown equivalent (contradicted)")
    assert "not equivalent: a: test accuracy, new − reference: -3.00 pp" in out


def test_a_changed_verdict_or_a_missing_run_is_not_reproduced(tmp_path):
    ref = report(tmp_path / "ref")
    res = compare(ref, report(tmp_path / "v", salt="x", verdict="supported", arithmetic=SKYLAKEX))
    assert not res.reproduced and res.problems == ["study depth: inconclusive in the reference, supported now"]
    res = compare(ref, report(tmp_path / "m", drop=("b", 5)))
    assert not res.reproduced and not res.bitwise and "1 run(s) of the reference are missing" in res.problems


def test_a_few_seeds_with_a_wide_spread_are_undecided_not_reproduced(tmp_path):
    wide = {"a": [0.80, 0.70]}
    res = compare(
        report(tmp_path / "ref", wide), report(tmp_path / "new", {"a": [0.75, 0.78]}, salt="x", arithmetic=SKYLAKEX)
    )
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


# ---- a check that cannot be fooled (#31) ---------------------------------------------------------------------------


def tree(root, **kw):
    """A dataset's results folder: report/ and the run files it fingerprints (their real hashes in runs.csv)."""
    import hashlib

    folder = report(root / "report", **kw)
    runs = pd.read_csv(folder / "runs.csv")
    for i, r in runs.iterrows():
        for column, rel, body in (
            ("model_sha256", f"models/{r.topology}/seed{r.seed}/model.npz", b"model"),
            ("predictions_sha256", f"eval/{r.topology}/seed{r.seed}/predictions.npy", b"pred"),
        ):
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body + f"{r.topology}{r.seed}".encode())
            runs.at[i, column] = hashlib.sha256(path.read_bytes()).hexdigest()
    runs.to_csv(folder / "runs.csv", index=False)
    return root


def test_a_flipped_byte_in_a_run_file_is_found_by_hashing_the_file(tmp_path):
    ref, new = tree(tmp_path / "ref"), tree(tmp_path / "new")
    assert compare(ref, new).bitwise
    path = new / "eval/b/seed3/predictions.npy"
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    res = compare(ref, new)
    assert not res.reproduced and not res.bitwise
    assert f"{path}: its bytes are not those runs.csv records (changed after the report)" in res.problems


def test_identical_bytes_do_not_hide_an_edited_table_or_verdict(tmp_path):
    ref = tree(tmp_path / "ref")
    edited = tree(tmp_path / "acc")
    runs = pd.read_csv(edited / "report/runs.csv")
    runs.loc[runs["topology"] == "a", "test_accuracy"] += 0.05
    runs.to_csv(edited / "report/runs.csv", index=False)
    res = compare(ref, edited)
    assert not res.reproduced and not res.bitwise
    assert any(
        "a seed 1: the same model and predictions, byte for byte, but another test accuracy" in p for p in res.problems
    )
    res = compare(ref, tree(tmp_path / "verdict", verdict="supported"))
    assert not res.reproduced
    assert res.problems == [
        "study depth: inconclusive in the reference, supported now though every run is "
        "identical (verdicts.csv was edited, or other code built it)"
    ]


def test_verdicts_are_keyed_by_study_and_the_runs_they_rest_on(tmp_path):
    rows = [
        {"study": "depth", "kind": "compare", "on": "primary", "outcome": "inconclusive", "verdict": "…"},
        {"study": "depth", "kind": "compare", "on": "on the runs that trained", "outcome": "supported", "verdict": "…"},
    ]
    ref, new = tree(tmp_path / "ref"), tree(tmp_path / "new")
    for side in (ref, new):
        pd.DataFrame(rows).to_csv(side / "report/verdicts.csv", index=False)
    res = compare(ref, new)
    assert res.bitwise and res.reproduced
    assert [s[1:] for s in res.studies] == [
        ("primary", "inconclusive", "inconclusive"),
        ("on the runs that trained", "supported", "supported"),
    ]


def test_different_datasets_are_named_as_such(tmp_path):
    ref, new = report(tmp_path / "ref"), report(tmp_path / "new", salt="x", arithmetic=SKYLAKEX)
    for folder, name, sha in ((ref, "mnist", "a" * 64), (new, "fashion-mnist", "b" * 64)):
        runs = pd.read_csv(folder / "runs.csv")
        runs["dataset"], runs["dataset_sha256"] = name, sha
        runs.to_csv(folder / "runs.csv", index=False)
    res = compare(ref, new)
    assert not res.reproduced and res.problems[0].startswith(
        "different datasets: the reference was trained on mnist (aaaaaaaaaaaa…), the new results on fashion-mnist"
    )


@pytest.mark.parametrize("alpha", [0, 1, 2, -0.1, float("nan")])
def test_alpha_outside_zero_one_is_refused(tmp_path, alpha):
    ref = report(tmp_path / "ref")
    with pytest.raises(CompareError, match="--alpha must be a level between 0 and 1"):
        compare(ref, ref, alpha=alpha)


def test_an_unreadable_runs_csv_is_named(tmp_path):
    ref = report(tmp_path / "ref")
    new = report(tmp_path / "new")
    (new / "runs.csv").write_text("")
    with pytest.raises(CompareError, match=r"new/runs.csv: not a readable table \(EmptyDataError"):
        compare(ref, new)
