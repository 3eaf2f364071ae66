"""Running the real workflow (snakemake as a subprocess) in a temporary folder."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def write_config(workdir: Path, config: dict, name: str = "config/config.yaml") -> Path:
    path = workdir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, *args, check=True, timeout=600, env=None) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--workflow-profile",
        str(REPO / "profiles" / "default"),
        *args,
    ]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=workdir,
        env=None if env is None else {**os.environ, **env},
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def mlpsweep_cli(*args, timeout=300, pythonpath=None, check=False) -> subprocess.CompletedProcess:
    """``python -m mlpsweep ARGS`` as a user runs it, output captured as text; ``pythonpath`` goes in front of
    the inherited PYTHONPATH (a plugin's folder)."""
    env = None
    if pythonpath is not None:
        path = os.pathsep.join(filter(None, [str(pythonpath), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "mlpsweep", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=check,
    )


JOB = re.compile(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    wildcards: (.*)$", re.M)


def planned_jobs(workdir: Path, *args, env=None) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job a dry run would run."""
    out = snakemake(workdir, "--dry-run", "--cores", "2", *args, env=env)
    text = out.stdout + out.stderr
    jobs = []
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} )", text):
        m = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        if not m:
            continue
        w = re.search(r"^\s+wildcards: (.*)$", block, re.M)
        wildcards = dict(kv.split("=", 1) for kv in w.group(1).split(", ")) if w else {}
        jobs.append((m.group(1), wildcards))
    return jobs


def job_counts(jobs) -> dict:
    counts = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    return counts


MODEL = re.compile(r"results/[^/,\s]+/models/([^/,\s]+)/seed(\d+)/model\.npz")


def planned_trainings(workdir: Path, *args) -> dict[str, list[tuple[str, int]]]:
    """The runs each planned training job makes, by rule name (``train``, ``train_stack_…``), from the dry run's
    ``output:`` lines: a run trained alone or in a stack of runs is listed once under its job's rule."""
    out = snakemake(workdir, "--dry-run", "--cores", "2", *args)
    found: dict[str, list[tuple[str, int]]] = {}
    for block in re.split(r"\n(?=\[[A-Z][a-z]{2} )", out.stdout + out.stderr):
        m = re.search(r"^(?:local)?rule (train\w*):", block, re.M)
        o = re.search(r"^\s+output: (.*)$", block, re.M)
        if m and o:
            found.setdefault(m.group(1), []).extend((t, int(s)) for t, s in MODEL.findall(o.group(1)))
    return found


def trained_runs(trainings: dict) -> list[tuple[str, int]]:
    """Every run of ``planned_trainings``, sorted (a run planned twice would appear twice)."""
    return sorted(run for runs in trainings.values() for run in runs)
