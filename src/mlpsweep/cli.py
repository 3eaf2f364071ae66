"""``python -m mlpsweep <stage> …``: every workflow stage, callable without Snakemake.

Stages: ``download``, ``preprocess``, ``train`` (one run, or several in one
process), ``evaluate``, ``report``, ``study-job`` (a job a study kind
declares beyond training runs) and ``compare`` (does a results tree reproduce
another?).  Each
logs its progress to stderr and, on a known failure (bad settings, a corrupt
file, no source reachable), prints one line ``mlpsweep <stage>: error: …``
and exits without leaving partial output.  Exit status: 0 done, 1 an expected
error (the line says what and how to fix it), 2 a usage error, 3 a training
run that diverged under ``--fail-on-divergence``, 130 interrupted.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import sys

from . import __version__

EXIT_ERROR, EXIT_USAGE, EXIT_DIVERGED = 1, 2, 3


def _expected_errors() -> tuple:
    from .data.datasets import DatasetSpecError
    from .data.download import DownloadError
    from .data.idx import IdxError
    from .data.preprocess import PreprocessedDataError
    from .nn.io import ModelFileError

    # ValueError covers the settings (SettingsError), the config, the arithmetic mode, compare's folders and
    # invalid arguments.
    return (DatasetSpecError, DownloadError, IdxError, PreprocessedDataError, ModelFileError, ValueError)


def _dataset_spec(args):
    from .data import datasets

    if args.spec:
        try:
            raw = json.loads(args.spec)
        except ValueError as exc:
            raise datasets.DatasetSpecError(f"--spec is not valid JSON ({exc})") from None
        name = raw.pop("name", args.dataset)
        if not name:
            raise datasets.DatasetSpecError("--spec needs a 'name' (or give --dataset)")
        return datasets.DatasetSpec.from_dict(name, raw)
    if not args.dataset:
        raise datasets.DatasetSpecError("give --dataset NAME (mnist, fashion-mnist) or --spec JSON")
    if args.definition:
        return datasets.resolve(args.dataset, {args.dataset: _json_arg(args.definition, "--definition")})
    return datasets.resolve(args.dataset)


def _add_dataset_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", help="a built-in dataset: mnist or fashion-mnist")
    p.add_argument(
        "--definition", help="with --dataset: what the config's dataset_definitions says of it, as JSON (e.g. sources)"
    )
    p.add_argument("--spec", help="a full dataset definition as JSON, with its name")


def _refuse_foreign(path, what: str, is_ours) -> None:
    """Refuse to write over an existing file a command did not make (``is_ours`` says which files it makes)."""
    from pathlib import Path

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder; give a file's path")
    if path.exists() and not is_ours(path):
        raise ValueError(f"{what} {path} exists and is not a file mlpsweep wrote; give a new path or move it away")


def cmd_download(args) -> int:
    from .data import cache
    from .data.download import FetchOptions, fetch_dataset

    spec = _dataset_spec(args)
    if args.record:
        _refuse_foreign(args.record, "--record", lambda p: cache.is_download_record(p, spec.name))
    opts = FetchOptions(timeout=args.timeout, retries=args.retries, backoff=args.backoff)
    paths = fetch_dataset(spec, args.dest, opts)
    if args.record:
        from .data.download import write_record

        write_record(args.record, spec, paths)
    else:
        for role, path in paths.items():
            print(f"{role}\t{path}")
    return 0


def cmd_preprocess(args) -> int:
    from .data.preprocess import preprocess

    spec = _dataset_spec(args)
    preprocess(
        spec,
        args.raw_dir,
        args.out_dir,
        validation_size=args.validation_size,
        validation_seed=args.validation_seed,
        normalize=args.normalize,
    )
    return 0


def cmd_check_caches(args) -> int:
    from pathlib import Path

    from .atomic import write_json
    from .data import cache
    from .data.download import FetchOptions

    spec = _dataset_spec(args)
    record, data_dir = Path(args.record), Path(args.data_dir)
    _refuse_foreign(args.out, "--out", cache.is_check_record)
    done = cache.repair(
        spec,
        record,
        data_dir,
        FetchOptions(timeout=args.timeout, retries=args.retries, backoff=args.backoff),
        validation_size=args.validation_size,
        validation_seed=args.validation_seed,
        normalize=args.normalize,
    )
    for line in done:
        logging.getLogger("mlpsweep.cache").warning("%s", line)
    left = cache.problem(record, data_dir / "manifest.json")
    if left:
        raise ValueError(f"the caches are still damaged after the repair: {left}")
    write_json(args.out, {"dataset": spec.name, "state": args.state, "repaired": done})
    logging.getLogger("mlpsweep.cache").info(
        "%s: download and arrays verified%s", spec.name, f"; repaired {len(done)}" if done else ""
    )
    return 0


def _json_arg(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object")
    return value


def _runs_arg(args) -> list:
    """The runs of a ``train`` job: ``--runs JSON`` (several) or ``--settings``, ``--seed``, ``--out-dir``."""
    from .train import Run

    one = (args.settings, args.seed, args.out_dir)
    if args.runs is None:
        if None in one:
            raise ValueError("give --settings, --seed and --out-dir for one run, or --runs for several")
        return [Run(args.name, args.seed, _json_arg(args.settings, "--settings"), args.out_dir)]
    if any(v is not None for v in one):
        raise ValueError("--runs replaces --settings, --seed and --out-dir; give one or the other")
    try:
        runs = json.loads(args.runs)
    except ValueError as exc:
        raise ValueError(f"--runs is not valid JSON ({exc})") from None
    keys = {"name", "seed", "settings", "out_dir"}
    if not (isinstance(runs, list) and runs and all(isinstance(r, dict) and set(r) == keys for r in runs)):
        raise ValueError(f"--runs must be a non-empty JSON list of objects with the keys {sorted(keys)}")
    most = default("training.runs_per_job", "maximum")
    if len(runs) > most:
        raise ValueError(f"--runs has {len(runs):,} runs; one job trains at most {most} (training.runs_per_job)")
    for i, r in enumerate(runs):
        seed = r["seed"]
        if not isinstance(r["settings"], dict) or isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"--runs[{i}]: seed must be an integer and settings an object")
        if not 0 <= seed <= 2**32 - 1:
            raise ValueError(f"--runs[{i}]: seed {seed} is outside 0 … 2**32 - 1")
        if not isinstance(r["out_dir"], str) or not r["out_dir"]:
            raise ValueError(f"--runs[{i}]: out_dir must be a folder's path")
    return [Run(**r) for r in runs]


def cmd_train(args) -> int:
    from .train import run

    run(
        args.data,
        _runs_arg(args),
        name=args.name,
        threads=args.threads,
        fail_on_divergence=args.fail_on_divergence,
        checkpoint_dir=args.checkpoint_dir,
        checkpoint_every=args.checkpoint_every,
        keep_checkpoints=args.keep_checkpoints,
        track_gradients=args.track_gradients,
        stop_at_epoch=args.stop_at_epoch,
        monitor_rows=args.monitor_rows or None,
        test_by_need=not args.test_every_epoch,
        engine=args.engine,
        max_mem_mb=args.max_mem_mb,
        max_minutes=args.max_runtime,
    )
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import run

    run(args.data, args.model_dir, args.out_dir)
    return 0


def cmd_report(args) -> int:
    from .report.build import build_from_inputs
    from .report.inputs import read_report_inputs

    build_from_inputs(read_report_inputs(args.inputs))
    return 0


def cmd_study_job(args) -> int:
    from .studies import kind

    kind(args.kind).run_job(
        args.job, _json_arg(args.arguments, "--arguments"), args.outputs, data_dir=args.data, threads=args.threads
    )
    return 0


def cmd_compare(args) -> int:
    from .compare import run

    return run(args.reference, args.results, margin_pp=args.margin_pp, alpha=args.alpha, out=args.out)


def default(key: str, field: str = "default"):
    """A command-line default: the config schema's default of ``key`` (one source for both), or its ``field``."""
    from .config import schema_default

    return schema_default(key, field)


