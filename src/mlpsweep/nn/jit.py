"""Loading the compiled kernels (Numba): whether Numba is there, where their code is cached, and the compiled
exact product, which needs nothing of the training step (:mod:`.compiled` builds the step on these)."""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import numpy as np

from . import exact


@functools.cache
def available() -> bool:
    """Whether Numba imports in this process."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


HERE = Path(__file__).resolve().parent
#: The sources the compiled code is built from: Numba's cache knows only a function's own file, so the cache
#: folder is named by a hash of them all (a changed callee in another file would otherwise load stale code).
SOURCES = ("kernels.py", "kernel_step.py", "kernel_rules.py", "exact.py", "exact_functions.py")


def cache_dir() -> Path:
    """Where the compiled kernels are cached: ``$NUMBA_CACHE_DIR``, else beside this module (else the user's
    cache folder, where that is not writable), in a folder named by the sources' hash."""
    digest = hashlib.sha256(b"".join((HERE / name).read_bytes() for name in SOURCES)).hexdigest()[:16]
    base = os.environ.get("NUMBA_CACHE_DIR")
    if not base:
        here = HERE / "__pycache__"
        writable = os.access(here if here.exists() else HERE, os.W_OK)
        base = str(here) if writable else os.path.join(os.path.expanduser("~"), ".cache", "mlpsweep")
    return Path(base) / f"kernels-{digest}"


@functools.cache
def kernel():
    """The compiled kernels (:mod:`.kernel_step`: :func:`~.kernel_step.epoch`, :func:`~.kernel_step.products`),
    their code cached in :func:`cache_dir`."""
    import numba

    previous = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(cache_dir())  # read when the kernels are decorated, i.e. imported
    try:
        from . import kernel_step
    finally:
        numba.config.CACHE_DIR = previous
    return kernel_step


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None, counter: exact.Counter | None = None):
    """``a @ b`` for 2-D float32 ``a`` (m, n) and ``b`` (n, p), every element the exact dot product rounded once
    to float32: the bytes of :func:`.exact.matmul`, from the compiled step's product (:func:`.kernel_step.products`)."""
    if a.dtype != np.float32 or b.dtype != np.float32 or a.ndim != 2 or b.ndim != 2:
        raise TypeError(f"jit.matmul takes 2-D float32 operands, got {a.dtype} {a.shape} and {b.dtype} {b.shape}")
    m, n, p = a.shape[0], a.shape[1], b.shape[1]
    flat = np.empty(m * p, dtype=np.float32)
    counts = np.zeros(1, np.int64)
    terms = np.empty(n + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        kernel().products(0, np.ascontiguousarray(a), np.ascontiguousarray(b.T), flat, exact.bound_factor(n),
                          np.empty(m * p), terms, np.empty(64), counts)  # fmt: skip
    (exact.COUNTER if counter is None else counter).per_run[0] += int(counts[0])
    out = np.empty((m, p), dtype=np.float32) if out is None else out
    out[...] = flat.reshape(m, p)
    return out
