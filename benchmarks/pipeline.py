"""The whole default experiment, timed: --cores 1 against --cores 2, stage by stage.

Runs the shipped config (the lecture's table: 3 topologies × 5 seeds × 30
epochs) on MNIST-shaped data from a local folder — by default Fashion-MNIST
from Debian's ``dataset-fashion-mnist``, which has MNIST's shapes — once with
each core count, each in a fresh folder:

1. ``--until preprocess`` (download from the folder + preprocessing), timed;
2. the rest (15 train jobs, 15 evaluate jobs, the report), timed: the run the
   ≤ 3 minute target is about.

From Snakemake's benchmark files and the training histories it then reports
per-stage times, seconds per epoch per topology, the per-job fixed overhead
(job wall time minus its SGD and monitoring time), peak memory per job (and
against the job's float32 data plus model), the 1 → 2 core speed-up, import
times and the dry run of a 1,000-job sweep.  Prints a Markdown report and
writes it to ``benchmarks/out/pipeline.md``.

    python benchmarks/pipeline.py                 # about 8 minutes
    python benchmarks/pipeline.py --cores 2       # one core count only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def snakemake(workdir: Path, *args) -> float:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--workflow-profile", str(REPO / "profiles" / "default"), "--quiet", "all", *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return time.perf_counter() - start


def bench(path: Path) -> dict:
    t = pd.read_csv(path, sep="\t")
    return t.iloc[-1].to_dict()


def run(cores: int, data: Path, root: Path) -> dict:
    work = root / f"cores{cores}"
    (work / "config").mkdir(parents=True)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["datasets"] = ["fashion-mnist"]
    config["dataset_definitions"] = {"fashion-mnist": {"sources": [str(data)]}}
    (work / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    prep = snakemake(work, "--cores", str(cores), "--until", "preprocess")
    rest = snakemake(work, "--cores", str(cores))
    res = work / "results" / "fashion-mnist"
    jobs = []
    for kind in ("train", "evaluate"):
        for path in sorted((res / "benchmarks" / kind).glob("*/seed*.tsv")):
            row = bench(path)
            row.update(kind=kind, topology=path.parent.name, seed=int(path.stem[4:]))
            if kind == "train":
                h = pd.read_csv(res / "models" / row["topology"] / path.stem / "history.csv")
                meta = json.loads((res / "models" / row["topology"] / path.stem / "model.json").read_text())
                row["sgd_s_per_epoch"] = h["seconds"].mean()
                row["monitor_s_per_epoch"] = h["eval_seconds"].mean()
                row["overhead_s"] = row["s"] - h["seconds"].sum() - h["eval_seconds"].sum()
                row["n_params"] = meta["n_params"]
            jobs.append(row)
    return {"cores": cores, "prep_s": prep, "rest_s": rest, "jobs": pd.DataFrame(jobs),
            "preprocess": bench(res / "benchmarks" / "preprocess.tsv"), "report": bench(res / "benchmarks" / "report.tsv"),
            "manifest": json.loads((res / "data" / "manifest.json").read_text())}


def import_seconds(module: str, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def dry_run_1000(root: Path, data: Path) -> tuple[float, int]:
    work = root / "dag"
    (work / "config").mkdir(parents=True)
    topologies = {f"t{i}": {"hidden": [10 + i]} for i in range(200)}
    (work / "config" / "config.yaml").write_text(yaml.safe_dump({
        "datasets": ["fashion-mnist"], "seeds": [1, 2, 3, 4, 5], "studies": ["sweep"],
        "study_definitions": {"sweep": {"topologies": list(topologies)}}, "topologies": topologies,
        "dataset_definitions": {"fashion-mnist": {"sources": [str(data)]}},
    }))
    seconds = snakemake(work, "--dry-run", "--cores", "2")
    return seconds, 1000


def report(results: list[dict], imports: dict, dag: tuple) -> str:
    lines = ["## The default run (15 train jobs × 30 epochs, 15 evaluate, report; Fashion-MNIST from a local folder)", ""]
    lines += ["| | " + " | ".join(f"--cores {r['cores']}" for r in results) + " |",
              "|---|" + "---:|" * len(results)]

    def row(label, f):
        lines.append(f"| {label} | " + " | ".join(f(r) for r in results) + " |")

    def jobs(r, kind):
        return r["jobs"][r["jobs"]["kind"] == kind]

    row("download + preprocess (wall)", lambda r: f"{r['prep_s']:.1f} s")
    row("**train + evaluate + report (wall)**", lambda r: f"**{r['rest_s']:.1f} s**")
    row("preprocess job", lambda r: f"{r['preprocess']['s']:.1f} s, {r['preprocess']['max_rss']:.0f} MB")
    row("train jobs: sum of wall times", lambda r: f"{jobs(r, 'train')['s'].sum():.1f} s")
    row("evaluate jobs: mean wall, peak RSS",
        lambda r: f"{jobs(r, 'evaluate')['s'].mean():.2f} s, {jobs(r, 'evaluate')['max_rss'].max():.0f} MB")
    row("report job", lambda r: f"{r['report']['s']:.1f} s, {r['report']['max_rss']:.0f} MB")
    row("per-job fixed overhead (train: wall − SGD − monitoring)", lambda r: f"{jobs(r, 'train')['overhead_s'].mean():.2f} s")
    if len(results) == 2:
        a, b = sorted(results, key=lambda r: r["cores"])
        lines += ["", f"Speed-up from 1 to 2 cores (train + evaluate + report): **{a['rest_s'] / b['rest_s']:.2f}×**"]
    last = results[-1]
    t = last["jobs"][last["jobs"]["kind"] == "train"]
    m = last["manifest"]
    n_train = m["splits"]["train"][1] - m["splits"]["train"][0]
    all_rows = m["splits"]["test"][1]
    train_mb = n_train * m["features"] * 4 / 1e6
    all_mb = all_rows * m["features"] * 4 / 1e6
    lines += ["", f"## Training jobs (--cores {last['cores']}), per topology, mean over seeds", "",
              "| topology | parameters | SGD s/epoch | monitoring s/epoch | job wall s | overhead s | peak RSS MB | RSS / (train data + model) | RSS / (all splits + model) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for topo, g in t.groupby("topology", sort=False):
        model_mb = g["n_params"].iloc[0] * 4 / 1e6
        rss = g["max_rss"].max()
        lines.append(f"| {topo} | {int(g['n_params'].iloc[0]):,} | {g['sgd_s_per_epoch'].mean():.3f} | {g['monitor_s_per_epoch'].mean():.3f} | "
                     f"{g['s'].mean():.1f} | {g['overhead_s'].mean():.2f} | {rss:.0f} | {rss / (train_mb + model_mb):.2f} | "
                     f"{rss / (all_mb + model_mb):.2f} |")
    lines += ["", f"float32 data: training split {train_mb:.0f} MB (memory-mapped), all three splits {all_mb:.0f} MB "
              "(training streams validation and test from the file for its per-epoch monitoring).", "",
              "## Start-up and scale", "",
              "| measurement | seconds |", "|---|---:|"]
    for mod, sec in imports.items():
        lines.append(f"| `python -c 'import {mod}'` | {sec:.2f} |")
    lines.append(f"| dry run of a {dag[1]:,}-train-job sweep (200 topologies × 5 seeds, `snakemake -n`) | {dag[0]:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEBIAN, help="folder with the four IDX .gz files (default: Debian's Fashion-MNIST)")
    ap.add_argument("--cores", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "pipeline.md")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        sys.exit(f"{args.data} is missing: apt-get install dataset-fashion-mnist, or give --data")
    with tempfile.TemporaryDirectory(prefix="mlpsweep-bench-") as tmp:
        root = Path(tmp)
        results = [run(c, args.data, root) for c in args.cores]
        imports = {m: import_seconds(m) for m in ("numpy", "mlpsweep.train", "mlpsweep.report.build")}
        dag = dry_run_1000(root, args.data)
    text = report(results, imports, dag)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
