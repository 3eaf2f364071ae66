"""The same bytes everywhere: one small config that uses every activation, output, cost, penalty p ∈ {2, 1, ½,
1.5}, dropout, momentum and Adam, trained in exact and in native arithmetic under other arithmetic
environments, with the sha256 of every ``model.npz``, ``predictions.npy`` and ``history.csv`` (less its
timing columns).

    python benchmarks/exact_variety.py table [--aarch64 ROOT] [--libc ROOT] [--debian13 ROOT] [--record]

prints the table the README shows: one row per environment, one hash per run and file (shortened), and for
each mode how many distinct hashes each file has over the environments.  Environments (each a child process;
nothing here changes the parent's):

* (a) OpenBLAS kernels: ``OPENBLAS_CORETYPE`` = Haswell, SkylakeX, Sandybridge, Prescott (set for that child
  alone — never in tests or CI);
* (b) NumPy's dispatch limited by ``NPY_DISABLE_CPU_FEATURES`` (AVX-512 hidden; AVX2 and above hidden);
* (c) BLAS threads 1, 2 and 4 (the train command's ``--threads``);
* (d) another C library: a root with Debian 13's ``libc6`` unpacked by ``dpkg -x``, the same Python and NumPy
  started through that root's ``ld-linux-x86-64.so.2 --library-path`` (``--libc ROOT``); and another BLAS
  library entirely: Debian 13's ``python3.13``, ``python3-numpy`` (2.2.4) and ``libblas3`` (the reference
  BLAS) with their dependencies unpacked into a root (``--debian13 ROOT``);
* (e) an aarch64 CPython with PyPI's aarch64 NumPy under ``qemu-aarch64-static`` (``--aarch64 ROOT``: a root
  with Debian's arm64 python3.11 unpacked, and ``ROOT/site`` holding the aarch64 wheels).

``--record`` writes the exact mode's hashes into ``benchmarks/exact_variety.json``, which the suite's
``tests/test_exact.py`` holds a run with NumPy's AVX-512 (and AVX2) paths hidden to.

``child DATA OUT MODE [THREADS]`` is what each environment runs: it trains and evaluates every run of
:data:`RUNS` in one process, in ``MODE`` arithmetic, and prints the hashes as JSON.
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

HERE = Path(__file__).resolve().parent
TREE = HERE.parent
RECORDED = HERE / "exact_variety.json"

#: Every activation, output layer, cost, penalty (p = 2, 1, ½ and a general 1.5), dropout, momentum and Adam.
RUNS = {
    "sigmoid-quadratic-L2-momentum": {
        "hidden": [16, 8],
        "activation": "sigmoid",
        "output": "sigmoid",
        "cost": "quadratic",
        "penalty": {"p": 2, "lambda": 0.001},
        "momentum": 0.9,
        "eta": 1.0,
    },
    "tanh-softmax-L1-dropout": {
        "hidden": [16, 8],
        "activation": "tanh",
        "output": "softmax",
        "cost": "log_likelihood",
        "penalty": {"p": 1, "lambda": 0.0005},
        "dropout": 0.2,
        "eta": 0.5,
    },
    "relu-crossentropy-Lhalf": {
        "hidden": [16],
        "activation": "relu",
        "output": "sigmoid",
        "cost": "cross_entropy",
        "penalty": {"p": 0.5, "lambda": 0.0001},
        "init": "he",
        "eta": 0.5,
    },
    "linear-output-L1.5-adam": {
        "hidden": [12],
        "activation": "sigmoid",
        "output": "linear",
        "cost": "quadratic",
        "penalty": {"p": 1.5, "lambda": 0.001},
        "optimizer": {"name": "adam"},
        "eta": 0.01,
    },
}
EPOCHS, BATCH, SEED = 2, 10, 7
FILES = ("model.npz", "predictions.npy", "history.csv")


def history_without_timing(path: Path) -> bytes:
    """history.csv without the columns about the machine (its clock, exact arithmetic's fallback count)."""
    from mlpsweep.nn.history import results_csv

    return results_csv(path.read_text()).encode()


def child(data: str, out: str, mode: str, threads: int = 1, engine: str = "compiled") -> dict:
    """Train and evaluate every run in ``mode`` with ``engine`` (the compiled step, or the reference step:
    NumPy's loops and the BLAS); {run: {file: sha256}}."""
    from mlpsweep.cli import main

    hashes = {}
    for name, settings in RUNS.items():
        folder = Path(out) / name
        args = ["--arithmetic", mode, "-q", "train", "--data", data, "--seed", str(SEED), "--out-dir", str(folder)]
        args += ["--settings", json.dumps({**settings, "epochs": EPOCHS, "batch_size": BATCH})]
        args += ["--threads", str(threads), "--monitor-rows", "0", "--test-every-epoch", "--engine", engine]
        if main(args) != 0:
            raise SystemExit(f"training {name} failed")
        if (
            main(
                [
                    "--arithmetic",
                    mode,
                    "-q",
                    "evaluate",
                    "--data",
                    data,
                    "--model-dir",
                    str(folder),
                    "--out-dir",
                    str(folder),
                ]
            )
            != 0
        ):
            raise SystemExit(f"evaluating {name} failed")
        hashes[name] = {
            "model.npz": hashlib.sha256((folder / "model.npz").read_bytes()).hexdigest(),
            "predictions.npy": hashlib.sha256((folder / "predictions.npy").read_bytes()).hexdigest(),
            "history.csv": hashlib.sha256(history_without_timing(folder / "history.csv")).hexdigest(),
        }
    return hashes


def make_data(root: Path) -> Path:
    """The tiny dataset of the suite (tests/datagen.py: 300 training rows, 60 validation, 60 test)."""
    sys.path.insert(0, str(TREE / "tests"))
    from datagen import preprocessed

    return preprocessed(root, 300, 60, 60)


def environments(
    aarch64: str | None, libc: str | None, debian13: str | None = None
) -> list[tuple[str, list[str], dict, int]]:
    """(label, command prefix, environment changes, BLAS threads) of every environment."""
    py = [sys.executable]
    envs = [("as is", py, {}, 1)]
    envs += [
        (f"(a) OPENBLAS_CORETYPE={k}", py, {"OPENBLAS_CORETYPE": k}, 1)
        for k in ("Haswell", "SkylakeX", "Zen", "Sandybridge", "Prescott")
    ]
    envs += [
        ("(b) AVX-512 hidden", py, {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}, 1),
        ("(b) AVX2 and up hidden", py, {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"}, 1),
    ]
    envs += [(f"(c) {t} BLAS threads", py, {}, t) for t in (2, 4)]
    if libc:
        root = Path(libc)
        loader = str(root / "usr/lib64/ld-linux-x86-64.so.2")
        paths = f"{root / 'lib/x86_64-linux-gnu'}:{root / 'usr/lib/x86_64-linux-gnu'}"
        envs.append(("(d) Debian 13 glibc 2.41", [loader, "--library-path", paths, sys.executable], {}, 1))
    if debian13:
        root = Path(debian13)
        lib = root / "usr/lib/x86_64-linux-gnu"
        paths = f"{lib}:{lib / 'blas'}:{lib / 'lapack'}:{root / 'lib/x86_64-linux-gnu'}"
        envs.append(
            (
                "(d) Debian 13 Python 3.13, NumPy 2.2.4, reference BLAS, glibc 2.41",
                [
                    str(root / "usr/lib64/ld-linux-x86-64.so.2"),
                    "--library-path",
                    paths,
                    str(root / "usr/bin/python3.13"),
                ],
                {
                    "PYTHONHOME": str(root / "usr"),
                    "PYTHONPATH": f"{TREE / 'src'}:{root / 'usr/lib/python3/dist-packages'}",
                },
                1,
            )
        )
    if aarch64:
        root = Path(aarch64)
        envs.append(
            (
                "(e) aarch64 (qemu-user)",
                ["qemu-aarch64-static", "-L", str(root), str(root / "usr/bin/python3.11")],
                {"PYTHONPATH": f"{TREE / 'src'}:{root / 'site'}", "PYTHONHOME": str(root / "usr")},
                1,
            )
        )
    return envs


def run_env(prefix, changes, threads, data, out, mode) -> tuple[dict | None, str]:
    env = {**os.environ, "PYTHONPATH": str(TREE / "src"), **changes}
    for key in ("VIRTUAL_ENV",):
        env.pop(key, None)
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import exact_variety as v; "
        "print(json.dumps(v.child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))));"
        "from mlpsweep import arithmetic; print(json.dumps(arithmetic.describe()))"
    )
    proc = subprocess.run(
        [*prefix, "-c", code, str(HERE), str(data), str(out), mode, str(threads)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        if proc.returncode == -4:  # SIGILL: the kernel needs instructions this CPU lacks (SkylakeX: AVX-512)
            return None, "not runnable on this CPU (illegal instruction)"
        return None, proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-2]), json.loads(lines[-1])


def table(args) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = make_data(Path(tmp))
        results = {}
        for mode in ("exact", "native"):
            for i, (label, prefix, changes, threads) in enumerate(environments(args.aarch64, args.libc, args.debian13)):
                hashes, info = run_env(prefix, changes, threads, data, Path(tmp) / f"{mode}{i}", mode)
                results[mode, label] = (hashes, info)
                print(f"  {mode:6s} {label}: {'ok' if hashes else info}", file=sys.stderr)
    names = list(RUNS)
    print(
        "| mode | environment | BLAS kernel (threads) | NumPy SIMD | libc | machine | "
        + " | ".join(f"{n} model / predictions / history" for n in names)
        + " |"
    )
    print("|" + "---|" * (6 + len(names)))
    for (mode, label), (hashes, info) in results.items():
        if hashes is None:
            print(f"| {mode} | {label} | failed: {info} |")
            continue
        cells = [" / ".join(f"`{hashes[n][f][:8]}`" for f in FILES) for n in names]
        kern = ", ".join(b.split()[-1] for b in info["blas"]) or "reference BLAS (libblas3)"
        threads = next(t for lab, _, _, t in environments(args.aarch64, args.libc, args.debian13) if lab == label)
        print(
            f"| {mode} | {label} | {kern} ({threads}) | {'+'.join(info['numpy_simd'])} | {info['libc']} "
            f"| {info['machine']} | " + " | ".join(cells) + " |"
        )
    print()
    for mode in ("exact", "native"):
        got = [h for (m, _), (h, _) in results.items() if m == mode and h]
        distinct = {f: len({json.dumps([h[n][f] for n in names]) for h in got}) for f in FILES}
        print(
            f"- {mode}: distinct hashes over {len(got)} environments: "
            + ", ".join(f"{f} {k}" for f, k in distinct.items())
        )
    if args.record:
        exact = [h for (m, _), (h, _) in results.items() if m == "exact" and h]
        if len({json.dumps(h, sort_keys=True) for h in exact}) != 1:
            raise SystemExit("exact mode gave more than one set of hashes: nothing recorded")
        RECORDED.write_text(
            json.dumps(
                {"runs": RUNS, "epochs": EPOCHS, "batch_size": BATCH, "seed": SEED, "hashes": exact[0]}, indent=1
            )
            + "\n"
        )
        print(f"recorded {RECORDED.relative_to(TREE)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("table")
    t.add_argument("--aarch64", help="root of an arm64 Python (see the module docstring)")
    t.add_argument("--libc", help="root with another glibc unpacked")
    t.add_argument("--debian13", help="root with Debian 13's python3.13, python3-numpy and libblas3 unpacked")
    t.add_argument("--record", action="store_true")
    c = sub.add_parser("child")
    c.add_argument("data")
    c.add_argument("out")
    c.add_argument("mode")
    c.add_argument("threads", type=int, nargs="?", default=1)
    c.add_argument("--engine", default="compiled", choices=("compiled", "reference"))
    args = parser.parse_args()
    if args.what == "table":
        table(args)
    else:
        print(json.dumps(child(args.data, args.out, args.mode, args.threads, args.engine)))


if __name__ == "__main__":
    main()
