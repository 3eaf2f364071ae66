"""Native against portable arithmetic across BLAS kernels: what reproduces, and what portable mode costs.

The BLAS half of the portable-arithmetic check (the test suite never touches
OpenBLAS's variables; tests/test_arithmetic.py varies NumPy's dispatch). Each
child command runs in one of these environments, in one invocation:

* ``as is``: this machine's environment, unchanged;
* ``unset``: ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed for that
  command alone, so OpenBLAS picks its own kernel for this CPU (SkylakeX on an
  AVX-512 machine), as on a user's laptop;
* ``Sandybridge``: ``OPENBLAS_CORETYPE=Sandybridge`` for that command alone, the
  kernel OpenBLAS picks on an AVX-only CPU.

``--train`` (default): preprocessed Fashion-MNIST (Debian's dataset-fashion-mnist),
``python -m mlpsweep train`` of [784,30,10] for 3 epochs, seed 1, in every
environment, native and portable: the SHA-256 of every ``model.npz`` and the
test accuracy, and the time per epoch (SGD and monitoring) of each mode.

``--workflow``: the README's default run (``config/fashion-mnist-local.yaml``)
with ``reproducibility: portable`` in the ``as is``, ``Sandybridge`` and ``unset``
environments, and with ``native`` as is; compares every ``predictions.npy`` of
the portable run as is with the others and runs ``python -m mlpsweep compare``
on each pair.

    python benchmarks/arithmetic.py              # the training table (about a minute)
    python benchmarks/arithmetic.py --workflow   # the default run twice (a few minutes)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def environments() -> dict[str, dict]:
    base = dict(os.environ)
    unset = {k: v for k, v in base.items() if k not in BLAS_VARS}
    return {"as is": base, "unset": unset, "Sandybridge": {**unset, "OPENBLAS_CORETYPE": "Sandybridge"}}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def mlpsweep(*args, env, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlpsweep", *args], env=env, cwd=cwd, capture_output=True, text=True, check=True
    )


def prepare(root: Path) -> Path:
    from mlpsweep.data import datasets

    spec = json.dumps(
        {**datasets.resolve("fashion-mnist").to_dict(), "name": "fashion-mnist", "sources": [str(DEBIAN)]}
    )
    mlpsweep("-q", "download", "--spec", spec, "--dest", str(root / "raw"), env=os.environ)
    mlpsweep(
        "-q",
        "preprocess",
        "--spec",
        spec,
        "--raw-dir",
        str(root / "raw"),
        "--out-dir",
        str(root / "data"),
        env=os.environ,
    )
    return root / "data"


def train_table(root: Path) -> list[str]:
    data = prepare(root)
    rows, times = [], {}
    for mode in ("native", "portable"):
        for name, env in environments().items():
            out = root / f"{mode}-{name}"
            mlpsweep(
                "-q",
                "--arithmetic",
                mode,
                "train",
                "--data",
                str(data),
                "--settings",
                '{"hidden": [30], "epochs": 3}',
                "--seed",
                "1",
                "--out-dir",
                str(out),
                env=env,
            )
            meta = json.loads((out / "model.json").read_text())
            history = (out / "history.csv").read_text().splitlines()
            head = history[0].split(",")
            last = dict(zip(head, history[-1].split(",")))
            sgd = sum(float(dict(zip(head, line.split(",")))["seconds"]) for line in history[1:]) / 3
            ev = sum(float(dict(zip(head, line.split(",")))["eval_seconds"]) for line in history[1:]) / 3
            if name != "Sandybridge":  # the cost on this CPU: its own kernels against portable ones
                times.setdefault(mode, []).append(sgd + ev)
            a = meta["arithmetic"]
            rows.append(
                f"| {mode} | {name} | {', '.join(b.split()[-1] for b in a['blas'])} | "
                f"{'+'.join(a['numpy_simd'])} | `{sha(out / 'model.npz')}` | "
                f"{100 * float(last['test_accuracy']):.2f} % | {sgd:.3f} s + {ev:.3f} s |"
            )
    lines = [
        "| mode | environment | BLAS kernel | NumPy loops | model.npz sha256 (16) | test accuracy, epoch 3 | "
        "s per epoch (SGD + monitoring) |",
        "|---|---|---|---|---|---:|---:|",
        *rows,
        "",
    ]
    for mode in ("native", "portable"):
        hashes = {r.split("|")[5] for r in rows if r.startswith(f"| {mode} ")}
        lines.append(f"- {mode}: {len(hashes)} distinct model.npz over {len(environments())} environments")
    cost = (sum(times["portable"]) / len(times["portable"])) / (sum(times["native"]) / len(times["native"]))
    lines.append(
        f"- portable costs {cost:.2f}× native per epoch on this CPU (SGD + monitoring, mean of the "
        "'as is' and 'unset' runs)"
    )
    return lines


def workflow_runs(root: Path) -> list[str]:
    """The default run three times: portable as is, portable under another kernel's environment, native as is."""
    made = {}
    for mode, name in (("portable", "as is"), ("portable", "Sandybridge"), ("portable", "unset"), ("native", "as is")):
        work = root / f"{mode}-{name.replace(' ', '-')}"
        (work / "config").mkdir(parents=True)
        (work / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
        (work / "config" / "fashion-mnist-local.yaml").write_text(
            (REPO / "config" / "fashion-mnist-local.yaml").read_text() + f"reproducibility: {mode}\n"
        )
        subprocess.run(
            [
                sys.executable,
                "-m",
                "snakemake",
                "--snakefile",
                str(REPO / "Snakefile"),
                "--cores",
                "2",
                "--configfile",
                "config/fashion-mnist-local.yaml",
            ],
            cwd=work,
            env=environments()[name],
            check=True,
            capture_output=True,
        )
        made[mode, name] = work / "results" / "fashion-mnist"
    lines = []
    base = made["portable", "as is"]
    preds = sorted((base / "eval").glob("*/seed*/predictions.npy"))
    for other in (("portable", "Sandybridge"), ("portable", "unset"), ("native", "as is")):
        same = sum(p.read_bytes() == (made[other] / p.relative_to(base)).read_bytes() for p in preds)
        check = subprocess.run(
            [sys.executable, "-m", "mlpsweep", "-q", "compare", str(base), str(made[other])],
            capture_output=True,
            text=True,
        )
        lines += [
            f"### portable (as is) against {other[0]} ({other[1]}): {same} of {len(preds)} predictions.npy "
            f"identical; compare exits {check.returncode}",
            "",
            "```text",
            check.stdout.rstrip(),
            "```",
            "",
        ]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workflow", action="store_true", help="the default run twice in portable mode")
    args = ap.parse_args(argv)
    if not DEBIAN.is_dir():
        print(f"needs {DEBIAN} (apt-get install dataset-fashion-mnist)", file=sys.stderr)
        return 1
    print("environment as is:", ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in BLAS_VARS))
    with tempfile.TemporaryDirectory() as tmp:
        lines = workflow_runs(Path(tmp)) if args.workflow else train_table(Path(tmp))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
