"""Atomic file output: write to a temporary file beside the target, then rename.

A reader (or Snakemake) never sees a half-written file: either the old file,
no file, or the complete new one.  On any exception the temporary file is
removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Permissions of a new file (mkstemp makes 0600; outputs should be like any other file).
_FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_path(path, suffix: str | None = None):
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    ``suffix`` (default: the target's own suffix) matters for writers that
    append one, such as ``numpy.savez``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=(path.suffix if suffix is None else suffix) + ".tmp", dir=path.parent
        )
    except OSError as exc:  # name the file being written, not a temporary name the user never gave
        exc.filename = str(path)
        raise
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, _FILE_MODE)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)  # a full disk's error names no file: name the one being written
        raise


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", **kwargs):
    """``open`` for writing that only replaces ``path`` once the block succeeds."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_text(path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def read_record(path, limit: int = 1 << 20) -> dict | None:
    """The JSON object a small record file holds (what :func:`write_json` writes), or None for anything else —
    a missing or unreadable file, another format, one too large to be a record: a file mlpsweep did not write."""
    try:
        with open(path, "rb") as fh:
            doc = json.loads(fh.read(limit + 1).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None
