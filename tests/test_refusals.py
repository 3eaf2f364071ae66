"""Nothing lost to a bad input (#29): what a job would refuse is refused before anything runs or is deleted.

The train command refuses in one line before it writes anything; the workflow refuses when the Snakefile is
read, before Snakemake removes a single output, so a finished results tree keeps every byte.
"""

import hashlib
import json

import pytest
from datagen import preprocessed, write_dataset
from workflow_helpers import snakemake, write_config

from mlpsweep import cli


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return preprocessed(tmp_path_factory.mktemp("data"), 120, 40, 40)


GOOD = {"hidden": [4], "epochs": 1}


def train(capsys, data_dir, *args):
    code = cli.main(["-q", "train", "--data", str(data_dir), *args])
    return code, capsys.readouterr().err.strip().splitlines()


def one_run(out, settings=GOOD, seed=1):
    return ["--settings", json.dumps(settings), "--seed", str(seed), "--out-dir", str(out)]


@pytest.mark.parametrize(
    "settings, says",
    [
        (
            {**GOOD, "epochs": 2.0},
            "settings key epochs: 2.0 is not of type 'integer' (write 2, without a decimal point)",
        ),
        (
            {**GOOD, "batch_size": 10.0},
            "settings key batch_size: 10.0 is not of type 'integer' (write 10, without a decimal point)",
        ),
        (
            {**GOOD, "hidden": [8.0]},
            "settings key hidden[0]: 8.0 is not of type 'integer' (write 8, without a decimal point)",
        ),
    ],
)
def test_the_train_command_refuses_integral_floats_in_one_line(capsys, data_dir, tmp_path, settings, says):
    code, lines = train(capsys, data_dir, *one_run(tmp_path / "m", settings))
    assert code == 1 and lines == [f"mlpsweep train: error: {says}"]
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("threads", ["0", "-2", "1.5"])
def test_the_train_command_refuses_fewer_than_one_thread(capsys, data_dir, tmp_path, threads):
    with pytest.raises(SystemExit) as info:
        cli.main(["-q", "train", "--data", str(data_dir), "--threads", threads, *one_run(tmp_path / "m")])
    assert info.value.code == 2
    assert "argument --threads" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_two_runs_with_one_out_dir_are_refused(capsys, data_dir, tmp_path):
    runs = [
        {"name": "a", "seed": 1, "settings": GOOD, "out_dir": str(tmp_path / "same")},
        {"name": "b", "seed": 2, "settings": GOOD, "out_dir": str(tmp_path / "x" / ".." / "same")},
    ]
    code, lines = train(capsys, data_dir, "--runs", json.dumps(runs))
    assert code == 1 and len(lines) == 1
    assert "--runs[1] writes into the same out_dir as --runs[0]" in lines[0]
    assert not (tmp_path / "same").exists()


def test_a_batch_beyond_the_rows_is_estimated_and_logged_as_trained(capsys, data_dir, tmp_path, caplog):
    """Training caps K at the training rows; the memory check and the log use the K it trains with."""
    import logging

    caplog.set_level(logging.INFO, logger="mlpsweep.train")
    code = cli.main(
        [
            "train",
            "--data",
            str(data_dir),
            "--max-mem-mb",
            "500",
            *one_run(tmp_path / "m", {**GOOD, "batch_size": 10_000_000}),
        ]
    )
    assert code == 0
    assert "K 80," in caplog.text  # 120 rows less 40 for validation
    assert (tmp_path / "m" / "model.json").exists()


# ---- the workflow: refused at planning, a finished tree untouched -------------------------------------------------


def tree(root):
    """sha256 and mtime of every file under the three output folders."""
    out = {}
    for folder in ("results", "resources", "logs"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                out[str(path.relative_to(root))] = (
                    hashlib.sha256(path.read_bytes()).hexdigest(),
                    path.stat().st_mtime_ns,
                )
    return out


#: One case of each kind of refusal (tests/test_config.py and tests/test_estimate.py hold the rest, unit by unit).
REFUSED = [
    ("defaults={epochs: 2.0}", "config key defaults.epochs: '2.0' is not of type 'integer' (write 2"),
    (
        "data={validation_size: 1000000}",
        "config key data.validation_size: 1,000,000 leaves no training rows of tiny's 300",
    ),
    (
        "topologies={" + "t" * 80 + ": {hidden: [8]}}|study_definitions={small: {topologies: [" + "t" * 80 + "]}}",
        "ends in 't' repeated 20 times or more",
    ),
    ("defaults={epochs: 1000000000000}", "minutes allowed (resources.max_runtime)"),
]


#: Config-file edits that passed planning and then deleted the finished report, or ran a module (#38); one of
#: each class here (tests/test_hostile.py has every key, at planning).
FILE_REFUSED = [
    ("verdicts: {alpha: .nan}", "config key verdicts.alpha: nan is not a finite number"),
    (
        "study_definitions: {small: {topologies: [a, b], failure_margin_pp: .nan}}",
        "config key study_definitions.small.failure_margin_pp: nan is not a finite number",
    ),
    ("seeds: ['1', '2']", "is not of type 'integer' (write 2, without quotes)"),
    ("defaults: {hidden: " + "[" * 5000 + "]" * 5000 + "}", "nested more than 32 levels deep"),
    (
        "study_definitions: {small: {topologies: [a, b], kind: this}}",
        "unknown study kind 'this': the built-in ones are",
    ),
]


@pytest.mark.slow
def test_a_refused_config_leaves_every_byte_of_a_finished_tree(tmp_path):
    definition = write_dataset(tmp_path / "upstream", n_train=300, n_test=100, seed=3)
    config = {
        "datasets": ["tiny"],
        "seeds": [1, 2],
        "studies": ["small"],
        "study_definitions": {"small": {"topologies": ["a", "b"]}},
        "defaults": {"epochs": 2},
        "topologies": {"a": {"hidden": [8]}, "b": {"hidden": [8, 6]}},
        "data": {"validation_size": 50},
        "dataset_definitions": {"tiny": {**definition, "sources": [str(tmp_path / "upstream")]}},
    }
    work = tmp_path / "work"
    write_config(work, config)
    snakemake(work, "--cores", "2")
    before = tree(work)
    assert any(k.endswith("model.npz") for k in before) and any(k.endswith("images.npy") for k in before)
    for overrides, says in REFUSED:
        proc = snakemake(work, "--cores", "2", "--config", *overrides.split("|"), check=False)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0, overrides
        (line,) = [ln for ln in text.splitlines() if ln.startswith("mlpsweep: ")]
        assert says in line, (overrides, line)
        assert "Traceback" not in text
        assert tree(work) == before, f"{overrides} changed the finished tree"
    config_file = work / "config/config.yaml"
    shipped = config_file.read_text()
    for extra, says in FILE_REFUSED:  # a config file says what --config cannot: YAML's .nan, quoted numbers, depth
        config_file.write_text(shipped + extra + "\n")
        proc = snakemake(work, "--cores", "2", check=False)
        text = proc.stdout + proc.stderr
        (line,) = [ln for ln in text.splitlines() if ln.startswith("mlpsweep: ")]
        assert proc.returncode != 0 and says in line, (extra[:80], line)
        assert "Beautiful is better than ugly" not in text
        assert tree(work) == before, f"{extra[:80]} changed the finished tree"
    config_file.write_text(shipped)
    again = snakemake(work, "--cores", "2", "--dry-run")
    assert "Nothing to be done" in again.stdout + again.stderr
