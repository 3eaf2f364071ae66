"""Certifying a results tree: everything its report says, recomputed from the tree's primary artefacts.

A report's tables are claims; a tree's models and predictions are the evidence.  :func:`certify` takes a
dataset's results folder (``results/{dataset}/``: ``report/``, ``models/``, ``eval/``, and ``data/`` or another
tree's arrays of the same fingerprint) and checks, naming every file that fails:

* every run the report rests on (``report/inputs.json``) has its ``model.npz``, ``model.json``,
  ``history.csv``, ``metrics.json`` and ``predictions.npy``; ``model.json`` says what ``model.npz`` records of
  the run (name, seed, settings, status);
* the arrays are those their manifest hashes (every byte read), and their fingerprint is the one the report
  records;
* each run's test accuracy, errors, confusion matrix and per-class accuracy are recomputed from its predictions
  and the dataset's test labels; a run that claims exact arithmetic is evaluated again from its model, and its
  ``predictions.npy`` and ``metrics.json`` must come out byte for byte (exact arithmetic gives the same bytes on
  any computer);
* the report is built again from those files, with the time and environment it declares (``build.json``),
  and every file of ``report/`` must be what the rebuild writes, byte for byte: runs.csv, comparison.csv,
  pairwise.csv, verdicts.csv, report.md, report.html and the plots;
* no file lies in ``report/``, ``models/`` or ``eval/`` that no run or rebuild accounts for.

What cannot be recomputed — training itself — is compared between two trees by :mod:`mlpsweep.compare`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .nn.history import results_csv

#: The files of a run, by the folder they lie in: the model's folder and the evaluation's.
MODEL_FILES = ("model.npz", "model.json", "history.csv")
EVAL_FILES = ("metrics.json", "predictions.npy")


class CertifyError(ValueError):
    """A folder that is not a results tree that can be certified (the message names it)."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class Run:
    """One run of a tree: where its files are, what its model records, and what was recomputed."""

    topology: str
    seed: int
    model_dir: Path
    eval_dir: Path
    mode: str | None = None  # the arithmetic the run claims
    model_sha256: str | None = None
    predictions_sha256: str | None = None
    history: str | None = None  # history.csv without its timing columns


@dataclass
class Tree:
    """A results tree and what :func:`certify` found in it."""

    root: Path
    report: Path
    inputs: dict
    runs: dict = field(default_factory=dict)  # (topology, seed) -> Run
    problems: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    fingerprint: str | None = None  # of the arrays the runs were evaluated on, recomputed
    table: pd.DataFrame | None = None  # runs.csv as rebuilt
    verdicts: pd.DataFrame | None = None  # verdicts.csv as rebuilt
    known: set = field(default_factory=set)  # the files of every run the report names

    @property
    def modes(self) -> set:
        return {r.mode for r in self.runs.values()}

    @property
    def certified(self) -> bool:
        return not self.problems


def tree_of(path) -> tuple[Path, Path]:
    """(the dataset's results folder, its report folder) for ``path``: either of them."""
    path = Path(path)
    for root in (path, path.parent):
        if (root / "report" / "inputs.json").is_file() and (root / "report" / "runs.csv").is_file():
            return root, root / "report"
    raise CertifyError(
        f"{path}: no results tree here (neither it nor its parent holds report/inputs.json and report/runs.csv); "
        "give a dataset's results folder, results/{dataset}"
    )


def _read_json(path: Path, what: str) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CertifyError(f"{path}: cannot read {what} ({exc})") from None
    if not isinstance(doc, dict):
        raise CertifyError(f"{path}: {what} is not a JSON object")
    return doc


def _remap(inputs: dict, root: Path):
    """A function from a path as ``inputs.json`` names it (relative to the workflow's folder) to the same file in
    ``root``, the tree that holds the report; None for a path outside the tree."""
    base = Path(inputs["out_dir"]).parent

    def remap(p) -> Path | None:
        try:
            rel = Path(p).relative_to(base)
        except ValueError:
            return None
        return None if ".." in rel.parts else root / rel

    return remap


@contextlib.contextmanager
def _arithmetic(mode: str | None):
    """Run a block in the arithmetic ``mode`` a run claims (the process's own afterwards)."""
    from . import arithmetic

    before = os.environ.get(arithmetic.ENV_VAR)
    if mode in arithmetic.MODES:
        arithmetic.prepare(mode)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(arithmetic.ENV_VAR, None)
        else:
            os.environ[arithmetic.ENV_VAR] = before


