"""A new study kind is one module, its captions and the config: a toy kind of one's own through the workflow."""

import json
import os
from pathlib import Path

import pytest
from workflow_helpers import REPO, job_counts, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow

KINDS_DIR = Path(__file__).resolve().parent / "kinds"  # tests/kinds/toy_census.py and its captions/


def test_a_kind_of_ones_own_runs_its_job_and_writes_its_section(tmp_path):
    from conftest import serve_dataset

    mirror, definition = serve_dataset(tmp_path / "upstream", n_train=300, n_test=100, seed=1)
    try:
        config = {
            "datasets": ["tiny"],
            "seeds": [1],
            "studies": ["census"],
            "study_definitions": {"census": {"kind": "toy_census", "min_share": 0.02}},
            "plugins": ["toy_census"],
            "data": {"validation_size": 50},
            "download": {"timeout": 5, "retries": 0, "backoff": 0},
            "dataset_definitions": {"tiny": {**definition, "sources": [mirror.url + "/tiny/"]}},
        }
        write_config(tmp_path / "run", config)
        env = {"PYTHONPATH": os.pathsep.join(p for p in (str(KINDS_DIR), os.environ.get("PYTHONPATH")) if p)}
        # the kind's job, declared in its module, is planned by the one generic rule of study jobs
        counts = job_counts(planned_jobs(tmp_path / "run", env=env))
        assert counts["study_census_census"] == 1 and "train" not in counts
        snakemake(tmp_path / "run", "--cores", "2", env=env)
    finally:
        mirror.close()
    census = json.loads((tmp_path / "run/results/tiny/studies/census/census.json").read_text())
    assert sum(census["counts"]) == 250 and len(census["counts"]) == 10  # 300 rows less 50 for validation
    html = (tmp_path / "run/results/tiny/report/report.html").read_text()
    section = html[html.index('<h2 id="study-census">') :]
    assert "Training images per class (the toy census kind&#39;s own caption)." in section
    assert '<span class="tag supported">Supported</span>' in section and "min_share = 0.02" in section
    assert (tmp_path / "run/results/tiny/report/plots/census-counts.png").stat().st_size > 0
    # nothing of the package or the workflow knows the kind: it is only in tests/kinds and the config
    for folder in ("src", "workflow"):
        assert not any("toy_census" in p.read_text(errors="replace") for p in (REPO / folder).rglob("*") if p.is_file())


def test_an_unknown_kind_is_one_line_naming_the_key(tmp_path):
    write_config(tmp_path, {"study_definitions": {"x": {"kind": "no_such_kind"}}, "studies": ["x"]})
    proc = snakemake(tmp_path, "--cores", "1", check=False)
    assert proc.returncode != 0
    assert "config key study_definitions.x.kind: unknown study kind 'no_such_kind'" in proc.stderr + proc.stdout


RULES_DIR = Path(__file__).resolve().parent / "rules"  # tests/rules/rmsprop.py


def test_an_update_rule_of_ones_own_through_the_workflow_stacked_and_alone(tmp_path):
    """RMSProp, one module under tests/rules and ``optimizer: {name: rmsprop}`` in the config, nothing in src/
    or workflow/: its runs trained two to a job by the workflow give the bytes of each run trained alone."""
    from conftest import serve_dataset

    mirror, definition = serve_dataset(tmp_path / "upstream", n_train=300, n_test=100, seed=2)
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(RULES_DIR), os.environ.get("PYTHONPATH")) if p)}
    try:
        base = {
            "datasets": ["tiny"],
            "seeds": [1, 2],
            "studies": ["opt"],
            "study_definitions": {"opt": {"topologies": ["rms"]}},
            "defaults": {"epochs": 2, "hidden": [8]},
            "topologies": {"rms": {"eta": 0.01, "optimizer": {"name": "rmsprop", "rho": 0.8}}},
            "plugins": ["rmsprop"],
            "data": {"validation_size": 50},
            "download": {"timeout": 5, "retries": 0, "backoff": 0},
            "dataset_definitions": {"tiny": {**definition, "sources": [mirror.url + "/tiny/"]}},
        }
        write_config(tmp_path / "stacked", base)
        snakemake(tmp_path / "stacked", "--cores", "2", env=env)
    finally:
        mirror.close()
    counts = job_counts(planned_jobs(tmp_path / "stacked", "--forceall", env=env))
    assert counts.get("train_stack_tiny_rms_seed1_1") == 1  # the two rms runs trained as one stack
    import sys

    from mlpsweep import plugins
    from mlpsweep import train as train_job

    plugins.declare(["rmsprop"])
    sys.path.insert(0, str(RULES_DIR))
    try:
        for seed in (1, 2):  # each run alone, as a job of one run would train it
            run = tmp_path / f"stacked/results/tiny/models/rms/seed{seed}"
            meta = json.loads((run / "model.json").read_text())
            assert meta["settings"]["optimizer"] == {"name": "rmsprop", "rho": 0.8, "epsilon": 1e-8}
            train_job.run_one(
                tmp_path / "stacked/results/tiny/data", meta["settings"], seed, tmp_path / f"alone{seed}", name="rms"
            )
            assert (tmp_path / f"alone{seed}/model.npz").read_bytes() == (run / "model.npz").read_bytes()
    finally:
        sys.path.remove(str(RULES_DIR))
    for folder in ("src", "workflow"):
        assert not any("rmsprop" in p.read_text(errors="replace") for p in (REPO / folder).rglob("*") if p.is_file())
