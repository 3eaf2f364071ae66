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
    """The BLAS/OpenMP libraries loaded in this process and their thread counts."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "num_threads", "architecture", "threading_layer")
    return [{k: info.get(k) for k in keys} for info in threadpool_info()]


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
            capture_output=True, text=True, timeout=5, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
