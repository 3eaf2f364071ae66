"""Get a dataset's IDX files from the first source that has them right.

For each file: if it is already in the destination folder and its content
checksum is right, nothing is fetched.  Otherwise the sources are tried in
order.  Each try streams into a temporary file beside the target (progress
in the log), checks the *decompressed* content's size and sha256, and only
then renames it into place; a failed try removes its temporary file.  HTTP
5xx answers, timeouts, dropped connections and short reads are retried with
exponential backoff; 4xx answers and wrong checksums move on to the next
source at once.  When every source fails, :class:`DownloadError` lists each
source with its reason and says how to continue offline.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import logging
import shutil
import socket
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .. import __version__
from ..atomic import atomic_path
from .datasets import DatasetSpec, FileSpec
from .idx import GZIP_MAGIC

log = logging.getLogger("mlpsweep.download")

USER_AGENT = f"mlpsweep/{__version__} (dataset fetcher)"


class DownloadError(RuntimeError):
    """No source could provide a verified copy of a file."""


class SourceError(Exception):
    """One source failed for one file (the reason is the message)."""


class TransientError(SourceError):
    """Worth retrying the same source."""


@dataclass(frozen=True)
class FetchOptions:
    timeout: float = 30.0  # seconds, for the connection and for each read
    retries: int = 2  # extra attempts per source on transient errors
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    progress_every: float = 2.0  # seconds between progress lines


def content_check(path: Path, spec: FileSpec) -> str | None:
    """None when the decompressed content of ``path`` matches ``spec``, else the reason."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as probe:
            compressed = probe.read(2) == GZIP_MAGIC
        opener = gzip.open if compressed else open
        with opener(path, "rb") as fh:
            while True:
                chunk = fh.read(1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                if size > spec.bytes:
                    return f"content is larger than the expected {spec.bytes} bytes"
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        return f"unreadable ({'gzip: ' if compressed else ''}{exc})"
    if size != spec.bytes:
        return f"content is {size} bytes, expected {spec.bytes} (truncated?)"
    if digest.hexdigest() != spec.sha256:
        return f"content sha256 {digest.hexdigest()[:16]}… does not match the expected {spec.sha256[:16]}…"
    return None


def source_location(source: str, filename: str) -> tuple[str, str]:
    """(kind, location) of ``filename`` at ``source``: kind is 'url' or 'path'."""
    parsed = urlparse(source)
    if parsed.scheme in ("http", "https"):
        return "url", source.rstrip("/") + "/" + filename
    if parsed.scheme == "file":
        return "path", str(Path(unquote(parsed.path)) / filename)
    return "path", str(Path(source).expanduser() / filename)


def _progress(name: str, where: str, got: int, total: int | None, started: float) -> None:
    rate = got / max(time.monotonic() - started, 1e-9) / 1e6
    of = f" of {total / 1e6:.1f} MB ({100 * got / total:.0f} %)" if total else " MB"
    log.info("%s: %.1f%s at %.1f MB/s from %s", name, got / 1e6, of, rate, where)


def _copy_url(url: str, dest: Path, name: str, opts: FetchOptions) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=opts.timeout) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            got = 0
            started = last = time.monotonic()
            with open(dest, "wb") as out:
                while True:
                    chunk = resp.read(1 << 16)
                    if not chunk:
                        break
                    out.write(chunk)
                    got += len(chunk)
                    now = time.monotonic()
                    if now - last >= opts.progress_every:
                        _progress(name, url, got, total, started)
                        last = now
            _progress(name, url, got, total, started)
            if total is not None and got != total:
                raise TransientError(f"short read: {got} of {total} bytes")
    except urllib.error.HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}"
        if exc.code >= 500 or exc.code in (408, 429):
            raise TransientError(reason) from None
        raise SourceError(reason) from None
    except (TimeoutError, socket.timeout) as exc:
        raise TransientError(f"timed out after {opts.timeout:g} s ({exc or 'no answer'})") from None
    except http.client.IncompleteRead as exc:
        raise TransientError(f"short read: connection closed after {len(exc.partial)} bytes") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, (TimeoutError, socket.timeout)):
            raise TransientError(f"timed out after {opts.timeout:g} s") from None
        raise TransientError(f"cannot connect ({exc.reason})") from None
    except (ConnectionError, http.client.HTTPException, OSError) as exc:
        raise TransientError(f"connection failed ({exc})") from None


