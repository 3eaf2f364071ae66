"""A careful but hostile user (#38): every bad input refused in one line before a byte changes.

One test per class of what went wrong before: finished bytes lost, tracebacks, limits that did not hold,
modules a config names, forged trees (tests/test_compare.py has the forgeries).  Every test here runs in a
temporary working folder with a temporary HOME (the ``jail`` fixture) and names no path outside it, so a mistake
in the code under test cannot touch the machine.
"""

import hashlib
import json
import sys
from pathlib import Path

import pytest
from datagen import preprocessed

from mlpsweep import cli
from mlpsweep.config import ConfigError
from mlpsweep.plan import plan


@pytest.fixture
def jail(tmp_path, monkeypatch):
    """A temporary working folder and HOME; returns the working folder."""
    (tmp_path / "home").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path / "work")
    return tmp_path / "work"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return preprocessed(tmp_path_factory.mktemp("data"), 120, 40, 40)


def folder_bytes(root: Path) -> dict:
    return {p.relative_to(root): hashlib.sha256(p.read_bytes()).hexdigest() for p in root.rglob("*") if p.is_file()}


def one_line(capsys, argv) -> tuple[int, list[str]]:
    try:
        code = cli.main(["-q", *argv])
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    return code, capsys.readouterr().err.strip().splitlines()


# ---- numbers and structure: refused at planning, naming the key --------------------------------------------------


DEEP: list = [1]
for _ in range(40):
    DEEP = [DEEP]


@pytest.mark.parametrize(
    "config, key",
    [
        ({"verdicts": {"alpha": float("nan")}}, "verdicts.alpha"),
        ({"verdicts": {"power": float("nan")}}, "verdicts.power"),
        ({"verdicts": {"stuck_below": float("nan")}}, "verdicts.stuck_below"),
        ({"study_definitions": {"depth": {"failure_margin_pp": float("nan")}}}, "depth.failure_margin_pp"),
        ({"study_definitions": {"depth": {"margin_pp": float("inf")}}}, "depth.margin_pp"),
        ({"resources": {"train": {"runtime_scale": float("nan")}}}, "resources.train.runtime_scale"),
        ({"topologies": {"30": {"hidden": [10**400]}}}, "topologies.30.hidden[0]"),
        ({"seeds": ["1"]}, "seeds[0]"),
        ({"defaults": {"hidden": DEEP}}, "defaults.hidden"),
    ],
)
def test_a_number_or_structure_no_setting_can_be_is_one_line_naming_the_key(config, key):
    with pytest.raises(ConfigError) as info:
        plan(config, command_line=[])
    text = str(info.value)
    assert key in text and "\n" not in text


def test_the_command_line_still_gives_numbers_as_strings():
    """``snakemake --config seeds='[1,2]'`` delivers strings: those keys, and only those, become numbers."""
    assert plan({"seeds": ["1", "2"]}, command_line=["seeds"]).seeds == [1, 2]
    with pytest.raises(ConfigError, match="without quotes"):
        plan({"seeds": ["1", "2"]}, command_line=["defaults"])


# ---- limits: refused within a second, the limit and the key to raise it in the message -------------------------


def test_an_alias_bomb_and_a_long_seed_list_are_refused_quickly(jail):
    import time

    import yaml

    bomb = "a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\n" for p, n in zip("abcdefg", "bcdefgh")
    )
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="limits.max_nodes"):
        plan({**yaml.safe_load(bomb + "seeds: *h\n")}, command_line=[])
    with pytest.raises(ConfigError, match=r"20,000 seeds is more than limits.max_seeds \(1,000\)"):
        plan({"seeds": list(range(20_000))}, command_line=[])
    assert time.perf_counter() - started < 20  # a generous bound: each took minutes and gigabytes before
    assert len(plan({"seeds": list(range(1500)), "limits": {"max_seeds": 2000}}, command_line=[]).seeds) == 1500


def test_a_config_file_nested_thousands_deep_is_refused_before_yaml_recurses(jail):
    from mlpsweep.config import check_file

    path = jail / "config.yaml"
    path.write_text("defaults: {hidden: " + "[" * 5000 + "]" * 5000 + "}\n")
    with pytest.raises(ConfigError, match="config.yaml, line 1: nested more than 32 levels deep"):
        check_file(path)


def test_a_stack_of_too_many_runs_is_refused(jail, capsys, data_dir):
    runs = [{"name": "a", "seed": i, "settings": {"hidden": [2]}, "out_dir": f"o{i}"} for i in range(1200)]
    code, lines = one_line(capsys, ["train", "--data", str(data_dir), "--runs", json.dumps(runs)])
    assert code == 1 and lines == [
        "mlpsweep train: error: --runs has 1,200 runs; one job trains at most 64 (training.runs_per_job)"
    ]
    assert list(jail.iterdir()) == []


# ---- tracebacks: every path, number and structure a command meets is one line -----------------------------------


