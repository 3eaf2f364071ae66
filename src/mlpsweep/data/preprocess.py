"""From four verified IDX files to arrays that training jobs load in milliseconds.

The output folder holds

``images.npy``
    float32, shape (n_train + n_val + n_test, rows·cols): pixels scaled to
    [0, 1] (or standardised with the training split's per-pixel mean and
    standard deviation), flattened to 784 for MNIST;
``labels.npy``
    uint8, the class of each row;
``manifest.json``
    the split as row ranges (train, then validation, then test), the
    normalisation, the content sha256 of the four source files, and the
    sha256 and size of both array files.

Rows are stored in split order, so every split is a contiguous slice of one
memory-mapped array: loading is a page-table operation, not a copy.  By
default the validation split is the last 10,000 of the 60,000 training
images (the lecture and Nielsen's book: 50,000 / 10,000 / 10,000); its size
is configurable, and with ``validation_seed`` it is a seeded random subset
instead.  Nothing is pickled; everything is written atomically.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, write_json
from .datasets import DatasetSpec
from .idx import check_pair, read_images, read_labels

log = logging.getLogger("mlpsweep.preprocess")

FORMAT = "mlpsweep.preprocessed"
NORMALIZE = ("unit", "standardize")
ARRAYS = ("images.npy", "labels.npy")


class PreprocessedDataError(ValueError):
    """Preprocessed data that is missing, stale or does not match its manifest."""


def file_sha256(path, chunk: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def column_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Each column's mean and (population) standard deviation, each the exact value rounded once to float32
    (exact arithmetic: the same bytes on any computer), a constant column's deviation 1 (so that it stays 0
    after centring); and the mean of the exact means, rounded once.  Exact sums over each column's distinct
    values (a pixel column has at most 256) with their counts, as fractions."""
    from decimal import Decimal

    from ..nn.exact import round_to_float32
    from ..nn.exact_functions import ziv

    m = x.shape[0]
    means, stds, total = [], [], Fraction(0)
    for column in x.T:
        values, counts = np.unique(column, return_counts=True)
        pairs = [(Fraction(v), int(c)) for v, c in zip(values.tolist(), counts.tolist())]
        mean = sum((v * c for v, c in pairs), Fraction(0)) / m
        var = sum((c * (v - mean) ** 2 for v, c in pairs), Fraction(0)) / m
        total += mean
        means.append(round_to_float32(mean))
        if var < Fraction(1, 10**12):  # a constant pixel (e.g. MNIST's border)
            stds.append(np.float32(1.0))
        else:
            num, den = Decimal(var.numerator), Decimal(var.denominator)
            stds.append(ziv(lambda ctx, num=num, den=den: ctx.sqrt(ctx.divide(num, den))))
    return np.array(means, dtype=np.float32), np.array(stds, dtype=np.float32), float(total / x.shape[1])


