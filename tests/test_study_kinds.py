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
    or workflow/: its runs trained three to a job give the bytes of one run per job."""
    from conftest import serve_dataset

    mirror, definition = serve_dataset(tmp_path / "upstream", n_train=300, n_test=100, seed=2)
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(RULES_DIR), os.environ.get("PYTHONPATH")) if p)}
    try:
        base = {
            "datasets": ["tiny"],
            "seeds": [1, 2, 3],
            "studies": ["opt"],
            "study_definitions": {"opt": {"topologies": ["sgd", "rms"]}},
            "defaults": {"epochs": 3, "hidden": [8]},
            "topologies": {"sgd": {}, "rms": {"eta": 0.01, "optimizer": {"name": "rmsprop", "rho": 0.8}}},
            "data": {"validation_size": 50},
            "download": {"timeout": 5, "retries": 0, "backoff": 0},
            "dataset_definitions": {"tiny": {**definition, "sources": [mirror.url + "/tiny/"]}},
        }
        for name, per_job in (("stacked", "auto"), ("alone", 1)):
            write_config(tmp_path / name, {**base, "training": {"runs_per_job": per_job}})
            snakemake(tmp_path / name, "--cores", "2", env=env)
    finally:
        mirror.close()
    counts = job_counts(planned_jobs(tmp_path / "stacked", "--forceall", env=env))
    assert counts.get("train_stack_tiny_rms_seed1_2") == 1  # the three rms runs trained as one stack
    for seed in (1, 2, 3):
        run = f"results/tiny/models/rms/seed{seed}"
        a, b = ((tmp_path / w / run / "model.npz").read_bytes() for w in ("stacked", "alone"))
        assert a == b
        meta = json.loads((tmp_path / "alone" / run / "model.json").read_text())
        assert meta["settings"]["optimizer"] == {"name": "rmsprop", "rho": 0.8, "epsilon": 1e-8}
    html = (tmp_path / "stacked/results/tiny/report/report.html").read_text()
    assert "optimizer rmsprop" in html  # the settings column names the rule
    for folder in ("src", "workflow"):
        assert not any("rmsprop" in p.read_text(errors="replace") for p in (REPO / folder).rglob("*") if p.is_file())