GOOD = json.dumps({"hidden": [4], "epochs": 1})


@pytest.mark.parametrize(
    "argv, says",
    [
        (["train", "--settings", GOOD, "--seed", str(2**64), "--out-dir", "o"], "argument --seed"),
        (["train", "--settings", "[" * 30000 + "]" * 30000, "--seed", "1", "--out-dir", "o"], "nested too deeply"),
        (["train", "--settings", '{"hidden": [' + "9" * 400 + "]}", "--seed", "1", "--out-dir", "o"], "400-digit"),
        (["train", "--settings", GOOD, "--seed", "1", "--out-dir", "a" * 300], "File name too long"),
        (["train", "--settings", GOOD, "--seed", "1", "--out-dir", "afile"], "--out-dir afile is a file"),
        (["train", "--settings", GOOD, "--seed", "1", "--out-dir", "o", "--checkpoint-dir", "afile"], "is a file"),
        (
            ["train", "--settings", GOOD, "--seed", "1", "--out-dir", "o", "--checkpoint-dir", "afile/sub"],
            "--checkpoint-dir afile/sub: cannot write there",
        ),
        (["study-job", "--kind", "compare", "--job", "x", "--arguments", "{}", "--outputs", "o"], "has no job 'x'"),
        (["evaluate", "--data", "afile", "--model-dir", "afile", "--out-dir", "o"], "Not a directory"),
        (["download", "--dataset", "mnist", "--dest", "d", "--timeout", "-1"], "argument --timeout"),
        (["download", "--dataset", "mnist", "--dest", "d", "--timeout", "nan"], "argument --timeout"),
    ],
)
def test_a_bad_argument_is_one_line_and_writes_nothing(jail, capsys, data_dir, argv, says):
    (jail / "afile").write_text("mine")
    argv = [argv[0], *(["--data", str(data_dir)] if argv[0] == "train" else []), *argv[1:]]
    code, lines = one_line(capsys, argv)
    assert code in (1, 2) and says in lines[-1] and lines[-1].startswith(f"mlpsweep {argv[0]}: error: ")
    assert sorted(p.name for p in jail.iterdir()) == ["afile"] and (jail / "afile").read_text() == "mine"


def test_data_that_is_a_file_is_one_line(jail, capsys):
    (jail / "afile").write_text("mine")
    code, lines = one_line(capsys, ["train", "--data", "afile", "--settings", GOOD, "--seed", "1", "--out-dir", "o"])
    assert code == 1 and len(lines) == 1 and "afile/manifest.json" in lines[0]


def test_a_full_disk_names_the_file_and_leaves_no_partial_one(jail, capsys, data_dir, monkeypatch):
    import errno

    import numpy as np

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np.lib.npyio, "_savez", full, raising=False)
    from mlpsweep.nn import io

    monkeypatch.setattr(io, "savez", full)
    code, lines = one_line(
        capsys, ["train", "--data", str(data_dir), "--settings", GOOD, "--seed", "1", "--out-dir", "o"]
    )
    assert code == 1 and len(lines) == 1
    assert lines[0].startswith("mlpsweep train: error: o/model.npz: No space left on device; free some space")
    assert not (jail / "o" / "model.npz").exists() and not list((jail / "o").glob(".*tmp"))
    assert not (jail / "o" / "model.json").exists()  # the run is not marked complete


def test_arrays_that_match_their_manifest_but_cannot_be_the_dataset_are_refused(jail, capsys, data_dir):
    import shutil

    import numpy as np

    from mlpsweep.data.preprocess import ARRAYS, file_sha256

    bad = jail / "bad"
    shutil.copytree(data_dir, bad)
    manifest = json.loads((bad / "manifest.json").read_text())
    for name, edit in (
        ("labels.npy", lambda a: a.__setitem__(0, 10)),
        ("images.npy", lambda a: a.__setitem__(0, np.nan)),
    ):
        array = np.load(bad / name)
        edit(array)
        np.save(bad / name, array)
    manifest["splits"]["validation"][0] -= 5  # overlaps the training rows
    for name in ARRAYS:
        manifest["files"][name].update(sha256=file_sha256(bad / name), bytes=(bad / name).stat().st_size)
    (bad / "manifest.json").write_text(json.dumps(manifest))
    code, lines = one_line(capsys, ["train", "--data", "bad", "--settings", GOOD, "--seed", "1", "--out-dir", "o"])
    assert code == 1 and len(lines) == 1 and "the validation split" in lines[0] and "overlaps" in lines[0]


# ---- finished bytes: nothing deleted that the command did not write ----------------------------------------------


