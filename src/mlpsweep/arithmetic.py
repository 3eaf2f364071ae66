"""Which arithmetic a job runs with, and the ``portable`` mode that fixes it across x86-64 machines.

The numbers of a run depend on more than its settings and seed: OpenBLAS picks
its kernels for the CPU (Haswell, SkylakeX, …), NumPy dispatches its
element-wise loops (``tanh`` in the sigmoid, …) to the widest SIMD level the
CPU has, and the lecture's recipe (sigmoid, η = 3) turns a last-bit difference
into a different run.  So a result reproduces bit for bit only on the same
kernel, SIMD level and versions.

``native`` (the default) lets both choose, which is fastest.  ``portable``
fixes both to what every x86-64 machine with AVX2 and FMA runs identically:

* OpenBLAS's Haswell kernels (``OPENBLAS_CORETYPE=Haswell``; they need AVX2 and FMA),
* NumPy's baseline loops, x86-64-v2 (``NPY_DISABLE_CPU_FEATURES`` hides every
  dispatch target above it: AVX2, AVX-512), which every x86-64 machine of the
  last fifteen years has;
* one BLAS thread.

Both libraries read these variables when they load, so :func:`prepare` must run
before NumPy is imported: the command line (:mod:`mlpsweep.cli`) calls it first
thing, for every stage, and :func:`verify` checks afterwards that the loaded
libraries really run that way.  Neither is possible on another architecture or
a CPU without AVX2 and FMA: portable mode is refused there with one line naming
what it needs.  :func:`describe` is what a run records (``model.json``, the
report): the mode, the kernel, the SIMD level and the versions.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

MODES = ("native", "portable")
#: NumPy's dispatch targets above its x86-64-v2 baseline (NumPy 2.x names; unknown names are ignored).
ABOVE_BASELINE = ("X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR")
PORTABLE_KERNEL = "Haswell"
#: The CPU flags the Haswell kernels execute (as /proc/cpuinfo spells them).
NEEDED_FLAGS = ("avx2", "fma")
ENV_VAR = "MLPSWEEP_ARITHMETIC"  # the mode, where the command line does not give it


class PortableArithmeticError(ValueError):
    """Portable arithmetic cannot be had here (the message names what is missing)."""


def cpu_flags() -> set[str] | None:
    """The CPU's feature flags from /proc/cpuinfo, or None where they cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def portable_problem(machine: str, flags: set[str] | None) -> str | None:
    """Why portable arithmetic cannot run on this machine and CPU, or None."""
    if machine.lower() not in ("x86_64", "amd64"):
        return f"portable arithmetic needs an x86-64 CPU with AVX2 and FMA; this machine is {machine}"
    if flags is None:
        return "portable arithmetic needs to read the CPU's flags (/proc/cpuinfo) to check for AVX2 and FMA"
    missing = [f for f in NEEDED_FLAGS if f not in flags]
    if missing:
        return (
            f"portable arithmetic needs a CPU with AVX2 and FMA (OpenBLAS's Haswell kernels); this one lacks "
            f"{', '.join(m.upper() for m in missing)}: use reproducibility: native"
        )
    return None


def portable_environment(current: dict) -> dict:
    """The variables portable mode sets, given the environment as it is (NumPy features stay hidden if hidden)."""
    hidden = current.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split()
    return {
        "OPENBLAS_CORETYPE": PORTABLE_KERNEL,
        "NPY_DISABLE_CPU_FEATURES": " ".join(dict.fromkeys([*hidden, *ABOVE_BASELINE])),
        "OPENBLAS_NUM_THREADS": "1",
    }


def prepare(mode: str | None) -> str:
    """Set up ``mode`` (default: $MLPSWEEP_ARITHMETIC, else native) before NumPy loads; return the mode.

    Raises :class:`PortableArithmeticError` for portable mode on a machine that cannot run it, or when NumPy is
    already loaded (the variables would come too late).
    """
    import sys

    mode = mode or os.environ.get(ENV_VAR) or "native"
    if mode not in MODES:
        raise PortableArithmeticError(f"reproducibility must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "portable":
        problem = portable_problem(platform.machine(), cpu_flags())
        if problem:
            raise PortableArithmeticError(problem)
        if "numpy" in sys.modules:
            raise PortableArithmeticError("portable arithmetic must be set up before NumPy is imported")
        os.environ.update(portable_environment(os.environ))
    os.environ[ENV_VAR] = mode  # child processes (and describe()) see the mode
    return mode


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


def verify(mode: str) -> None:
    """After NumPy is loaded: raise :class:`PortableArithmeticError` unless the libraries run as ``mode`` requires."""
    if mode != "portable":
        return
    from threadpoolctl import threadpool_info

    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas or any(i.get("internal_api") != "openblas" or i.get("architecture") != PORTABLE_KERNEL for i in blas):
        raise PortableArithmeticError(
            f"portable arithmetic needs NumPy's OpenBLAS running its {PORTABLE_KERNEL} kernels; "
            f"this process runs {', '.join(blas_kernels()) or 'no BLAS threadpoolctl knows'}"
        )
    from numpy._core._multiarray_umath import __cpu_baseline__

    beyond = [t for t in simd_level() if t not in __cpu_baseline__]
    if beyond:
        raise PortableArithmeticError(
            f"portable arithmetic needs NumPy's baseline loops; this NumPy still dispatches to "
            f"{', '.join(beyond)} (a NumPy newer than mlpsweep knows?)"
        )


def summary() -> str:
    """One line for a job's log: the mode and what it runs on."""
    d = describe()
    return (
        f"arithmetic: {d['mode']} ({', '.join(d['blas']) or 'no BLAS'}; NumPy {d['numpy']} "
        f"{'+'.join(d['numpy_simd'])}; {d['machine']})"
    )


def describe() -> dict:
    """What decided this process's arithmetic (for ``model.json`` and the report)."""
    import numpy as np

    from threadpoolctl import threadpool_info

    threads = sorted({i.get("num_threads") for i in threadpool_info() if i.get("user_api") == "blas"})
    libc = " ".join(platform.libc_ver()).strip() or None
    return {
        "mode": os.environ.get(ENV_VAR, "native"),
        "blas": blas_kernels(),
        "blas_threads": threads[0] if len(threads) == 1 else threads,
        "numpy": np.__version__,
        "numpy_simd": simd_level(),
        "libc": libc,
        "machine": platform.machine(),
    }
