"""Which arithmetic a job runs with: ``exact`` (the default) or ``native``.

``exact``: every float32 result is the correctly rounded value of its mathematics (:mod:`mlpsweep.nn.exact`),
so a run's bytes depend on its settings, seed and data only, on any computer: any BLAS library, kernel or
thread count, any SIMD level, C library, operating system or CPU architecture.  float64 networks are
refused in this mode (one line), since there is no wider format to compute them exactly at BLAS speed.

``native``: float32 products summed in whatever order the machine's code picks (the compiled step's, as Numba
compiles it for the CPU; OpenBLAS's and NumPy's kernels in the reference step, monitoring and evaluation),
which is faster; results are then byte-identical only with the same CPU, kernel, SIMD level, C library,
thread count and versions.

The mode is a process's: :func:`prepare` sets it (the command line calls it for every stage, from
``--arithmetic`` or ``$MLPSWEEP_ARITHMETIC``), :func:`current` reads it, and :func:`describe` is what a run
records (``model.json``, the report): the mode and everything that decides native arithmetic.
"""

from __future__ import annotations

import os
import platform

MODES = ("exact", "native")
DEFAULT = "exact"
ENV_VAR = "MLPSWEEP_ARITHMETIC"  # the mode, where the command line does not give it


class ArithmeticModeError(ValueError):
    """An unknown mode, or a setting the mode cannot compute (the message names the fix)."""


def current() -> str:
    """This process's mode: $MLPSWEEP_ARITHMETIC, else the default (exact)."""
    return os.environ.get(ENV_VAR) or DEFAULT


def prepare(mode: str | None) -> str:
    """Make ``mode`` (default: :func:`current`) this process's and its children's; return it.  Exact mode is
    refused in a process that flushes subnormal numbers (:func:`check_subnormals`)."""
    mode = mode or current()
    if mode not in MODES:
        raise ArithmeticModeError(f"reproducibility must be one of {', '.join(MODES)}, got {mode!r}")
    os.environ[ENV_VAR] = mode
    check_subnormals()
    return mode


def flushed_subnormals() -> str | None:
    """Which of flush-to-zero (FTZ: a subnormal result becomes 0) and denormals-are-zero (DAZ: a subnormal
    operand is read as 0) this process's floating-point unit does, or None (IEEE gradual underflow)."""
    import numpy as np

    found = []
    for dtype in (np.float32, np.float64):
        tiny = np.array([np.finfo(dtype).smallest_normal], dtype=dtype)
        if (tiny * dtype(0.5))[0] == 0:  # 2^emin / 2 is a subnormal, not zero
            found.append("flush-to-zero (FTZ)")
        sub = np.array([np.finfo(dtype).smallest_subnormal], dtype=dtype)
        if (sub * dtype(2.0))[0] == 0:  # a subnormal operand, doubled: read as zero under DAZ
            found.append("denormals-are-zero (DAZ)")
    return " and ".join(dict.fromkeys(found)) or None


def check_subnormals() -> None:
    """In exact mode, refuse (ArithmeticModeError, one line naming the cause) a process whose CPU flushes
    subnormal numbers: a saturated sigmoid's tiny outputs and the fallback's residuals would become zero, and
    the bytes would be this process's, not the mathematics'.  A job calls it when it starts and again before it
    computes (a library loaded in between may have set the flags)."""
    if current() != "exact":
        return
    flushed = flushed_subnormals()
    if flushed:
        raise ArithmeticModeError(
            f"this process computes with {flushed}, as a library built with -ffast-math sets when it is loaded "
            "(its crtfastmath start-up code); exact arithmetic would give other bytes here: run without that "
            "library, or use reproducibility: native"
        )


def dtype_problem(dtype: str, mode: str | None = None) -> str | None:
    """Why a network of ``dtype`` cannot train in ``mode`` (default: :func:`current`), or None."""
    mode = mode or current()
    if mode == "exact" and dtype != "float32":
        return (
            f"dtype {dtype} cannot be computed exactly (exact arithmetic rounds float64 sums of float32 "
            "numbers); use dtype: float32, or reproducibility: native"
        )
    return None


def simd_level() -> list[str]:
    """NumPy's SIMD level in this process: its baseline, then the dispatch targets in use (e.g. X86_V2, X86_V3)."""
    from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__

    return [*__cpu_baseline__, *(t for t in __cpu_dispatch__ if __cpu_features__.get(t))]


def blas_kernels() -> list[str]:
    """The BLAS libraries in use and their kernels, e.g. ``openblas 0.3.31 Haswell``."""
    from threadpoolctl import threadpool_info

    return sorted(
        f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    )


def summary() -> str:
    """One line for a job's log: the mode and what it runs on."""
    d = describe()
    return (
        f"arithmetic: {d['mode']} ({', '.join(d['blas']) or 'no BLAS'}; NumPy {d['numpy']} "
        f"{'+'.join(d['numpy_simd'])}; {d['machine']})"
    )


def describe() -> dict:
    """What decided this process's arithmetic (for ``model.json`` and the report).  In exact mode the rest
    is for the record only: it does not change a bit of the results."""
    import numpy as np

    from threadpoolctl import threadpool_info

    threads = sorted({i.get("num_threads") for i in threadpool_info() if i.get("user_api") == "blas"})
    libc = " ".join(platform.libc_ver()).strip() or None
    return {
        "mode": current(),
        "blas": blas_kernels(),
        "blas_threads": threads[0] if len(threads) == 1 else threads,
        "numpy": np.__version__,
        "numpy_simd": simd_level(),
        "libc": libc,
        "machine": platform.machine(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE") or None,  # kernels forced, not chosen
    }
