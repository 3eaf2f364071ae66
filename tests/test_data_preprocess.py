"""Preprocessing: splits, scaling, manifest, checksums; and the real Fashion-MNIST."""

import json
from pathlib import Path

import numpy as np
import pytest
from datagen import make_arrays, write_dataset

from mlpsweep.data.datasets import DatasetSpec, resolve
from mlpsweep.data.idx import IdxError, read_images, read_labels
from mlpsweep.data.preprocess import PreprocessedDataError, load, preprocess, verify


@pytest.fixture
def raw(tmp_path):
    arrays = make_arrays(n_train=120, n_test=30, seed=3)
    definition = write_dataset(tmp_path / "raw", arrays)
    return tmp_path / "raw", DatasetSpec.from_dict("tiny", definition), arrays


def test_default_split_is_the_last_rows(tmp_path, raw):
    folder, spec, arrays = raw
    manifest = preprocess(spec, folder, tmp_path / "data", validation_size=20)
    ds = load(tmp_path / "data")
    assert manifest["splits"] == {"train": [0, 100], "validation": [100, 120], "test": [120, 150]}
    assert ds.x_train.shape == (100, 784) and ds.x_train.dtype == np.float32
    np.testing.assert_array_equal(ds.x_train, arrays["train_images"][:100].reshape(100, -1) / np.float32(255))
    np.testing.assert_array_equal(ds.y_val, arrays["train_labels"][100:])
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert ds.x_train.min() >= 0 and ds.x_train.max() <= 1
    assert isinstance(ds.x_train.base, np.memmap) or isinstance(ds.x_train, np.memmap)
    assert manifest["sources"]["train_images"]["sha256"] == spec.files["train_images"].sha256


def test_seeded_split_is_a_reproducible_permutation(tmp_path, raw):
    folder, spec, arrays = raw
    preprocess(spec, folder, tmp_path / "a", validation_size=20, validation_seed=5)
    preprocess(spec, folder, tmp_path / "b", validation_size=20, validation_seed=5)
    a, b = load(tmp_path / "a"), load(tmp_path / "b")
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert (tmp_path / "a" / "images.npy").read_bytes() == (tmp_path / "b" / "images.npy").read_bytes()
    both = np.concatenate([a.y_train, a.y_val])
    assert sorted(both.tolist()) == sorted(arrays["train_labels"].tolist())
    assert not np.array_equal(a.y_val, arrays["train_labels"][100:])


def test_standardize_uses_training_statistics(tmp_path, raw):
    folder, spec, _ = raw
    preprocess(spec, folder, tmp_path / "s", validation_size=20, normalize="standardize")
    ds = load(tmp_path / "s")
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0, atol=1e-5)
    std = ds.x_train.std(axis=0)
    assert np.all((np.abs(std - 1) < 1e-3) | (std < 1e-6))


def test_changed_array_file_is_detected(tmp_path, raw):
    folder, spec, _ = raw
    out = tmp_path / "data"
    preprocess(spec, folder, out, validation_size=20)
    assert verify(out) is None
    blob = bytearray((out / "images.npy").read_bytes())
    blob[-1] ^= 1
    (out / "images.npy").write_bytes(bytes(blob))
    assert "does not match the sha256" in verify(out)
    with pytest.raises(PreprocessedDataError, match="preprocess again"):
        load(out)


def test_bad_raw_file_writes_nothing(tmp_path, raw):
    folder, spec, _ = raw
    name = spec.files["train_labels"].name
    (folder / name).write_bytes((folder / name).read_bytes()[:40])
    out = tmp_path / "data"
    with pytest.raises(IdxError, match=name):
        preprocess(spec, folder, out, validation_size=20)
    assert not out.exists() or list(out.iterdir()) == []


def test_count_mismatch_is_refused(tmp_path):
    arrays = make_arrays(n_train=50, n_test=10)
    arrays["train_labels"] = arrays["train_labels"][:49]
    definition = write_dataset(tmp_path / "raw", arrays)
    with pytest.raises(IdxError, match="has 50 images but .* has 49 labels"):
        preprocess(DatasetSpec.from_dict("t", definition), tmp_path / "raw", tmp_path / "data", validation_size=5)


def test_cli_runs_download_and_preprocess(tmp_path, raw):
    from mlpsweep.cli import main

    folder, spec, _ = raw
    spec_json = json.dumps(spec.to_dict())
    assert main(["-q", "download", "--spec", spec_json, "--dest", str(tmp_path / "dl")]) == 0
    assert (
        main(
            [
                "-q",
                "preprocess",
                "--spec",
                spec_json,
                "--raw-dir",
                str(tmp_path / "dl"),
                "--out-dir",
                str(tmp_path / "pp"),
                "--validation-size",
                "20",
            ]
        )
        == 0
    )
    assert load(tmp_path / "pp").x_test.shape == (30, 784)


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debian():
    spec = resolve("fashion-mnist")
    f = spec.files
    train = read_images(FASHION / f["train_images"].name, sha256=f["train_images"].sha256)
    train_labels = read_labels(FASHION / f["train_labels"].name, classes=10, sha256=f["train_labels"].sha256)
    test = read_images(FASHION / f["test_images"].name, sha256=f["test_images"].sha256)
    test_labels = read_labels(FASHION / f["test_labels"].name, classes=10, sha256=f["test_labels"].sha256)
    assert train.shape == (60000, 28, 28) and test.shape == (10000, 28, 28)
    assert np.bincount(train_labels).tolist() == [6000] * 10
    assert np.bincount(test_labels).tolist() == [1000] * 10


