"""Noticing that a cached file changed after it was verified, and making it again.

The download rule records the size and mtime of every file it verified
(``download.json``), the preprocess rule those of its arrays
(``manifest.json``).  :func:`problem` compares them with ``stat`` (cheap);
only a file that changed is hashed again.  It only reads, so the workflow
asks it while it plans (the ``check_caches`` rule's ``state`` parameter):
when a cache was damaged the parameter changes and Snakemake runs that job,
which calls :func:`repair` — a truncated download is fetched again and
re-recorded, a damaged array is rebuilt from the verified download and must
come out byte-identical to its manifest (preprocessing is deterministic), so
the models trained from it stay valid.  The job writes ``checked.json`` with
the state it was run for; :func:`state` returns that value again once the
caches are right, so a repair is followed by nothing to do.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..atomic import read_record
from .datasets import FileSpec
from .download import content_check
from .preprocess import file_sha256


def _changed(path: Path, size, mtime_ns) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return True
    return st.st_size != size or st.st_mtime_ns != mtime_ns


def stale_download(record: Path, full: bool = False) -> str | None:
    """Why the verified download behind ``record`` can no longer be trusted, or None.  Only a file whose size
    or mtime changed is hashed again, unless ``full``."""
    try:
        rec = json.loads(record.read_text(encoding="utf-8"))
        for role, f in rec["files"].items():
            path = record.parent / f["name"]
            if not path.exists():
                return f"{path} is missing"
            if full or _changed(path, f.get("file_size"), f.get("file_mtime_ns")):
                problem = content_check(path, FileSpec(role, f["name"], f["sha256"], f["bytes"]))
                if problem:
                    return f"{path} changed since it was verified: {problem}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{record} is unreadable ({exc})"
    return None


def stale_preprocessed(manifest_path: Path, full: bool = False) -> str | None:
    """Why the arrays ``manifest_path`` describes no longer match it, or None.  Only an array whose size or
    mtime changed is hashed again, unless ``full`` (a flipped byte with its size and mtime put back)."""
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for name, f in manifest["files"].items():
            path = manifest_path.parent / name
            if not path.exists():
                return f"{path} is missing"
            if (full or _changed(path, f.get("bytes"), f.get("mtime_ns"))) and file_sha256(path) != f["sha256"]:
                return f"{path} does not match the sha256 in {manifest_path}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{manifest_path} is unreadable ({exc})"
    return None


def is_download_record(path: Path, dataset: str) -> bool:
    """Whether ``path`` holds what :func:`~.download.write_record` writes for ``dataset`` (a file mlpsweep may
    replace); anything else is someone else's file."""
    rec = read_record(path)
    return rec is not None and rec.get("dataset") == dataset and isinstance(rec.get("files"), dict)


def is_check_record(path: Path) -> bool:
    """Whether ``path`` holds what the ``check-caches`` command writes (its ``--out``)."""
    rec = read_record(path)
    return rec is not None and set(rec) == {"dataset", "state", "repaired"}


def _signature(folder: Path) -> str:
    """Sizes and mtimes of the files in ``folder``: a new damage gives a new signature."""
    parts = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        with contextlib.suppress(OSError):
            st = path.stat()
            parts.append(f"{path.name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256(";".join(parts).encode()).hexdigest()[:16]


def problem(record: Path, manifest: Path) -> str | None:
    """Why a cached download or preprocessed array no longer matches its record, or None (reads only)."""
    why = []
    if record.exists():
        bad = stale_download(record)
        if bad:
            why.append(f"{bad} [{_signature(record.parent)}]")
    if manifest.exists():
        bad = stale_preprocessed(manifest)
        if bad:
            why.append(f"{bad} [{_signature(manifest.parent)}]")
    return "; ".join(why) or None


def state(record: Path, manifest: Path, checked: Path) -> str:
    """The ``check_caches`` job's parameter: the damage, or the state the last check ran for."""
    why = problem(record, manifest)
    if why:
        return f"damaged: {why}"
    try:
        return json.loads(checked.read_text(encoding="utf-8"))["state"]
    except (OSError, ValueError, KeyError, TypeError):
        return "ok"


def repair(dataset, record: Path, data_dir: Path, opts, **preprocess_options) -> list[str]:
    """Fetch damaged downloads again and rebuild damaged arrays byte for byte; returns what was done."""
    from .download import fetch_dataset, write_record
    from .preprocess import preprocess

    done = []
    if record.exists() and not is_download_record(record, dataset.name):
        raise ValueError(
            f"--record {record} is not a download record of {dataset.name} (mlpsweep writes it); "
            "give the dataset's download.json, or move that file away"
        )
    why = stale_download(record, full=True) if record.exists() else None
    if why:
        write_record(record, dataset, fetch_dataset(dataset, record.parent, opts))
        done.append(f"{why}: fetched again and verified")
    manifest_path = data_dir / "manifest.json"
    why = stale_preprocessed(manifest_path, full=True) if manifest_path.exists() else None
    if why:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        with tempfile.TemporaryDirectory(dir=data_dir.parent, prefix=".rebuild-") as tmp:
            preprocess(dataset, record.parent, tmp, **preprocess_options)
            fresh = json.loads((Path(tmp) / "manifest.json").read_text(encoding="utf-8"))
            for name, want in manifest["files"].items():
                if fresh["files"][name]["sha256"] != want["sha256"]:
                    raise ValueError(
                        f"{data_dir / name} rebuilt differs from its manifest (sha256 {fresh['files'][name]['sha256']} "
                        f"instead of {want['sha256']}): the data or the preprocessing settings changed; delete "
                        f"{data_dir} and run again"
                    )
                target = data_dir / name
                if not target.exists() or file_sha256(target) != want["sha256"]:
                    os.replace(Path(tmp) / name, target)
                    # the same bytes as recorded: give them the recorded mtime, so nothing downstream re-runs
                    os.utime(target, ns=(want["mtime_ns"], want["mtime_ns"]))
        done.append(f"{why}: rebuilt byte for byte")
    return done