def preprocess(
    spec: DatasetSpec,
    raw_dir,
    out_dir,
    *,
    validation_size: int = 10_000,
    validation_seed: int | None = None,
    normalize: str = "unit",
) -> dict:
    """Build ``images.npy``, ``labels.npy`` and ``manifest.json`` in ``out_dir``."""
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if normalize not in NORMALIZE:
        raise ValueError(f"normalize must be one of {NORMALIZE}, got {normalize!r}")
    paths = {role: raw_dir / f.name for role, f in spec.files.items()}
    read = {}
    for role, f in spec.files.items():
        if role.endswith("images"):
            read[role] = read_images(paths[role], sha256=f.sha256)
        else:
            read[role] = read_labels(paths[role], classes=spec.classes, sha256=f.sha256)
    check_pair(read["train_images"], read["train_labels"], paths["train_images"], paths["train_labels"])
    check_pair(read["test_images"], read["test_labels"], paths["test_images"], paths["test_labels"])
    if read["train_images"].shape[1:] != read["test_images"].shape[1:]:
        raise ValueError(
            f"{paths['train_images']} has images of {read['train_images'].shape[1:]}, "
            f"{paths['test_images']} of {read['test_images'].shape[1:]}"
        )
    n_full = read["train_images"].shape[0]
    if not 0 < validation_size < n_full:
        raise ValueError(f"validation_size must be between 1 and {n_full - 1}, got {validation_size}")

    if validation_seed is None:
        order = np.arange(n_full)
    else:
        order = np.random.default_rng(validation_seed).permutation(n_full)
    train_idx, val_idx = order[: n_full - validation_size], order[n_full - validation_size :]
    n_train, n_test = train_idx.size, read["test_images"].shape[0]
    total = n_train + validation_size + n_test
    d = int(np.prod(read["train_images"].shape[1:]))

    images = np.empty((total, d), dtype=np.float32)
    labels = np.empty(total, dtype=np.uint8)
    flat_train = read["train_images"].reshape(n_full, d)
    full = np.float32(255)
    np.divide(flat_train[train_idx], full, out=images[:n_train])
    np.divide(flat_train[val_idx], full, out=images[n_train : n_train + validation_size])
    np.divide(read["test_images"].reshape(n_test, d), full, out=images[n_train + validation_size :])
    labels[:n_train] = read["train_labels"][train_idx]
    labels[n_train : n_train + validation_size] = read["train_labels"][val_idx]
    labels[n_train + validation_size :] = read["test_labels"]

    stats = None
    if normalize == "standardize":
        mean, std, mean_of_means = column_stats(images[:n_train])
        images -= mean
        images /= std
        stats = {"mean_of_means": mean_of_means, "per_pixel": True}

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, array in zip(ARRAYS, (images, labels)):
        target = out_dir / name
        with atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, array, allow_pickle=False)
            st = tmp.stat()  # the rename keeps size and mtime: later runs compare them first
            files[name] = {"sha256": file_sha256(tmp), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    manifest = {
        "format": FORMAT,
        "version": 1,
        "dataset": spec.name,
        "description": spec.description,
        "class_names": list(spec.class_names),
        "image_shape": list(read["train_images"].shape[1:]),
        "features": d,
        "dtype": "float32",
        "normalize": normalize,
        "standardize_stats": stats,
        "splits": {
            "train": [0, n_train],
            "validation": [n_train, n_train + validation_size],
            "test": [n_train + validation_size, total],
        },
        "validation": {"size": validation_size, "seed": validation_seed},
        "sources": {role: {"name": f.name, "sha256": f.sha256, "bytes": f.bytes} for role, f in spec.files.items()},
        "files": files,
    }
    write_json(out_dir / "manifest.json", manifest)
    log.info(
        "%s: %d train / %d validation / %d test rows of %d features (%s) in %s",
        spec.name,
        n_train,
        validation_size,
        n_test,
        d,
        normalize,
        out_dir,
    )
    return manifest


class StreamedRows:
    """Rows of one split of ``images.npy``, read from the file only when sliced.

    Used for the validation and test sets that a training job evaluates once
    per epoch: reading 10,000 rows at a time into a fresh array keeps them
    out of the job's resident memory, unlike a memory map whose pages stay
    mapped (and counted) once touched.  Supports ``shape``, ``dtype``,
    ``len`` and slicing with step 1.
    """

    streamed = True

    def __init__(self, path: Path, offset: int, start: int, stop: int, features: int, dtype):
        self.path, self.offset, self.start = Path(path), offset, start
        self.dtype = np.dtype(dtype)
        self.shape = (stop - start, features)
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if not isinstance(key, slice):
            raise TypeError("StreamedRows supports slices only")
        start, stop, step = key.indices(self.shape[0])
        if step != 1:
            raise ValueError("StreamedRows supports step 1 only")
        return self.read(start, stop)

    def read(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``start:stop`` (clipped to the split), read into the first rows of ``out`` when given (a
        C-contiguous array of this dtype and width, reused across calls so no fresh pages are touched)."""
        start, stop = max(0, start), min(stop, self.shape[0])
        n, d = max(0, stop - start), self.shape[1]
        rows = np.empty((n, d), dtype=self.dtype) if out is None else out[:n]
        with open(self.path, "rb") as fh:
            fh.seek(self.offset + (self.start + start) * d * self.dtype.itemsize)
            got = fh.readinto(memoryview(rows).cast("B")) if n else 0
        if got != rows.nbytes:
            raise ValueError(
                f"{self.path}: rows {start}–{stop} of the split end early (the file is truncated); "
                "preprocess the data again"
            )
        return rows


@dataclass
class Dataset:
    """The splits of a preprocessed dataset, as read-only memory-mapped views."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    manifest: dict

    @property
    def classes(self) -> int:
        return len(self.manifest["class_names"])

    @property
    def features(self) -> int:
        return int(self.manifest["features"])

    def streamed(self, split: str) -> StreamedRows:
        """The images of ``split`` ("validation", "test") read on demand (see :class:`StreamedRows`)."""
        images = self.x_train.base if isinstance(self.x_train.base, np.memmap) else self.x_train
        if not isinstance(images, np.memmap):
            raise ValueError("streaming needs a memory-mapped dataset (load(..., mmap=True))")
        start, stop = self.manifest["splits"][split]
        return StreamedRows(images.filename, images.offset, start, stop, self.features, images.dtype)


def read_manifest(folder) -> dict:
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PreprocessedDataError(
            f"{path}: missing; run `python -m mlpsweep preprocess` (or snakemake) first"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise PreprocessedDataError(
            f"{path}: not valid JSON ({exc}); delete {Path(folder)} and preprocess again"
        ) from exc
    if manifest.get("format") != FORMAT:
        raise PreprocessedDataError(f"{path}: not an mlpsweep preprocessed-data manifest")
    return manifest


def verify(folder, manifest: dict | None = None, quick: bool = False) -> str | None:
    """None when both array files match the manifest's sha256 and size, else why not.

    ``quick``: a file whose size and mtime are still those recorded when it was
    written is taken as unchanged without hashing it (a stat instead of ~0.2 s
    of sha256 for MNIST); any other file is hashed.
    """
    folder = Path(folder)
    try:
        manifest = manifest or read_manifest(folder)
    except PreprocessedDataError as exc:
        return str(exc)
    for name in ARRAYS:
        path = folder / name
        want = manifest["files"].get(name, {})
        if not path.exists():
            return f"{path} is missing"
        st = path.stat()
        if st.st_size != want.get("bytes"):
            return f"{path} is {st.st_size} bytes, its manifest says {want.get('bytes')}"
        if quick and want.get("mtime_ns") == st.st_mtime_ns:
            continue
        if file_sha256(path) != want.get("sha256"):
            return f"{path} does not match the sha256 in its manifest"
    return None


def content_problem(manifest: dict, images: np.ndarray, labels: np.ndarray) -> str | None:
    """Why arrays that match their manifest's hashes still cannot be this dataset, or None: splits that overlap,
    leave the arrays or are out of order (train, validation, test); images that are not rows of finite pixels of
    the recorded width; labels that are not one class index per image."""
    try:
        splits = [manifest["splits"][k] for k in ("train", "validation", "test")]
        classes, features = len(manifest["class_names"]), int(manifest["features"])
    except (KeyError, TypeError, ValueError):
        return "its manifest lacks the splits, class names or features"
    if images.ndim != 2 or images.shape[1] != features or labels.shape != (images.shape[0],):
        return f"images {images.shape} and labels {labels.shape} are not {features}-pixel rows with a label each"
    end = 0
    for name, split in zip(("train", "validation", "test"), splits):
        if not (isinstance(split, list) and len(split) == 2 and all(isinstance(v, int) for v in split)):
            return f"the {name} split {split!r} is not [start, stop]"
        if not end <= split[0] <= split[1] <= images.shape[0]:
            return f"the {name} split {split} overlaps an earlier split or leaves the {images.shape[0]} rows"
        end = split[1]
    if classes < 2 or labels.dtype.kind not in "iu" or (labels.size and int(labels.max()) >= classes):
        return f"labels are not class indices 0..{classes - 1}"
    if images.dtype.kind != "f":
        return f"images are {images.dtype}, not floating-point pixels"
    for start in range(0, images.shape[0], 8192):  # NaN or ±inf anywhere shows in a block's min or max
        block = images[start : start + 8192]
        if block.size and not (np.isfinite(block.min()) and np.isfinite(block.max())):
            return f"images hold a non-finite pixel in rows {start}–{start + len(block) - 1}"
    return None


def load(folder, *, check: bool | str = "quick", mmap: bool = True) -> Dataset:
    """Open a preprocessed dataset, verifying it first.

    ``check``: ``"quick"`` (the default) hashes only files whose size or mtime
    changed since they were written, ``True`` always hashes, ``False`` trusts.
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    if check:
        problem = verify(folder, manifest, quick=check == "quick")
        if problem:
            raise PreprocessedDataError(f"{problem}; delete {folder} and preprocess again (snakemake rebuilds it)")
    mode = "r" if mmap else None
    try:
        images = np.load(folder / "images.npy", mmap_mode=mode, allow_pickle=False)
        labels = np.load(folder / "labels.npy", mmap_mode=mode, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PreprocessedDataError(f"{folder}: unreadable array file ({exc}); delete it and preprocess again") from exc
    problem = content_problem(manifest, images, labels)
    if problem:
        raise PreprocessedDataError(f"{folder}: {problem}; delete it and preprocess again")
    s = manifest["splits"]
    part = lambda a, k: a[s[k][0] : s[k][1]]  # noqa: E731
    return Dataset(
        name=manifest["dataset"],
        x_train=part(images, "train"),
        y_train=part(labels, "train"),
        x_val=part(images, "validation"),
        y_val=part(labels, "validation"),
        x_test=part(images, "test"),
        y_test=part(labels, "test"),
        manifest=manifest,
    )
