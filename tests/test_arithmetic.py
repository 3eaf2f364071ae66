"""Exact arithmetic (the default): the same bytes whatever SIMD level and BLAS thread count run it, equal to
the hashes benchmarks/exact_variety.py recorded across OpenBLAS kernels, C libraries, a reference BLAS and an
aarch64 CPU; native arithmetic does change with them (so the check has teeth).

The suite never changes this machine's OpenBLAS variables; it simulates another CPU through NumPy's dispatch
(NPY_DISABLE_CPU_FEATURES hides AVX-512, and AVX2 too, as on an older x86-64) and runs other BLAS thread
counts. The kernels, C libraries and the other architecture are benchmarks/exact_variety.py, run by hand.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from datagen import preprocessed
from workflow_helpers import mlpsweep_cli

from mlpsweep import arithmetic

HERE = Path(__file__).resolve().parent
VARIETY = HERE.parent / "benchmarks" / "exact_variety.py"
RECORDED = json.loads((HERE.parent / "benchmarks" / "exact_variety.json").read_text())
#: What an x86-64 CPU without AVX-512 offers NumPy, and one without AVX2 either (its x86-64-v2 baseline).
NO_AVX512 = "X86_V4 AVX512_ICL AVX512_SPR"
NO_AVX2 = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return preprocessed(tmp_path_factory.mktemp("data"), 300, 60, 60)


def variety(data_dir, out, mode, hidden="", threads=1, engine="compiled") -> dict:
    """benchmarks/exact_variety.py's runs (every activation, output, cost, penalty, dropout, momentum, Adam),
    trained and evaluated in one child process: {run: {file: sha256}}."""
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": hidden}
    proc = subprocess.run(
        [sys.executable, str(VARIETY), "child", str(data_dir), str(out), mode, str(threads), "--engine", engine],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_exact_gives_the_recorded_bytes_on_any_simd_level_and_thread_count_where_native_does_not(data_dir, tmp_path):
    got = {
        (mode, hidden, threads): variety(
            data_dir, tmp_path / f"{mode}-{len(hidden)}-{threads}", mode, hidden, threads, engine
        )
        for mode, hidden, threads, engine in (
            ("exact", NO_AVX512, 1, "compiled"),
            ("exact", NO_AVX2, 2, "reference"),
            ("native", "", 1, "reference"),
            ("native", NO_AVX2, 1, "reference"),
        )
    }
    # the recorded hashes were made on other kernels, C libraries, a reference BLAS and an aarch64 CPU
    assert got["exact", NO_AVX512, 1] == RECORDED["hashes"]
    assert got["exact", NO_AVX2, 2] == RECORDED["hashes"]
    # native, NumPy's step (the compiled one's float32 sums follow Numba's target, not NumPy's dispatch):
    # NumPy's loops follow the CPU (the sigmoid's tanh rounds otherwise without AVX2): other models
    native, older = got["native", "", 1], got["native", NO_AVX2, 1]
    assert all(native[r]["model.npz"] != older[r]["model.npz"] for r in native)
    assert all(native[r]["model.npz"] != RECORDED["hashes"][r]["model.npz"] for r in native)


def test_the_recorded_runs_are_the_ones_trained():
    """The hashes belong to these settings: a change to the runs must be recorded again."""
    sys.path.insert(0, str(VARIETY.parent))
    import exact_variety

    assert RECORDED["runs"] == exact_variety.RUNS
    assert (RECORDED["epochs"], RECORDED["batch_size"], RECORDED["seed"]) == (
        exact_variety.EPOCHS,
        exact_variety.BATCH,
        exact_variety.SEED,
    )


def test_exact_refuses_float64_in_one_line(data_dir, tmp_path):
    proc = mlpsweep_cli(
        "train", "--data", data_dir, "--settings", '{"dtype": "float64"}', "--seed", "1", "--out-dir", tmp_path / "o",
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1 and not (tmp_path / "o").exists()
    assert proc.stderr.strip().splitlines()[-1] == (
        "mlpsweep train: error: settings key dtype: dtype float64 cannot be computed exactly (exact arithmetic "
        "rounds float64 sums of float32 numbers); use dtype: float32, or reproducibility: native"
    )
    assert arithmetic.dtype_problem("float64", "native") is None
    assert arithmetic.dtype_problem("float32", "exact") is None


def test_the_mode_is_the_process_s_and_its_children_s(monkeypatch):
    monkeypatch.setenv(arithmetic.ENV_VAR, "")  # unset as far as the mode goes, and restored afterwards
    assert arithmetic.current() == "exact"
    assert arithmetic.prepare("native") == "native" and os.environ[arithmetic.ENV_VAR] == "native"
    assert arithmetic.describe()["mode"] == "native"
    with pytest.raises(arithmetic.ArithmeticModeError, match="one of exact, native, got 'portable'"):
        arithmetic.prepare("portable")


def test_an_unknown_mode_is_one_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlpsweep",
            "train",
            "--data",
            str(tmp_path),
            "--settings",
            "{}",
            "--seed",
            "1",
            "--out-dir",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "MLPSWEEP_ARITHMETIC": "fast"},
        timeout=60,
    )
    assert proc.returncode == 1 and proc.stderr.strip() == (
        "mlpsweep train: error: reproducibility must be one of exact, native, got 'fast'"
    )


def test_a_lock_file_says_which_installed_versions_differ(tmp_path):
    from mlpsweep import provenance

    lock = tmp_path / "requirements.lock"
    lock.write_text(f"# a comment\nnumpy=={__import__('numpy').__version__}\njsonschema==0.0.1  # pinned elsewhere\n")
    got = provenance.against_lock(lock)
    assert got["locked"] is False and got["differ"] == [
        f"jsonschema {provenance.package_version('jsonschema')} (lock 0.0.1)"
    ]
    lock.write_text(f"numpy=={__import__('numpy').__version__}\n")
    assert provenance.against_lock(lock)["locked"] is True
    # a lock with hashes (pip's --require-hashes format): the version ends before the line's backslash
    lock.write_text(f"numpy=={__import__('numpy').__version__} \\\n    --hash=sha256:{'0' * 64}\n")
    assert provenance.against_lock(lock)["locked"] is True
    assert provenance.against_lock(tmp_path / "none.lock") is None


def test_the_shipped_lock_pins_every_package_with_hashes():
    """requirements.lock: every line name==version with the SHA-256 of its files (pip --require-hashes)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "requirements.lock").read_text()
    blocks = [b for b in text.split("\n") if b and not b.startswith(("#", " "))]
    assert len(blocks) > 50 and all("==" in b and b.endswith(" \\") for b in blocks)
    for block in text.split("\n"):
        if block.startswith("numpy=="):
            assert block.startswith("numpy==2.4.6")
    assert text.count("--hash=sha256:") >= 2 * len(blocks)