def test_quick_check_hashes_only_changed_files(tmp_path, raw, monkeypatch):
    import mlpsweep.data.preprocess as pp

    folder, spec, _ = raw
    out = tmp_path / "data"
    preprocess(spec, folder, out, validation_size=20)
    calls = []
    real = pp.file_sha256
    monkeypatch.setattr(pp, "file_sha256", lambda p, *a: calls.append(p) or real(p, *a))
    load(out)
    assert calls == []  # unchanged since written: a stat is enough
    blob = bytearray((out / "images.npy").read_bytes())
    blob[-1] ^= 1
    (out / "images.npy").write_bytes(bytes(blob))  # same size, new mtime
    with pytest.raises(PreprocessedDataError):
        load(out)
    assert calls == [out / "images.npy"]


def test_training_job_imports_no_plotting_or_pandas():
    import subprocess
    import sys

    code = (
        "import sys, mlpsweep.cli, mlpsweep.train, mlpsweep.evaluate; "
        "bad = [m for m in ('pandas', 'matplotlib', 'seaborn', 'scipy') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_streamed_rows_equal_the_memory_map(tmp_path, raw):
    folder, spec, _ = raw
    preprocess(spec, folder, tmp_path / "data", validation_size=20)
    ds = load(tmp_path / "data")
    for split, arr in (("validation", ds.x_val), ("test", ds.x_test)):
        s = ds.streamed(split)
        assert s.shape == arr.shape and len(s) == len(arr)
        np.testing.assert_array_equal(s[:], arr)
        np.testing.assert_array_equal(s[3:7], arr[3:7])
    from mlpsweep.nn import Network

    net = Network([784, 5, 10], dtype="float32", rng=np.random.default_rng(0))
    assert net.evaluate(ds.streamed("test"), ds.y_test, chunk=7) == net.evaluate(ds.x_test, ds.y_test, chunk=7)
    # read into a reused buffer: the rows asked for, clipped at the split's end
    buf = np.full((8, ds.x_test.shape[1]), -1, dtype=ds.x_test.dtype)
    rows = ds.streamed("test").read(len(ds.x_test) - 3, len(ds.x_test) + 5, buf)
    assert rows.base is buf and rows.shape[0] == 3
    np.testing.assert_array_equal(rows, ds.x_test[-3:])


def test_a_truncated_images_file_is_named_when_streamed(tmp_path, raw):
    folder, spec, _ = raw
    preprocess(spec, folder, tmp_path / "data", validation_size=20)
    ds = load(tmp_path / "data")
    test = ds.streamed("test")
    images = tmp_path / "data" / "images.npy"
    with open(images, "r+b") as fh:
        fh.truncate(images.stat().st_size - 100)
    with pytest.raises(ValueError, match=r"images\.npy: rows .* truncated.*preprocess the data again"):
        test.read(0, len(test))


def test_standardizing_statistics_are_the_exact_values_rounded_once():
    """Each column's mean and standard deviation: the exact value (fractions) rounded once to float32, so the
    standardized images are the same bytes on any computer; a constant column keeps a deviation of 1."""
    from fractions import Fraction

    from mlpsweep.data.preprocess import column_stats
    from mlpsweep.nn.exact import round_to_float32

    rng = np.random.default_rng(4)
    x = (rng.integers(0, 256, (500, 6)) / np.float32(255)).astype(np.float32)
    x[:, 2] = np.float32(0.5)  # constant
    mean, std, mean_of_means = column_stats(x)
    for i in range(6):
        col = [Fraction(v) for v in x[:, i].tolist()]
        mu = sum(col) / len(col)
        var = sum((v - mu) ** 2 for v in col) / len(col)
        assert mean[i] == round_to_float32(mu)
        if i == 2:
            assert std[i] == 1.0
        else:  # the float32 nearest √var: its square brackets var against its neighbours' squares
            s = Fraction(float(std[i]))
            lo = Fraction(float(np.nextafter(std[i], np.float32(0))))
            hi = Fraction(float(np.nextafter(std[i], np.float32(2))))
            assert ((lo + s) / 2) ** 2 <= var <= ((s + hi) / 2) ** 2
    assert mean_of_means == float(sum(sum(Fraction(v) for v in x[:, i].tolist()) / 500 for i in range(6)) / 6)
