"""Portable arithmetic: the same bits whatever SIMD level the CPU offers NumPy; refused where it cannot run.

The suite never changes this machine's OpenBLAS variables; it simulates another CPU through NumPy's dispatch
(NPY_DISABLE_CPU_FEATURES hides AVX2 and AVX-512, as on an older x86-64). The BLAS half (other kernels) is
benchmarks/arithmetic.py, run by hand.
"""

import hashlib
import json
import subprocess
import sys

import pytest
from datagen import preprocessed

from mlpsweep import arithmetic

#: What an x86-64 CPU without AVX2 offers NumPy (its x86-64-v2 baseline only).
OLDER_CPU = "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return preprocessed(tmp_path_factory.mktemp("data"), 300, 60, 60)


def train(data_dir, out, mode, hidden_features):
    env = {**__import__("os").environ, "NPY_DISABLE_CPU_FEATURES": hidden_features}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlpsweep",
            "--arithmetic",
            mode,
            "train",
            "--data",
            str(data_dir),
            "--settings",
            '{"hidden": [16], "epochs": 2}',
            "--seed",
            "3",
            "--out-dir",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return (
        hashlib.sha256((out / "model.npz").read_bytes()).hexdigest(),
        json.loads((out / "model.json").read_text()),
        proc.stderr,
    )


@pytest.mark.slow
def test_portable_gives_the_same_bits_where_native_does_not(data_dir, tmp_path):
    runs = {
        (mode, cpu): train(data_dir, tmp_path / f"{mode}-{cpu}", mode, features)
        for mode in ("native", "portable")
        for cpu, features in (("this", ""), ("older", OLDER_CPU))
    }
    # native: NumPy's loops follow the CPU, and the sigmoid's tanh rounds differently without AVX2
    assert runs["native", "this"][0] != runs["native", "older"][0]
    # portable: both CPUs run the same kernel and SIMD level, so the same bits
    assert runs["portable", "this"][0] == runs["portable", "older"][0]
    for cpu in ("this", "older"):
        _, meta, log = runs["portable", cpu]
        arith = meta["arithmetic"]
        assert arith["mode"] == "portable" and arith["numpy_simd"] == ["X86_V2"]
        assert all(b.endswith(" Haswell") for b in arith["blas"]) and arith["blas"]
        assert "arithmetic: portable (openblas" in log and "Haswell; NumPy" in log
        _, native, _ = runs["native", cpu]
        assert native["arithmetic"]["mode"] == "native"
    assert runs["native", "older"][1]["arithmetic"]["numpy_simd"] == ["X86_V2"]


@pytest.mark.parametrize(
    "machine,flags,says",
    [
        ("aarch64", {"fp", "asimd"}, "needs an x86-64 CPU with AVX2 and FMA; this machine is aarch64"),
        ("x86_64", {"sse4_2", "avx"}, "this one lacks AVX2, FMA"),
        ("x86_64", {"avx2"}, "this one lacks FMA"),
        ("x86_64", None, "needs to read the CPU's flags"),
    ],
)
def test_portable_is_refused_where_it_cannot_run(machine, flags, says):
    assert says in arithmetic.portable_problem(machine, flags)


def test_portable_runs_on_an_avx2_fma_machine():
    assert arithmetic.portable_problem("x86_64", {"avx", "avx2", "fma", "sse4_2"}) is None
    assert arithmetic.portable_problem("AMD64", {"avx2", "fma"}) is None


def test_portable_environment_keeps_what_the_user_hid_and_hides_every_dispatch_target():
    env = arithmetic.portable_environment({"NPY_DISABLE_CPU_FEATURES": "AVX512_ICL,FOO"})
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["NPY_DISABLE_CPU_FEATURES"].split() == ["AVX512_ICL", "FOO", "X86_V3", "X86_V4", "AVX512_SPR"]
    from numpy._core._multiarray_umath import __cpu_dispatch__

    assert set(__cpu_dispatch__) <= set(arithmetic.ABOVE_BASELINE)  # this NumPy has no target portable mode misses


def test_portable_cannot_be_set_up_once_numpy_is_loaded():
    import numpy  # noqa: F401 - loaded, as in this process

    with pytest.raises(arithmetic.PortableArithmeticError, match="before NumPy is imported"):
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
        env={**__import__("os").environ, "MLPSWEEP_ARITHMETIC": "fast"},
        timeout=60,
    )
    assert proc.returncode == 1 and proc.stderr.strip() == (
        "mlpsweep train: error: reproducibility must be one of native, portable, got 'fast'"
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