def test_a_process_that_flushes_subnormals_refuses_exact_arithmetic_in_one_line(tmp_path):
    """A library built with -ffast-math sets FTZ/DAZ when it is loaded (gcc's crtfastmath); exact results would
    then be that process's, so the job refuses before training, naming the cause."""
    import shutil
    import subprocess
    import sys

    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc, "a C compiler is part of this project's test machine (.ci/run)"
    (tmp_path / "f.c").write_text("int nothing(void) { return 0; }\n")
    lib = tmp_path / "libfast.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-ffast-math", "-o", str(lib), str(tmp_path / "f.c")], check=True)
    script = (
        "import ctypes, sys\n"
        "from mlpsweep import arithmetic\n"
        "print(arithmetic.flushed_subnormals())\n"
        f"ctypes.CDLL({str(lib)!r})\n"
        "print(arithmetic.flushed_subnormals())\n"
        "from mlpsweep import cli\n"
        "sys.exit(cli.main(['-q', '--arithmetic', 'exact', 'download', '--dataset', 'mnist', '--dest', 'd']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    before, after = proc.stdout.splitlines()[:2]
    assert before == "None" and "flush-to-zero (FTZ)" in after and "denormals-are-zero (DAZ)" in after
    assert proc.returncode == 1 and proc.stderr.strip().splitlines() == [
        "mlpsweep download: error: this process computes with flush-to-zero (FTZ) and denormals-are-zero (DAZ), "
        "as a library built with -ffast-math sets when it is loaded (its crtfastmath start-up code); exact "
        "arithmetic would give other bytes here: run without that library, or use reproducibility: native"
    ]
    assert not (tmp_path / "d").exists()