def _at_least(low: int):
    """An argparse type: a whole number of at least ``low`` (``--threads 0`` is a usage error, not a job that runs)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return value

    parse.__name__ = f"whole number >= {low}"
    return parse


def _seed(text: str) -> int:
    """An argparse type: a seed, as the config takes it (0 … 2³² − 1)."""
    value = _at_least(0)(text)
    if value > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"{value} is above 2**32 - 1, the largest seed")
    return value


def _bounded_float(low: float, high: float, *, open_low: bool = False, open_high: bool = False):
    """An argparse type: a finite number between ``low`` and ``high`` (each end open or closed)."""
    import math

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        above = value > low if open_low else value >= low
        below = value < high if open_high else value <= high
        if not (math.isfinite(value) and above and below):
            ends = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
            raise argparse.ArgumentTypeError(f"{value} is not a finite number in {ends}")
        return value

    parse.__name__ = "number"
    return parse


def _positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{value} is not a finite number above 0")
    return value


def _add_data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, help="preprocessed data folder (manifest.json, images.npy, labels.npy)")


def _add_download_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=default("download.timeout"),
        help="seconds for connecting and for each read (%(default)s)",
    )
    p.add_argument(
        "--retries",
        type=_at_least(0),
        default=default("download.retries"),
        help="extra attempts per source on transient errors (%(default)s)",
    )
    p.add_argument(
        "--backoff",
        type=_bounded_float(0, 3600),
        default=default("download.backoff"),
        help="seconds before the first retry, doubling (%(default)s)",
    )


def _add_preprocess_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--validation-size",
        type=_at_least(1),
        default=default("data.validation_size"),
        help="validation rows taken from training (%(default)s)",
    )
    p.add_argument(
        "--validation-seed",
        type=_seed,
        default=default("data.validation_seed"),
        help="seed for a random validation split (default: the last rows)",
    )
    p.add_argument(
        "--normalize",
        choices=["unit", "standardize"],
        default=default("data.normalize"),
        help="pixel scaling (%(default)s; unit: [0, 1])",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlpsweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", action="version", version=f"mlpsweep {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    parser.add_argument(
        "--arithmetic",
        choices=["exact", "native"],
        help="exact: every result the correctly rounded value of its mathematics, the same bytes on any "
        "computer; native: the BLAS's and NumPy's own float32 kernels (faster; the same bytes only on the same "
        "kernel, SIMD level and versions) (default: $MLPSWEEP_ARITHMETIC, else exact; mlpsweep.arithmetic)",
    )
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module of your own that a setting names (a study kind, an update rule); importing it runs its "
        "code, so it is imported only when named here (the workflow passes the config's plugins)",
    )
    sub = parser.add_subparsers(dest="command", metavar="STAGE")

    p = sub.add_parser("download", help="fetch and verify a dataset's four IDX files")
    _add_dataset_args(p)
    p.add_argument("--dest", required=True, help="folder for the downloaded files")
    _add_download_args(p)
    p.add_argument("--record", help="write a JSON record of the verified files here (the workflow's output)")
    p.set_defaults(func=cmd_download)

    p = sub.add_parser("preprocess", help="IDX files to memory-mappable float32 arrays and a manifest")
    _add_dataset_args(p)
    p.add_argument("--raw-dir", required=True, help="folder with the downloaded IDX files")
    p.add_argument("--out-dir", required=True, help="folder for images.npy, labels.npy, manifest.json")
    _add_preprocess_args(p)
    p.set_defaults(func=cmd_preprocess)

    p = sub.add_parser("check-caches", help="verify a dataset's cached download and arrays; repair what changed")
    _add_dataset_args(p)
    _add_download_args(p)
    _add_preprocess_args(p)
    p.add_argument("--record", required=True, help="the download's record (download.json)")
    p.add_argument("--data-dir", required=True, help="the preprocessed data folder")
    p.add_argument("--state", default="ok", help="what the workflow saw when it planned this check (recorded)")
    p.add_argument("--out", required=True, help="JSON file written when every cache is right")
    p.set_defaults(func=cmd_check_caches)

    p = sub.add_parser("train", help="train one run, or several runs of one shape together (each as alone)")
    _add_data_arg(p)
    p.add_argument("--settings", help="one run: the topology's settings as JSON (hidden, activation, …)")
    p.add_argument("--seed", type=_seed, help="one run: seed of the run's random generator (0 … 2³² − 1)")
    p.add_argument("--out-dir", help="one run: folder for model.npz, model.json, history.csv")
    p.add_argument(
        "--runs", help='several runs, as a JSON list: [{"name": …, "seed": …, "settings": {…}, "out_dir": …}, …]'
    )
    p.add_argument("--name", help="the topology's name (one run) or the stack's (several): for logs and metadata")
    p.add_argument(
        "--threads", type=_at_least(1), default=default("resources.train.threads"), help="BLAS threads (%(default)s)"
    )
    p.add_argument("--fail-on-divergence", action="store_true", help="exit non-zero when a cost becomes non-finite")
    p.add_argument("--checkpoint-dir", help="save the state here after epochs and resume from it when rerun")
    p.add_argument(
        "--checkpoint-every",
        type=_at_least(1),
        default=default("training.checkpoint_every"),
        help="epochs between checkpoints (%(default)s)",
    )
    p.add_argument("--keep-checkpoints", action="store_true", help="keep the checkpoint after the job completes")
    p.add_argument(
        "--stop-at-epoch",
        type=_at_least(1),
        help="train only up to this epoch and keep the checkpoint (a rung of successive halving)",
    )
    p.add_argument(
        "--track-gradients",
        action="store_true",
        help="record per-layer bias-gradient norms at initialisation and every epoch",
    )
    p.add_argument(
        "--monitor-rows",
        type=_at_least(0),
        default=default("training.monitor_rows"),
        help="training rows whose cost and accuracy are recorded each epoch, a fixed sample; 0: all (%(default)s)",
    )
    p.add_argument(
        "--engine",
        choices=("compiled", "reference"),
        default=default("training.engine"),
        help="the compiled step where it covers the runs' settings, or always the reference step; the same bytes "
        "(%(default)s)",
    )
    p.add_argument(
        "--test-every-epoch",
        action="store_true",
        help="evaluate the test set after every epoch, not only at the best-validation epoch and the last",
    )
    p.add_argument(
        "--max-runtime",
        type=_positive_float,
        default=default("resources.max_runtime"),
        help="the minutes the job may take by its estimate; beyond it, refused before training (%(default)s)",
    )
    p.add_argument(
        "--max-mem-mb",
        type=_at_least(1),
        help="the memory (MB) the job may take by its estimate; beyond it, refused before allocating "
        "(default: this machine's)",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test-set metrics and predictions of a trained model")
    _add_data_arg(p)
    p.add_argument("--model-dir", required=True, help="folder with model.npz, model.json, history.csv")
    p.add_argument("--out-dir", required=True, help="folder for metrics.json and predictions.npy")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("study-job", help="a job of a study kind beyond training runs (a measurement, a fit, a table)")
    p.add_argument("--kind", required=True, help="the study kind (built in, or a module of your own)")
    p.add_argument("--study", help="the study's name (for logs)")
    p.add_argument("--job", required=True, help="which of the kind's jobs")
    p.add_argument("--arguments", required=True, help="the job's arguments as JSON (what the kind's jobs() gives)")
    p.add_argument("--outputs", nargs="+", required=True, help="the files the job writes")
    p.add_argument("--data", help="preprocessed data folder, for a job that reads a dataset")
    p.add_argument(
        "--threads", type=_at_least(1), default=default("resources.train.threads"), help="BLAS threads (%(default)s)"
    )
    p.set_defaults(func=cmd_study_job)

    p = sub.add_parser("compare", help="does a results tree reproduce a published one? (exit 0 yes, 1 no)")
    p.add_argument("reference", help="the published report folder, or a dataset's results folder holding report/")
    p.add_argument("results", help="the new report folder or dataset results folder")
    p.add_argument(
        "--margin-pp",
        type=_bounded_float(0, 100, open_low=True),
        default=1.0,
        help="equivalence margin for a topology's mean test accuracy, in percentage points (%(default)s)",
    )
    p.add_argument(
        "--alpha",
        type=_bounded_float(0, 0.5, open_low=True),
        default=default("verdicts.alpha"),
        help="test level (%(default)s)",
    )
    p.add_argument("--out", help="also write compare.md and compare.html into this folder")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("report", help="the comparison report (HTML, Markdown, CSV, plots) of one dataset")
    p.add_argument(
        "--inputs",
        required=True,
        help="JSON file naming every run's files, the studies and the config (see mlpsweep.report.inputs)",
    )
    p.set_defaults(func=cmd_report)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from . import arithmetic, plugins

    plugins.declare(args.plugin)
    try:
        arithmetic.prepare(args.arithmetic)
        logging.getLogger("mlpsweep.arithmetic").info("%s", arithmetic.summary())
    except arithmetic.ArithmeticModeError as exc:
        print(f"mlpsweep {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    from .nn import Diverged

    try:
        return args.func(args)
    except Diverged as exc:
        print(
            f"mlpsweep {args.command}: error: {exc} (--fail-on-divergence; without it the run is recorded as diverged)",
            file=sys.stderr,
        )
        return EXIT_DIVERGED
    except _expected_errors() as exc:
        print(f"mlpsweep {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:  # a path it was given: missing, a file for a folder, too long, no space, no permission
        print(f"mlpsweep {args.command}: error: {_os_error(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except RecursionError:
        print(f"mlpsweep {args.command}: error: an input is nested too deeply to be a setting", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"mlpsweep {args.command}: interrupted", file=sys.stderr)
        return 130


#: What to do about an OSError on a path, by its errno.
_OS_FIXES = {
    errno.ENOSPC: "free some space and run it again (no partial file was left)",
    errno.EDQUOT: "free some space and run it again (no partial file was left)",
    errno.ENAMETOOLONG: "give a shorter path",
    errno.EACCES: "give a path you may write to",
    errno.EPERM: "give a path you may write to",
    errno.EROFS: "give a path on a writable file system",
    errno.ENOTDIR: "a file stands where a folder is needed; give another path",
    errno.EISDIR: "a folder stands where a file is needed; give another path",
    errno.EEXIST: "something else is there already; give another path",
    errno.ENOENT: "check the path",
}


def _os_error(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "a file"
    what = exc.strerror or str(exc)
    fix = _OS_FIXES.get(exc.errno)
    return f"{where}: {what}" + (f"; {fix}" if fix else "")