def certify(path, *, data_dir=None, scratch=None) -> Tree:
    """Certify the results tree at ``path`` (see the module docstring); ``data_dir``: the preprocessed arrays to
    use where the tree has none of its own (their fingerprint must be the one the report records)."""
    root, report = tree_of(path)
    from .report.inputs import read_report_inputs

    try:
        inputs = read_report_inputs(report / "inputs.json")
    except ValueError as exc:
        raise CertifyError(str(exc)) from None
    tree = Tree(root, report, inputs)
    remap = _remap(inputs, root)
    data = _data(tree, remap, data_dir)
    _runs(tree, remap)
    if data is None:
        return tree
    with tempfile.TemporaryDirectory(dir=scratch, prefix="mlpsweep-certify-") as tmp:
        for run in tree.runs.values():
            _evaluate(tree, run, data, Path(tmp) / "eval" / f"{run.topology}.{run.seed}")
        _rebuild(tree, remap, data, Path(tmp) / "report")
    _unaccounted(tree)
    return tree


def _data(tree: Tree, remap, data_dir) -> Path | None:
    """The arrays to evaluate on, every byte checked against their manifest, and their fingerprint."""
    from .data.cache import stale_preprocessed
    from .report.build import dataset_fingerprint

    own = remap(tree.inputs["data"])
    folder = own if own is not None and (own / "manifest.json").is_file() else (Path(data_dir) if data_dir else None)
    if folder is None or not (folder / "manifest.json").is_file():
        tree.problems.append(
            f"{tree.root}: no data/ with the preprocessed arrays, so nothing can be recomputed; compare it with a "
            "tree that has them"
        )
        return None
    stale = stale_preprocessed(folder / "manifest.json", full=True)
    if stale:
        tree.problems.append(stale)
        return None
    tree.fingerprint = dataset_fingerprint(_read_json(folder / "manifest.json", "the data's manifest"))
    return folder


def _runs(tree: Tree, remap) -> None:
    """Every run the report rests on: its files present, and its model.json saying what model.npz records."""
    from .nn.io import ModelFileError, read_model_file

    for i, files in enumerate(tree.inputs["runs"]):
        model, metrics = remap(files["model"]), remap(files["metrics"])
        if model is None or metrics is None:
            tree.problems.append(f"{tree.report / 'inputs.json'}: runs[{i}] names files outside the tree")
            continue
        files_of_run = [model.parent / n for n in MODEL_FILES] + [metrics.parent / n for n in EVAL_FILES]
        tree.known.update(files_of_run)
        missing = [p for p in files_of_run if not p.is_file()]
        if missing:
            tree.problems += [f"{p}: missing (the report rests on it)" for p in missing]
            continue
        try:
            _, meta = read_model_file(model)
        except ModelFileError as exc:
            tree.problems.append(str(exc))
            continue
        recorded = meta.get("run") or {}
        doc = _read_json(model.parent / "model.json", "a model's record")
        if any(doc.get(k) != recorded.get(k) for k in ("name", "seed", "settings", "status")):
            tree.problems.append(f"{model.parent / 'model.json'}: says another run than model.npz records")
            continue
        run = Run(recorded["name"], int(recorded["seed"]), model.parent, metrics.parent)
        run.mode = (doc.get("arithmetic") or {}).get("mode")
        run.model_sha256, run.predictions_sha256 = sha256(model), sha256(metrics.parent / "predictions.npy")
        run.history = _history(model.parent / "history.csv")
        tree.runs[(run.topology, run.seed)] = run


