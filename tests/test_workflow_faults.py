"""Faults in the whole workflow: divergence, a killed run, damaged caches."""

import base64
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from workflow_helpers import REPO, job_counts, planned_jobs, planned_trainings, snakemake, trained_runs, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from conftest import serve_dataset

    folder = tmp_path_factory.mktemp("upstream")
    mirror, definition = serve_dataset(folder, n_train=400, n_test=100, seed=3)
    yield mirror, definition, folder
    mirror.close()


def config(mirror, definition, topologies, epochs=2, seeds=(1, 2)):
    return {
        "datasets": ["tiny"],
        "seeds": list(seeds),
        "studies": ["s"],
        "study_definitions": {"s": {"topologies": list(topologies)}},
        "defaults": {"epochs": epochs},
        "topologies": topologies,
        "data": {"validation_size": 50},
        "download": {"timeout": 5, "retries": 0, "backoff": 0},
        "dataset_definitions": {"tiny": {**definition, "sources": [mirror.url + "/tiny/"]}},
    }


ACCURACY = [
    "topology",
    "sizes",
    "n_params",
    "seeds",
    "finished",
    "diverged",
    "test_accuracy_mean",
    "test_accuracy_std",
    "test_accuracy_ci_low",
    "test_accuracy_ci_high",
]


def test_a_diverging_topology_is_reported_and_the_rest_is_unchanged(tmp_path, served):
    mirror, definition, _ = served
    good = {"a": {"hidden": [8]}, "b": {"hidden": [8, 6]}}
    write_config(tmp_path / "clean", config(mirror, definition, good))
    snakemake(tmp_path / "clean", "--cores", "2")
    bad = {**good, "boom": {"hidden": [8], "output": "linear", "eta": 1e4}}
    write_config(tmp_path / "div", config(mirror, definition, bad))
    snakemake(tmp_path / "div", "--cores", "2")  # exits 0
    table = pd.read_csv(tmp_path / "div/results/tiny/report/comparison.csv").set_index("topology")
    assert table.loc["boom", "finished"] == 0 and table.loc["boom", "diverged"] == 2
    assert "epoch" in table.loc["boom", "diverged_at"]
    clean = pd.read_csv(tmp_path / "clean/results/tiny/report/comparison.csv").set_index("topology")
    pd.testing.assert_frame_equal(table.loc[["a", "b"], ACCURACY[1:]], clean.loc[["a", "b"], ACCURACY[1:]])
    html = (tmp_path / "div/results/tiny/report/report.html").read_text()
    assert "diverged at epoch" in html or "diverged (seed" in html
    metrics = json.loads((tmp_path / "div/results/tiny/eval/boom/seed1/metrics.json").read_text())
    assert metrics["status"] == "diverged" and metrics["test"] is None and "NaN" not in json.dumps(metrics)


def test_fail_on_divergence_fails_the_job(tmp_path, served):
    mirror, definition, _ = served
    cfg = config(mirror, definition, {"boom": {"hidden": [8], "output": "linear", "eta": 1e4}}, seeds=(1,))
    cfg["training"] = {"fail_on_divergence": True}
    write_config(tmp_path, cfg)
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "diverged at epoch" in (tmp_path / "logs/tiny/train/boom/seed1.log").read_text()


def _snakemake_records(work, kind):
    """The output paths Snakemake keeps a ``kind`` record of ("metadata" or "incomplete").

    Its file backend names each record by the path's URL-safe base64, cut into "@"-prefixed folder
    names when longer than a file name may be."""
    folder = work / ".snakemake" / kind
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    names = ["".join(part.lstrip("@") for part in p.relative_to(folder).parts) for p in files]
    return {base64.urlsafe_b64decode(n + "=" * (-len(n) % 4)).decode(errors="replace") for n in names}


def _cmdline(process) -> list[str]:
    import psutil

    try:
        return process.cmdline()
    except psutil.Error:  # ended meanwhile
        return []


def wait_for(state, proc, step=0.05):
    """Poll until ``state()`` is true (returning its value) or ``proc`` ends, whichever comes first: the
    outcome is decided by the state, never by a deadline (pytest's own timeout, if any, bounds the wait)."""
    while True:
        value = state()
        if value:
            return value
        assert proc.poll() is None, "the workflow ended before the state was reached"
        time.sleep(step)


