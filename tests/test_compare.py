"""The reproduction check, `python -m mlpsweep compare`: certified trees, forgeries, and the statistical path.

A real results tree is made once by the workflow (a tiny dataset, 3 topologies × 2 seeds, exact arithmetic); each
test copies it.  Every forgery a hostile publisher could make to a finished tree — an edited table, verdict,
history, metrics, settings or arithmetic claim, a stray or deleted file — must fail the check and name the file.
"""

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import mlpsweep_cli, snakemake, write_config

from mlpsweep.certify import Run, Tree
from mlpsweep.compare import CompareError, Result, _compare_runs, _compare_topologies, run


pytestmark_slow = pytest.mark.slow  # the tests on a real tree: a workflow run, then seconds per certification


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A finished results tree (results/toy) made by the workflow."""
    from datagen import write_dataset

    work = tmp_path_factory.mktemp("published")
    definition = write_dataset(work / "upstream", n_train=300, n_test=100, seed=4)
    write_config(
        work,
        {
            "datasets": ["toy"],
            "seeds": [1, 2],
            "dataset_definitions": {"toy": definition},
            "data": {"validation_size": 50},
            "defaults": {"epochs": 2, "hidden": [6]},
            "topologies": {"30": {"hidden": [6]}, "30-30": {"hidden": [6, 6]}, "30-30-30": {"hidden": [6, 6, 6]}},
            "training": {"monitor_rows": 0},
        },
    )
    snakemake(work, "--cores", "2")
    return work / "results" / "toy"


def tree_bytes(root):
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def pair(published, tmp_path):
    ref, new = tmp_path / "ref", tmp_path / "new"
    shutil.copytree(published, ref)
    shutil.copytree(published, new)
    return ref, new


@pytestmark_slow
def test_a_copy_is_reproduced_bitwise_and_the_check_writes_nothing(pair, capsys):
    ref, new = pair
    before = tree_bytes(ref), tree_bytes(new)
    assert run(ref, new) == 0
    assert capsys.readouterr().out.startswith("REPRODUCED bitwise")
    assert (tree_bytes(ref), tree_bytes(new)) == before


def set_json(path, edit):
    doc = json.loads(path.read_text())
    edit(doc)
    path.write_text(json.dumps(doc))


def flip_prediction(path):
    a = np.load(path)
    a[0] = (a[0] + 1) % 10
    np.save(path, a)


def sed(path, old, new, count=1):
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, count))


def append_line(path, line):
    with path.open("a") as fh:
        fh.write(line + "\n")


# Forgeries in groups that touch different files, so one certification names each (a certification rebuilds the
# report: seconds).  Each entry: the edit, and the file the check must name for it.
FORGERIES = {
    "tables and pages": [
        (lambda r: sed(r / "report/runs.csv", ",ok,", ",diverged,"), "report/runs.csv"),
        (lambda r: sed(r / "report/verdicts.csv", "inconclusive", "supported"), "report/verdicts.csv"),
        (lambda r: sed(r / "report/report.md", "nconclusive", "supported"), "report/report.md"),
        (lambda r: sed(r / "report/report.html", "Inconclusive", "Supported"), "report/report.html"),
        (lambda r: sed(r / "report/comparison.csv", "30-30,", "30-30,9"), "report/comparison.csv"),
        (lambda r: (r / "report/pairwise.csv").write_text("a,b\n"), "report/pairwise.csv"),
        (lambda r: (r / "report/plots/extra.png").write_bytes(b"x"), "report/plots/extra.png"),
    ],
    "rows added": [
        (
            lambda r: append_line(r / "report/verdicts.csv", "extra,compare,primary,supported,fake"),
            "report/verdicts.csv",
        ),
        (
            lambda r: append_line(r / "report/runs.csv", (r / "report/runs.csv").read_text().splitlines()[1]),
            "report/runs.csv",
        ),
    ],
    "runs.csv stuck": [
        (lambda r: sed(r / "report/runs.csv", ",True,False,toy", ",False,False,toy"), "report/runs.csv")
    ],
    "run files": [
        (lambda r: sed(r / "models/30/seed1/history.csv", "\n2,", "\n2,9"), "report/plots/training_cost.png"),
        (
            lambda r: set_json(r / "eval/30/seed2/metrics.json", lambda d: d["test"].update(accuracy=0.99)),
            "eval/30/seed2/metrics.json",
        ),
        (
            lambda r: set_json(r / "models/30-30/seed1/model.json", lambda d: d["settings"].update(eta=0.5)),
            "models/30-30/seed1/model.json",
        ),
        (
            lambda r: set_json(r / "models/30-30/seed2/model.json", lambda d: d["arithmetic"].update(mode="native")),
            "eval/30-30/seed2/metrics.json",
        ),
        (
            lambda r: set_json(
                r / "models/30-30-30/seed1/model.json", lambda d: d["arithmetic"].update(blas_threads=4)
            ),
            "eval/30-30-30/seed1/metrics.json",
        ),
        (lambda r: flip_prediction(r / "eval/30-30-30/seed2/predictions.npy"), "eval/30-30-30/seed2/predictions.npy"),
        (lambda r: (r / "models/30/seed1/extra.npz").write_bytes(b"x"), "models/30/seed1/extra.npz"),
        (lambda r: (r / "data/extra.npy").write_bytes(b"x"), "data/extra.npy"),
        (lambda r: (r / "notes.txt").write_bytes(b"x"), "notes.txt"),
    ],
    "files deleted": [
        (
            lambda r: [(r / p).unlink() for p in ("models/30/seed1/model.npz", "eval/30/seed1/predictions.npy")],
            "models/30/seed1/model.npz",
        ),
        (lambda r: (r / "report/build.json").unlink(), "report/build.json"),
    ],
    "a run left out of inputs.json": [
        (lambda r: set_json(r / "report/inputs.json", lambda d: d.update(runs=d["runs"][1:])), "models/30/seed1/"),
    ],
    "models/ and eval/ deleted": [
        (lambda r: [shutil.rmtree(r / f) for f in ("models", "eval")], "models/30/seed1/model.npz"),
    ],
}


@pytestmark_slow
@pytest.mark.parametrize("group", FORGERIES)
def test_a_forged_tree_is_not_certified_and_each_file_is_named(published, tmp_path, group):
    from mlpsweep.certify import certify

    ref = tmp_path / "ref"
    shutil.copytree(published, ref)  # certified as it is: test_a_copy_is_reproduced_bitwise…
    for edit, _ in FORGERIES[group]:
        edit(ref)
    before = tree_bytes(ref)
    problems = "\n".join(certify(ref).problems)
    for _, named in FORGERIES[group]:
        assert str(ref / named) in problems, (named, problems)
    assert tree_bytes(ref) == before  # the check reads; it never repairs or rewrites


@pytestmark_slow
def test_a_forged_reference_fails_the_comparison(pair, capsys):
    ref, new = pair
    sed(ref / "report/verdicts.csv", "inconclusive", "supported")
    assert run(ref, new) == 1
    assert capsys.readouterr().out.startswith("NOT REPRODUCED: reference: ")


@pytestmark_slow
def test_a_forged_result_tree_is_caught_too(pair, capsys):
    ref, new = pair
    sed(new / "report/verdicts.csv", "inconclusive", "supported")
    assert run(ref, new) == 1
    assert "results: " in capsys.readouterr().out


@pytestmark_slow
def test_a_tree_without_data_is_certified_with_another_trees_arrays(pair):
    from mlpsweep.certify import certify

    ref, new = pair
    shutil.rmtree(ref / "data")
    assert certify(ref, data_dir=new / "data").certified
    flip = new / "data/labels.npy"  # arrays that are not their manifest's are named
    data = bytearray(flip.read_bytes())
    data[-1] ^= 1
    flip.write_bytes(bytes(data))
    problems = certify(ref, data_dir=new / "data").problems
    assert len(problems) == 1 and "labels.npy does not match the sha256" in problems[0]


def test_out_pages_are_written_and_nothing_else_is_overwritten(tmp_path):
    from mlpsweep.compare import check_out, summary, write_pages

    res = Result(bitwise=True, reproduced=True)
    check_out(tmp_path / "pages")
    write_pages(res, summary(res, "a", "b"), tmp_path / "pages")
    assert "Reproduction check" in (tmp_path / "pages/compare.md").read_text()
    check_out(tmp_path / "pages")  # its own pages may be written again
    (tmp_path / "file").write_text("mine")
    with pytest.raises(CompareError, match="is a file"):
        run(tmp_path, tmp_path, out=tmp_path / "file")
    (tmp_path / "other").mkdir()
    (tmp_path / "other/compare.md").write_text("my notes")
    with pytest.raises(CompareError, match="is not a page this command wrote"):
        run(tmp_path, tmp_path, out=tmp_path / "other")
    assert (tmp_path / "file").read_text() == "mine" and (tmp_path / "other/compare.md").read_text() == "my notes"


def test_a_folder_that_is_no_tree_and_bad_numbers_are_one_line(tmp_path):
    for args in (
        [str(tmp_path), str(tmp_path)],
        [str(tmp_path), str(tmp_path), "--margin-pp", "1e9"],
        [str(tmp_path), str(tmp_path), "--alpha", "nan"],
    ):
        proc = mlpsweep_cli("-q", "compare", *args, timeout=60)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode in (1, 2) and lines[-1].startswith("mlpsweep compare: error: "), proc.stderr
    assert "no results tree here" in mlpsweep_cli("-q", "compare", tmp_path, tmp_path, timeout=60).stderr


# ---- comparing two certified trees: which differences are explained ---------------------------------------------


def fake_tree(mode, accuracies, *, salt="", predictions_salt=None, history="h"):
    tree = Tree(root=None, report=None, inputs={})
    rows = []
    for topology, values in accuracies.items():
        for seed, acc in enumerate(values, 1):
            r = Run(topology, seed, None, None, mode=mode, history=history)
            r.model_sha256 = f"m{topology}{seed}{salt}"
            r.predictions_sha256 = f"p{topology}{seed}{salt if predictions_salt is None else predictions_salt}"
            tree.runs[(topology, seed)] = r
            rows.append({"topology": topology, "seed": seed, "test_accuracy": acc})
    tree.table = pd.DataFrame(rows)
    return tree


ACC = {"a": [0.80, 0.82, 0.81, 0.79, 0.80], "b": [0.85, 0.86, 0.84, 0.85, 0.86]}


def decide(ref, new):
    res = Result(bitwise=True, reproduced=True)
    native = ref.modes == new.modes == {"native"}
    _compare_runs(ref, new, res, native)
    _compare_topologies(ref, new, res, native, margin=0.01, alpha=0.05, min_seeds=2)
    return res


def test_two_native_trees_may_differ_in_bytes_within_the_margin():
    res = decide(fake_tree("native", ACC), fake_tree("native", ACC, salt="x"))
    assert not res.problems and not res.bitwise
    shifted = {k: [v + 0.03 for v in vals] for k, vals in ACC.items()}
    res = decide(fake_tree("native", ACC), fake_tree("native", shifted, salt="x"))
    assert any("is not shown equivalent" in p for p in res.problems)


@pytest.mark.parametrize("modes", [("exact", "exact"), ("exact", "native"), ("native", "exact")])
def test_a_tree_that_claims_exact_has_no_rounding_to_explain_other_bytes(modes):
    res = decide(fake_tree(modes[0], ACC), fake_tree(modes[1], ACC, salt="x"))
    assert any("have other bytes" in p for p in res.problems)


def test_other_predictions_of_the_same_model_are_a_difference():
    """Both fingerprints count: the same model with other predictions is not an identical run."""
    res = decide(fake_tree("exact", ACC), fake_tree("exact", ACC, predictions_salt="x"))
    assert not res.bitwise and any("have other bytes" in p for p in res.problems)


def test_the_same_files_with_another_history_are_named():
    res = decide(fake_tree("exact", ACC), fake_tree("exact", ACC, history="edited"))
    assert any("the same model and predictions but another history" in p for p in res.problems)
