"""What produced a result: library versions, BLAS, machine, git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from . import __version__


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions(*names: str) -> dict:
    """Versions of Python, mlpsweep and the named packages (numpy always)."""
    out = {"python": sys.version.split()[0], "mlpsweep": __version__}
    for name in ("numpy", *names):
        out[name] = package_version(name)
    return out


def blas() -> list[dict]:
    """The BLAS/OpenMP libraries loaded in this process and their thread counts, in a fixed order (the order
    they were loaded in depends on which module imported first, e.g. whether Numba compiled or loaded its
    cache)."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    found = [{k: info.get(k) for k in keys} for info in threadpool_info()]
    return sorted(found, key=lambda lib: [str(lib[k]) for k in keys])


def machine() -> dict:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "node": platform.node(),
    }


def git_commit(path=".") -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(Path(path)), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(Path(path)), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def against_lock(lock_file) -> dict | None:
    """How this environment's installed versions compare with a lock file (``name==version`` lines, each may
    end in a backslash and be followed by ``--hash=…`` lines), or None without one:
    ``{"file", "locked", "differ": ["numpy 2.4.5 (lock 2.4.6)", …]}``."""
    path = Path(lock_file)
    if not path.is_file():
        return None
    differ = []
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, want = line.split("#")[0].strip().partition("==")
        if not sep:
            continue
        want = want.rstrip("\\").strip()
        have = package_version(name)
        if have != want:
            differ.append(f"{name} {have or 'not installed'} (lock {want})")
    return {"file": str(path), "locked": not differ, "differ": differ}