def _history(path: Path) -> str:
    """A history without the columns about the machine (:data:`.nn.history.MACHINE_COLUMNS`): what training
    computed, the same for the same arithmetic (the raw bytes, for a file that is not such a table)."""
    try:
        results = results_csv(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        results = None
    return path.read_bytes().hex() if results is None else results


def _evaluate(tree: Tree, run: Run, data: Path, out: Path) -> None:
    """Recompute a run's test numbers from its predictions and the test labels; evaluate an exact run again
    from its model, which must give its predictions and metrics byte for byte."""
    from .data import preprocess
    from .evaluate import ENVIRONMENT_KEYS, confusion_matrix, run as evaluate

    metrics_path, predictions_path = run.eval_dir / "metrics.json", run.eval_dir / "predictions.npy"
    metrics = _read_json(metrics_path, "a run's metrics")
    model = _read_json(run.model_dir / "model.json", "a model's record")
    copied = {k: model.get(k) for k in ENVIRONMENT_KEYS}  # what evaluate copies
    if metrics.get("training_environment") != copied or metrics.get("settings") != model.get("settings"):
        tree.problems.append(f"{metrics_path}: its settings or environment are not its model.json's")
    labels = np.asarray(preprocess.load(data, check=False).y_test)
    try:
        predicted = np.load(predictions_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        tree.problems.append(f"{predictions_path}: not a predictions array ({exc})")
        return
    if metrics.get("status") == "ok":
        if predicted.shape != labels.shape or predicted.dtype != np.uint8:
            tree.problems.append(f"{predictions_path}: not one class per test image ({predicted.shape[0]} values)")
            return
        test = metrics.get("test") or {}
        cm = confusion_matrix(labels, predicted, len(metrics.get("class_names") or []) or int(labels.max()) + 1)
        correct = int(np.trace(cm))
        if (test.get("correct"), test.get("n"), test.get("accuracy")) != (correct, len(labels), correct / len(labels)):
            tree.problems.append(f"{metrics_path}: its test accuracy is not what its predictions score")
        elif metrics.get("confusion_matrix") != cm.tolist():
            tree.problems.append(f"{metrics_path}: its confusion matrix is not its predictions'")
    if run.mode != "exact":
        tree.notes.append(
            "runs in native arithmetic: their predictions are checked against their metrics but not recomputed from "
            "their models (another machine may round otherwise)"
        )
        return
    try:
        with _arithmetic(run.mode), contextlib.redirect_stderr(io.StringIO()):
            evaluate(data, run.model_dir, out)
    except (OSError, ValueError, KeyError) as exc:
        tree.problems.append(f"{run.model_dir}: cannot be evaluated again ({exc})")
        return
    for name in EVAL_FILES:
        if (out / name).read_bytes() != (run.eval_dir / name).read_bytes():
            tree.problems.append(
                f"{run.eval_dir / name}: not what its model gives when evaluated again in exact arithmetic"
            )


def _rebuild(tree: Tree, remap, data: Path, out: Path) -> None:
    """Build the report again from the tree's files and compare every file of ``report/`` with the rebuild."""
    from .report.build import build_from_inputs

    environment = (
        _read_json(tree.report / "build.json", "the report's build record")
        if (tree.report / "build.json").is_file()
        else None
    )
    if environment is None:
        tree.problems.append(f"{tree.report / 'build.json'}: missing, so the report cannot be rebuilt as it was")
        return
    for files in tree.inputs["runs"]:
        paths = [remap(files[k]) for k in ("metrics", "history", "predictions", "model")]
        if None in paths or not all(p.is_file() for p in paths):
            return  # named already
    try:  # the report job's own call, its files mapped into this tree
        build_from_inputs(
            tree.inputs, path=lambda p: str(remap(p) or p), out_dir=out, data_dir=data, environment=environment
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        tree.problems.append(f"{tree.report}: the report cannot be built again from the tree's files ({exc})")
        return
    made = {p.relative_to(out) for p in out.rglob("*") if p.is_file()}
    present = {p.relative_to(tree.report) for p in tree.report.rglob("*") if p.is_file()} - {Path("inputs.json")}
    for rel in sorted(made - present):
        tree.problems.append(f"{tree.report / rel}: missing (the report's rebuild writes it)")
    for rel in sorted(present - made):
        tree.problems.append(f"{tree.report / rel}: not a file the report writes")
    for rel in sorted(made & present):
        if (out / rel).read_bytes() != (tree.report / rel).read_bytes():
            tree.problems.append(f"{tree.report / rel}: not what its runs give (the report built again differs)")
    if (out / "runs.csv").is_file():
        tree.table = pd.read_csv(out / "runs.csv")
    if (out / "verdicts.csv").is_file():
        tree.verdicts = pd.read_csv(out / "verdicts.csv", keep_default_na=False)


#: Files of a tree that no report claim rests on, by the folder they lie in: the arrays' folder, Snakemake's
#: timings of every job (``benchmark:``) and checkpoints a config keeps.
ANCILLARY = {"data": ("manifest.json", "images.npy", "labels.npy", "checked.json"), "benchmarks": "*.tsv"}


def _unaccounted(tree: Tree) -> None:
    """Name every file in the tree that is neither a file of a run the report rests on, a file the report or a
    study it names wrote, nor one of the tree's ancillary files (:data:`ANCILLARY`, kept checkpoints)."""
    known = set(tree.known)
    remap = _remap(tree.inputs, tree.root)
    for paths in (tree.inputs.get("study_files") or {}).values():
        known.update(p for p in map(remap, paths) if p is not None)
    known.update(p for p in map(remap, (tree.inputs.get("stages") or {}).values()) if p is not None)
    for p in sorted(tree.root.rglob("*")):
        if not p.is_file() or p in known:
            continue
        rel = p.relative_to(tree.root)
        top = rel.parts[0]
        if top == "report" or (top == "data" and rel.name in ANCILLARY["data"] and len(rel.parts) == 2):
            continue  # the report's files are compared with its rebuild; the arrays with their manifest
        if (top == "benchmarks" and p.match(ANCILLARY["benchmarks"])) or top in ("checkpoints", "studies", "rungs"):
            continue  # timings, kept checkpoints, and the studies' own files (their reports are theirs)
        tree.problems.append(f"{p}: a file no run of the report accounts for")
