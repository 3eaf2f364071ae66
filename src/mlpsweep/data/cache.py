"""Noticing that a cached file changed after it was verified, before a run uses it.

The download rule records the size and mtime of every file it verified
(``download.json``), the preprocess rule those of its arrays
(``manifest.json``).  :func:`invalidate_stale` compares them with ``stat``
(cheap); only a file that changed is hashed again, and if its content is no
longer right the record is deleted, so that Snakemake re-runs the rule that
makes it: a truncated download is fetched again, a damaged array rebuilt.
"""

from __future__ import annotations

import json
from pathlib import Path

from .datasets import FileSpec
from .download import content_check
from .preprocess import file_sha256


def _changed(path: Path, size, mtime_ns) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return True
    return st.st_size != size or st.st_mtime_ns != mtime_ns


def stale_download(record: Path) -> str | None:
    """Why the verified download behind ``record`` can no longer be trusted, or None."""
    try:
        rec = json.loads(record.read_text(encoding="utf-8"))
        for role, f in rec["files"].items():
            path = record.parent / f["name"]
            if not path.exists():
                return f"{path} is missing"
            if _changed(path, f.get("file_size"), f.get("file_mtime_ns")):
                problem = content_check(path, FileSpec(role, f["name"], f["sha256"], f["bytes"]))
                if problem:
                    return f"{path} changed since it was verified: {problem}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{record} is unreadable ({exc})"
    return None


def stale_preprocessed(manifest_path: Path) -> str | None:
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for name, f in manifest["files"].items():
            path = manifest_path.parent / name
            if not path.exists():
                return f"{path} is missing"
            if _changed(path, f.get("bytes"), f.get("mtime_ns")) and file_sha256(path) != f["sha256"]:
                return f"{path} does not match the sha256 in {manifest_path}"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{manifest_path} is unreadable ({exc})"
    return None


def invalidate_stale(datasets, root=".") -> list[str]:
    """Delete the records of changed downloads or arrays; return what was done."""
    root = Path(root)
    done = []
    for name in datasets:
        record = root / "resources" / "datasets" / name / "download.json"
        if record.exists():
            why = stale_download(record)
            if why:
                record.unlink()
                done.append(f"{why}; the download rule will fetch it again")
        manifest = root / "results" / name / "data" / "manifest.json"
        if manifest.exists():
            why = stale_preprocessed(manifest)
            if why:
                manifest.unlink()
                done.append(f"{why}; the preprocess rule will rebuild it")
    return done
