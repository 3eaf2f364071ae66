"""Faults: interrupted and killed training resumes bit for bit; no pickle anywhere."""

import json
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from datagen import preprocessed
from workflow_helpers import mlpsweep_cli

from mlpsweep import train as train_job
from mlpsweep.nn import History, load_network

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {
    "hidden": [16],
    "activation": "relu",
    "output": "softmax",
    "cost": "log_likelihood",
    "init": "he",
    "eta": 0.05,
    "batch_size": 10,
    "epochs": 6,
    "penalty": {"p": 2, "lambda": 1e-4},
    "dropout": 0.2,
    "dtype": "float32",
    "momentum": 0.9,
    "eta_decay": 0.9,
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return preprocessed(tmp_path_factory.mktemp("data"), 600, 100, 100)


def outcome(out_dir):
    net, _ = load_network(out_dir / "model.npz")
    hist = History.from_csv((out_dir / "history.csv").read_text())
    return net.params.copy(), [{k: v for k, v in r.items() if "seconds" not in k} for r in hist.records]


class Interrupt(Exception):
    pass


def stop_after(epoch: int):
    """An epoch hook that interrupts training once ``epoch`` epochs are done (and checkpointed)."""

    def hook(records, state):
        if state.epoch == epoch:
            raise Interrupt

    return hook


@pytest.mark.parametrize("monitoring", [{}, {"monitor_rows": 40, "test_by_need": True}], ids=["full", "by-need"])
def test_resume_after_an_exception_is_bit_identical(tmp_path, data_dir, monitoring):
    train_job.run_one(data_dir, SETTINGS, 3, tmp_path / "clean", **monitoring)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        train_job.run_one(
            data_dir, SETTINGS, 3, tmp_path / "run", checkpoint_dir=ckpt, callbacks=[stop_after(3)], **monitoring
        )
    assert not (tmp_path / "run" / "model.json").exists()
    assert len(list(ckpt.glob("*.npz"))) == 1
    meta = train_job.run_one(data_dir, SETTINGS, 3, tmp_path / "run", checkpoint_dir=ckpt, **monitoring)
    assert meta["resumed_from_epoch"] == 3
    (p1, h1), (p2, h2) = outcome(tmp_path / "clean"), outcome(tmp_path / "run")
    assert p1.tobytes() == p2.tobytes()
    assert h1 == h2
    assert not ckpt.exists()  # removed once the run completed


def test_changed_settings_never_resume_a_stale_checkpoint(tmp_path, data_dir):
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        train_job.run_one(data_dir, SETTINGS, 3, tmp_path / "run", checkpoint_dir=ckpt, callbacks=[stop_after(2)])
    changed = {**SETTINGS, "eta": 0.02}
    meta = train_job.run_one(data_dir, changed, 3, tmp_path / "run", checkpoint_dir=ckpt)
    assert meta["resumed_from_epoch"] is None
    train_job.run_one(data_dir, changed, 3, tmp_path / "clean")
    assert outcome(tmp_path / "run")[0].tobytes() == outcome(tmp_path / "clean")[0].tobytes()


def test_damaged_checkpoint_is_ignored(tmp_path, data_dir):
    ckpt = tmp_path / "ckpt"
    with pytest.raises(Interrupt):
        train_job.run_one(data_dir, SETTINGS, 3, tmp_path / "run", checkpoint_dir=ckpt, callbacks=[stop_after(2)])
    (path,) = ckpt.glob("*.npz")
    path.write_bytes(path.read_bytes()[:100])
    meta = train_job.run_one(data_dir, SETTINGS, 3, tmp_path / "run", checkpoint_dir=ckpt)
    assert meta["resumed_from_epoch"] is None and meta["epochs_completed"] == 6


@pytest.mark.slow
def test_kill_9_in_a_seeded_epoch_then_rerun_is_bit_identical(tmp_path, data_dir):
    settings = {**SETTINGS, "hidden": [64], "epochs": 30}
    args = [
        sys.executable,
        "-m",
        "mlpsweep",
        "-q",
        "train",
        "--data",
        str(data_dir),
        "--settings",
        json.dumps(settings),
        "--seed",
        "7",
        "--checkpoint-dir",
        str(tmp_path / "ckpt"),
    ]
    subprocess.run(args + ["--out-dir", str(tmp_path / "clean")], check=True)
    moment = kill_9_during(args[:3] + args[4:] + ["--out-dir", str(tmp_path / "run")], random.Random(88))
    subprocess.run(args + ["--out-dir", str(tmp_path / "run")], check=True)
    (p1, h1), (p2, h2) = outcome(tmp_path / "clean"), outcome(tmp_path / "run")
    assert p1.tobytes() == p2.tobytes(), f"killed {moment}"
    assert h1 == h2


def kill_9_during(args, rng: random.Random, max_pause: float = 0.05) -> str:
    """Start the train command ``args`` (logging, not -q) and SIGKILL it in an epoch drawn from ``rng``: once
    its log says that epoch ended (a state, not a clock), after a seeded pause of up to ``max_pause`` seconds
    (so the kill may land mid-step or mid-checkpoint).  Returns where, for the failure message."""
    epochs = json.loads(args[args.index("--settings") + 1])["epochs"] if "--settings" in args else None
    epochs = epochs or json.loads(args[args.index("--runs") + 1])[0]["settings"]["epochs"]
    epoch, pause = rng.randint(2, epochs - 2), rng.uniform(0.0, max_pause)
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if re.search(rf"mlpsweep\.train: epoch {epoch}/", line):
            time.sleep(pause)
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the job ended before the kill"
    return f"{pause * 1000:.0f} ms after epoch {epoch} of {epochs}"


def test_no_pickle_anywhere():
    """No pickle in the product, and every np.load refuses pickled data."""
    offenders = []
    for folder in ("src", "workflow", "benchmarks", "Snakefile"):
        paths = [REPO / folder] if (REPO / folder).is_file() else (REPO / folder).rglob("*")
        for path in paths:
            if path.suffix not in (".py", ".smk", "") or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            if re.search(r"^\s*(import pickle|from pickle|import cPickle|import dill|import joblib)", text, re.M):
                offenders.append(f"{path}: imports a pickle library")
            for call in re.finditer(r"np\.load\(([^()]|\([^()]*\))*\)", text):
                if "allow_pickle=False" not in call.group(0):
                    offenders.append(f"{path}: {call.group(0)}")
            if re.search(r"allow_pickle\s*=\s*True", text):
                offenders.append(f"{path}: allow_pickle=True")
    assert offenders == []


# ---- stacked jobs (several runs in one process): the same guarantees -------------------------------------------

STACK = [
    {"name": "a", "seed": 3, "settings": SETTINGS},
    {
        "name": "b",
        "seed": 4,
        "settings": {**SETTINGS, "eta": 0.03, "momentum": 0.0, "penalty": {"p": 1, "lambda": 1e-4}},
    },
    {"name": "c", "seed": 5, "settings": {**SETTINGS, "dropout": 0.0, "eta_decay": 1.0}},
]


def stack_runs(root):
    return [train_job.Run(**r, out_dir=str(root / r["name"])) for r in STACK]


def solo_outcomes(tmp_path, data_dir):
    for r in STACK:
        train_job.run_one(data_dir, r["settings"], r["seed"], tmp_path / "solo" / r["name"])
    return [outcome(tmp_path / "solo" / r["name"]) for r in STACK]


def stop_stack_after(epoch: int):
    def hook(records, state):
        if state.epoch == epoch:
            raise Interrupt

    return hook


def test_stacked_job_resumes_after_an_exception_bit_identical_to_solo_runs(tmp_path, data_dir, monkeypatch):
    solo = solo_outcomes(tmp_path, data_dir)
    ckpt = tmp_path / "ckpt"
    import mlpsweep.nn.checkpoint as checkpoint_module

    calls = []
    real = checkpoint_module.Checkpointer.__call__

    def checkpoint_then_stop(self, records, state):  # checkpoint after epoch 4, then interrupt
        real(self, records, state)
        calls.append(state.epoch)
        if state.epoch == 4:
            raise Interrupt

    monkeypatch.setattr(checkpoint_module.Checkpointer, "__call__", checkpoint_then_stop)
    with pytest.raises(Interrupt):
        train_job.run(data_dir, stack_runs(tmp_path / "run"), checkpoint_dir=ckpt)
    monkeypatch.setattr(checkpoint_module.Checkpointer, "__call__", real)
    assert calls == [1, 2, 3, 4] and len(list(ckpt.glob("*.npz"))) == 1
    assert not any((tmp_path / "run" / r["name"] / "model.json").exists() for r in STACK)
    metas = train_job.run(data_dir, stack_runs(tmp_path / "run"), checkpoint_dir=ckpt)
    assert [m["resumed_from_epoch"] for m in metas] == [4, 4, 4]
    for r, (p1, h1) in zip(STACK, solo):
        p2, h2 = outcome(tmp_path / "run" / r["name"])
        assert p1.tobytes() == p2.tobytes(), r["name"]
        assert h1 == h2
    assert not ckpt.exists()


@pytest.mark.slow
def test_kill_9_of_a_stacked_job_then_rerun_is_bit_identical_to_solo_runs(tmp_path, data_dir):
    runs = [{**r, "settings": {**r["settings"], "hidden": [64], "epochs": 20}} for r in STACK]
    from mlpsweep.config import schema_default

    cli_monitoring = {"monitor_rows": schema_default("training.monitor_rows"), "test_by_need": True}  # the CLI's
    for r in runs:
        train_job.run_one(data_dir, r["settings"], r["seed"], tmp_path / "solo" / r["name"], **cli_monitoring)

    def args(root, ckpt=True):
        a = [
            sys.executable,
            "-m",
            "mlpsweep",
            "-q",
            "train",
            "--data",
            str(data_dir),
            "--runs",
            json.dumps([{**r, "out_dir": str(root / r["name"])} for r in runs]),
        ]
        return a + (["--checkpoint-dir", str(tmp_path / "ckpt")] if ckpt else [])

    logging_args = [a for a in args(tmp_path / "run") if a != "-q"]
    moment = kill_9_during(logging_args, random.Random(89))
    subprocess.run(args(tmp_path / "run"), check=True)
    for r in runs:
        (p1, h1), (p2, h2) = outcome(tmp_path / "solo" / r["name"]), outcome(tmp_path / "run" / r["name"])
        assert p1.tobytes() == p2.tobytes(), f"{r['name']}: killed {moment}"
        assert h1 == h2


@pytest.mark.slow
def test_stacked_job_refuses_runs_of_different_shapes(tmp_path, data_dir):
    runs = [
        {"name": "a", "seed": 1, "settings": SETTINGS, "out_dir": str(tmp_path / "a")},
        {"name": "b", "seed": 1, "settings": {**SETTINGS, "hidden": [8]}, "out_dir": str(tmp_path / "b")},
    ]
    proc = mlpsweep_cli("-q", "train", "--data", data_dir, "--runs", json.dumps(runs))
    assert proc.returncode == 1
    (line,) = proc.stderr.strip().splitlines()
    assert "b differs from a in sizes" in line
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_a_diverging_run_in_a_stacked_job(tmp_path, data_dir):
    runs = [
        {"name": "ok", "seed": 1, "settings": SETTINGS},
        {
            "name": "wild",
            "seed": 2,
            "settings": {
                **SETTINGS,
                "eta": 1e6,
                "momentum": 0.0,
                "output": "linear",
                "cost": "quadratic",
                "activation": "relu",
            },
        },
    ]
    runs[0]["settings"] = {**runs[1]["settings"], "eta": 0.01}
    args = ["-q", "train", "--data", data_dir]
    out = [{**r, "out_dir": str(tmp_path / "a" / r["name"])} for r in runs]
    proc = mlpsweep_cli(*args, "--runs", json.dumps(out), "--fail-on-divergence")
    assert proc.returncode == 3
    (line,) = proc.stderr.strip().splitlines()
    assert "wild seed 2: training diverged at epoch" in line
    assert not (tmp_path / "a").exists()  # nothing written for either run
    out = [{**r, "out_dir": str(tmp_path / "b" / r["name"])} for r in runs]
    mlpsweep_cli(*args, "--runs", json.dumps(out), check=True)
    wild = json.loads((tmp_path / "b/wild/model.json").read_text())
    assert wild["status"] == "diverged" and wild["diverged_epoch"] >= 1
    train_job.run_one(data_dir, runs[0]["settings"], 1, tmp_path / "solo")
    assert outcome(tmp_path / "b/ok")[0].tobytes() == outcome(tmp_path / "solo")[0].tobytes()