def test_killed_workflow_resumes_to_the_clean_result(tmp_path, served):
    mirror, definition, _ = served
    # a's stack and b's (each topology's seeds train as one job)
    topologies = {"a": {"hidden": [64], "epochs": 8}, "b": {"hidden": [64, 32]}}
    cfg = config(mirror, definition, topologies, epochs=40)
    write_config(tmp_path / "clean", cfg)
    snakemake(tmp_path / "clean", "--cores", "2")
    work = tmp_path / "killed"
    write_config(work, cfg)
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--workflow-profile",
        str(REPO / "profiles/default"),
        "--cores",
        "2",
    ]
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    models = lambda: sorted(work.glob("results/tiny/models/*/seed*/model.json"))  # noqa: E731

    # Kill once Snakemake has recorded one topology's training job as finished (metadata written for each
    # output, then every incomplete marker removed) while the other job is mid-way (it has a checkpoint).
    # No window is left to timing: b's job is frozen (SIGSTOP) as soon as it has a checkpoint (39 of its
    # 40 epochs still to go), and stays frozen while a's job finishes and Snakemake records it.
    def recorded(topology):
        metadata, incomplete = _snakemake_records(work, "metadata"), _snakemake_records(work, "incomplete")
        return all(f"results/tiny/models/{topology}/seed{s}/model.json" in metadata for s in cfg["seeds"]) and not any(
            f"/models/{topology}/" in key for key in incomplete
        )

    def b_job():
        import psutil

        return next(
            (
                p
                for p in psutil.Process(proc.pid).children(recursive=True)
                if any("/models/b/" in part for part in _cmdline(p))
            ),
            None,
        )

    b = wait_for(lambda: list(work.glob("results/tiny/checkpoints/stacks/b.seed*/*.npz")) and b_job(), proc)
    b.send_signal(signal.SIGSTOP)
    assert not recorded("b"), "b finished before it could be frozen"
    wait_for(lambda: recorded("a"), proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    snakemake(work, "--unlock")  # a killed Snakemake leaves its lock behind
    # What Snakemake recorded as finished is not run again; the rest (incomplete or not started) is.
    again = set(trained_runs(planned_trainings(work, "--rerun-incomplete")))
    finished = {
        p: p.stat().st_mtime_ns for p in models() if (p.parent.parent.name, int(p.parent.name[4:])) not in again
    }
    assert finished and again, f"the kill should land while some jobs are done and others are not ({again})"
    snakemake(work, "--cores", "2", "--rerun-incomplete")
    for p, mtime in finished.items():
        assert p.stat().st_mtime_ns == mtime, f"{p} was trained again"
    a = pd.read_csv(work / "results/tiny/report/comparison.csv")[ACCURACY]
    b = pd.read_csv(tmp_path / "clean/results/tiny/report/comparison.csv")[ACCURACY]
    pd.testing.assert_frame_equal(a, b)
    for p in (tmp_path / "clean").glob("results/tiny/eval/*/seed*/predictions.npy"):
        q = work / p.relative_to(tmp_path / "clean")
        assert np.array_equal(np.load(p, allow_pickle=False), np.load(q, allow_pickle=False))


def _tree_state(root):
    """Every path under ``root`` (Snakemake's own folder aside) with its size and mtime."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".snakemake" not in p.parts
    }


def test_damaged_caches_are_made_again(tmp_path, served):
    mirror, definition, folder = served
    write_config(tmp_path, config(mirror, definition, {"a": {"hidden": [8]}}, seeds=(1,)))
    snakemake(tmp_path, "--cores", "2")
    model = tmp_path / "results/tiny/models/a/seed1/model.npz"
    trained = model.stat().st_mtime_ns
    name = definition["files"]["train_labels"]["name"]
    hits = mirror.hits[f"/tiny/{name}"]
    cached = tmp_path / "resources/datasets/tiny" / name
    cached.write_bytes(cached.read_bytes()[:50])  # an older run crashed mid-write
    images = tmp_path / "results/tiny/data/images.npy"
    blob = bytearray(images.read_bytes())
    blob[-3] ^= 0x40
    images.write_bytes(bytes(blob))

    # Planning reads and changes nothing, a dry run included …
    before = _tree_state(tmp_path)
    assert job_counts(planned_jobs(tmp_path)) == {"check_caches": 1, "all": 1}
    assert _tree_state(tmp_path) == before
    # … the real run repairs both caches, byte for byte, and re-trains nothing.
    proc = snakemake(tmp_path, "--cores", "2")
    assert mirror.hits[f"/tiny/{name}"] == hits + 1
    assert cached.read_bytes() == (folder / name).read_bytes()
    from mlpsweep.data.preprocess import verify

    assert verify(tmp_path / "results/tiny/data") is None
    assert "rebuilt byte for byte" in (tmp_path / "logs/tiny/check_caches.log").read_text()
    assert "rule train" not in proc.stdout + proc.stderr and model.stat().st_mtime_ns == trained
    assert job_counts(planned_jobs(tmp_path)) == {}