def _copy_path(path: str, dest: Path) -> None:
    try:
        with open(path, "rb") as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except FileNotFoundError:
        raise SourceError("no such file") from None
    except OSError as exc:
        raise SourceError(f"cannot read ({exc.strerror or exc})") from None


def _try_source(source: str, spec: FileSpec, target: Path, label: str, opts: FetchOptions) -> None:
    kind, where = source_location(source, spec.name)
    attempts = 1 + (opts.retries if kind == "url" else 0)
    delay = opts.backoff
    for attempt in range(1, attempts + 1):
        try:
            with atomic_path(target) as tmp:
                if kind == "url":
                    log.info("%s: downloading %s (attempt %d of %d)", label, where, attempt, attempts)
                    _copy_url(where, tmp, label, opts)
                else:
                    log.info("%s: copying %s", label, where)
                    _copy_path(where, tmp)
                problem = content_check(tmp, spec)
                if problem:
                    raise SourceError(problem)
            log.info("%s: verified (sha256 of the content %s…) from %s", label, spec.sha256[:16], where)
            return
        except TransientError as exc:
            if attempt == attempts:
                raise
            log.warning("%s: %s from %s; retrying in %.1f s", label, exc, where, delay)
            time.sleep(delay)
            delay *= 2


def fetch_file(dataset: DatasetSpec, spec: FileSpec, dest_dir, opts: FetchOptions = FetchOptions()) -> Path:
    """A verified copy of one file in ``dest_dir``; raises :class:`DownloadError`."""
    dest_dir = Path(dest_dir)
    target = dest_dir / spec.name
    label = f"{dataset.name}/{spec.name}"
    if target.exists():
        problem = content_check(target, spec)
        if problem is None:
            log.info("%s: already present and verified, not fetched again", label)
            return target
        log.warning("%s: present but wrong (%s); fetching it again", label, problem)
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
    failures = []
    for i, source in enumerate(dataset.sources, start=1):
        try:
            _try_source(source, spec, target, label, opts)
            return target
        except SourceError as exc:
            where = source_location(source, spec.name)[1]
            log.warning("%s: source %d failed: %s: %s", label, i, where, exc)
            failures.append(f"[{i}] {where}: {exc}")
    names = ", ".join(f.name for f in dataset.files.values())
    raise DownloadError(
        f"could not get {label} from any of its {len(failures)} sources: {'; '.join(failures)}. "
        f"To run offline, copy the files ({names}) into {dest_dir}/, or point "
        f"dataset_definitions.{dataset.name}.sources at a local folder or file:// mirror "
        f"(see config/README.md); Debian's package dataset-fashion-mnist provides Fashion-MNIST "
        f"for --config datasets='[fashion-mnist]'"
    )


def fetch_dataset(dataset: DatasetSpec, dest_dir, opts: FetchOptions = FetchOptions()) -> dict[str, Path]:
    """Verified copies of all four files of ``dataset`` in ``dest_dir``."""
    return {role: fetch_file(dataset, spec, dest_dir, opts) for role, spec in dataset.files.items()}


def write_record(path, dataset: DatasetSpec, paths: dict[str, Path]) -> None:
    """Record what was verified: name, content sha256, and the file's size and mtime.

    The size and mtime let a later run notice, with a ``stat`` alone, that a
    cached file changed since it was verified (see :func:`stale_files`).
    """
    from ..atomic import write_json

    files = {}
    for role, p in paths.items():
        st = Path(p).stat()
        spec = dataset.files[role]
        files[role] = {
            "name": spec.name,
            "sha256": spec.sha256,
            "bytes": spec.bytes,
            "file_size": st.st_size,
            "file_mtime_ns": st.st_mtime_ns,
        }
    write_json(path, {"dataset": dataset.name, "files": files})
