"""The SLURM profile on a real (single-node) SLURM cluster: same numbers as a local run."""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from datagen import write_dataset
from workflow_helpers import REPO, snakemake, write_config

sys.path.insert(0, str(Path(__file__).parent / "cluster"))
import slurm  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    why = slurm.available()
    if why:
        pytest.skip(f"no local SLURM cluster: {why}")
    pytest.importorskip("snakemake_executor_plugin_slurm")
    # The daemons run as other users (mysql, munge): their folder must be reachable.
    root = Path(tempfile.mkdtemp(prefix="mlpsweep-slurm-"))
    root.chmod(0o755)
    try:
        with slurm.local_cluster(root) as env:
            yield env
    finally:
        shutil.rmtree(root, ignore_errors=True)


def comparable(metrics: dict) -> dict:
    """Everything a run measured, without wall-clock times."""
    return {k: v for k, v in metrics.items() if k != "training_seconds"}


def test_slurm_run_equals_local_run(tmp_path, cluster, monkeypatch):
    folder = tmp_path / "upstream"
    definition = write_dataset(folder, n_train=300, n_test=100, seed=1)
    config = {
        "datasets": ["tiny"],
        "seeds": [1, 2],
        "studies": ["s", "sw"],
        # and a sweep with successive halving: its checkpoint job re-plans on the cluster too
        "study_definitions": {
            "s": {"topologies": ["a", "b"]},
            "sw": {
                "kind": "sweep",
                "base": "a",
                "seeds": [1],
                "grid": {"eta": [1.0, 3.0]},
                "halving": {"rungs": [1, 2], "keep": 0.5},
            },
        },
        "defaults": {"epochs": 2},
        "topologies": {"a": {"hidden": [8]}, "b": {"hidden": [8, 6]}},
        "data": {"validation_size": 50},
        "dataset_definitions": {"tiny": {**definition, "sources": [str(folder)]}},
    }
    write_config(tmp_path / "local", config)
    write_config(tmp_path / "slurm", config)
    snakemake(tmp_path / "local", "--cores", "2")
    for key, value in cluster.items():
        monkeypatch.setenv(key, value)
    snakemake(
        tmp_path / "slurm",
        "--profile",
        str(REPO / "profiles" / "slurm"),
        "--slurm-init-seconds-before-status-checks",
        "2",
        timeout=400,
    )
    # The jobs really ran through SLURM: its accounting knows them (download, preprocess, check, 2 stacked train
    # jobs of 2 seeds each, 4 evaluate, the sweep's rungs and picks, reports).
    import subprocess

    acct = subprocess.run(
        ["sacct", "-n", "-X", "-P", "-o", "JobID,State"], env=cluster, capture_output=True, text=True, check=True
    ).stdout.split()
    assert sum(line.endswith("|COMPLETED") for line in acct) >= 9, acct
    for topo in ("a", "b"):  # each topology's seeds trained as one stacked job (runs_per_job: auto)
        meta = json.loads((tmp_path / f"slurm/results/tiny/models/{topo}/seed2/model.json").read_text())
        assert meta["stack"]["runs"] == [{"name": topo, "seed": 1}, {"name": topo, "seed": 2}]
    runs = sorted((tmp_path / "local/results/tiny/eval").glob("*/seed*/metrics.json"))
    assert len(runs) == 4
    rungs = sorted((tmp_path / "local/results/tiny/rungs").glob("sw/r*/eval/*/seed*/metrics.json"))
    assert len(rungs) == 2  # the point that stopped at rung 0 and the one that went on to rung 1
    assert (tmp_path / "slurm/results/tiny/studies/sw/stages/stage1.json").read_text() == (
        tmp_path / "local/results/tiny/studies/sw/stages/stage1.json"
    ).read_text()
    runs += rungs
    for local in runs:
        remote = tmp_path / "slurm" / local.relative_to(tmp_path / "local")
        assert comparable(json.loads(remote.read_text())) == comparable(json.loads(local.read_text()))
        assert (
            np.load(remote.with_name("predictions.npy")).tobytes()
            == np.load(local.with_name("predictions.npy")).tobytes()
        )
    for local in sorted((tmp_path / "local/results/tiny/models").glob("*/seed*/model.npz")) + sorted(
        (tmp_path / "local/results/tiny/rungs").glob("sw/r*/*/seed*/model.npz")
    ):
        remote = tmp_path / "slurm" / local.relative_to(tmp_path / "local")
        with np.load(local, allow_pickle=False) as a, np.load(remote, allow_pickle=False) as b:
            assert a["params"].tobytes() == b["params"].tobytes()