def test_a_checkpoint_folder_never_holds_or_deletes_what_it_did_not_write(jail, capsys, data_dir):
    base = ["train", "--data", str(data_dir), "--settings", GOOD, "--seed", "1"]
    assert one_line(capsys, [*base, "--out-dir", "run1"])[0] == 0
    finished = folder_bytes(jail)
    for ckpt, says in (("o", "is --out-dir"), ("run1", "holds a run's model")):
        code, lines = one_line(capsys, [*base, "--out-dir", "o", "--checkpoint-dir", ckpt])
        assert code == 1 and says in lines[0]
    assert folder_bytes(jail) == finished
    (jail / "mine").mkdir()
    (jail / "mine" / "notes.npz").write_bytes(b"mine")
    (jail / "mine" / "0123456789abcdef0123.npz").write_bytes(b"named like a checkpoint, not one")
    assert one_line(capsys, [*base, "--out-dir", "o", "--checkpoint-dir", "mine"])[0] == 0
    assert sorted(p.name for p in (jail / "mine").iterdir()) == ["0123456789abcdef0123.npz", "notes.npz"]


def test_check_caches_never_overwrites_a_file_it_did_not_write(jail, capsys, data_dir):
    (jail / "record.json").write_text("root:x:0:0\n")
    (jail / "out.json").write_text("my own\n")
    for extra, what in (
        (["--record", "record.json", "--out", "new.json"], "--record record.json is not a download record"),
        (["--record", "r2.json", "--out", "out.json"], "--out out.json exists and is not a file mlpsweep wrote"),
    ):
        code, lines = one_line(capsys, ["check-caches", "--dataset", "mnist", "--data-dir", str(data_dir), *extra])
        assert code == 1 and len(lines) == 1 and what in lines[0], lines
    assert (jail / "record.json").read_text() == "root:x:0:0\n" and (jail / "out.json").read_text() == "my own\n"
    assert sorted(p.name for p in jail.iterdir()) == ["out.json", "record.json"]


# ---- modules: a config's names import nothing undeclared ----------------------------------------------------------


def test_a_module_named_by_a_config_is_imported_only_when_declared(jail):
    (jail / "sneaky.py").write_text("open('ran', 'w').write('x')\nKIND = None\n")
    sys.path.insert(0, str(jail))
    try:
        for config in (
            {"study_definitions": {"x": {"kind": "sneaky"}}, "studies": ["x"]},
            {"defaults": {"optimizer": {"name": "sneaky"}}},
            {"study_definitions": {"x": {"kind": "this"}}, "studies": ["x"]},
        ):
            with pytest.raises(ConfigError, match="must be listed under the config's plugins"):
                plan(config, command_line=[])
        with pytest.raises(ConfigError, match="standard library"):
            plan({"plugins": ["this"]}, command_line=[])
    finally:
        sys.path.remove(str(jail))
    assert not (jail / "ran").exists()


def test_kind_this_under_snakemake_prints_no_zen(jail):
    from workflow_helpers import snakemake, write_config

    write_config(jail, {"study_definitions": {"x": {"kind": "this"}}, "studies": ["x"]})
    proc = snakemake(jail, "-n", "--cores", "1", check=False, env={"HOME": str(jail.parent / "home")})
    assert proc.returncode != 0 and "Beautiful is better than ugly" not in proc.stdout + proc.stderr
    assert "must be listed under the config's plugins" in proc.stdout + proc.stderr


# ---- offline: the last lines say what to do -----------------------------------------------------------------------


@pytest.mark.slow
def test_an_offline_download_ends_with_what_to_do(jail):
    import socket

    from workflow_helpers import snakemake, write_config

    with socket.socket() as s:  # a port nothing listens on: a refused connection, as offline
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    write_config(
        jail,
        {
            "dataset_definitions": {"mnist": {"sources": [f"http://127.0.0.1:{port}/mnist/"]}},
            "download": {"timeout": 2, "retries": 0, "backoff": 0},
        },
    )
    proc = snakemake(jail, "--cores", "1", check=False, env={"HOME": str(jail.parent / "home")})
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    advice = next(i for i, ln in enumerate(lines) if ln.startswith("mlpsweep: mnist could not be downloaded"))
    assert proc.returncode != 0 and len(lines) - advice <= 8  # only Snakemake's closing lines after it
    assert "snakemake --cores 2 --configfile config/fashion-mnist-local.yaml" in lines[advice + 1]
    commands = [ln for ln in lines if "mlpsweep --arithmetic" in ln]
    assert commands and max(map(len, commands)) < 400  # the job's command is short: settings are not on it


def test_local_sources_that_do_not_exist_are_refused_at_planning(jail):
    from workflow_helpers import snakemake, write_config

    write_config(jail, {"dataset_definitions": {"mnist": {"sources": [str(jail / "nowhere")]}}})
    proc = snakemake(jail, "-n", "--cores", "1", check=False, env={"HOME": str(jail.parent / "home")})
    assert proc.returncode != 0 and "dataset_definitions.mnist.sources: none of" in proc.stdout + proc.stderr
    assert not (jail / "resources").exists()
