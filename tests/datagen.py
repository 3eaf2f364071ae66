"""Small MNIST-shaped datasets made by the tests, written as real IDX files.

Each class has its own blurred stroke pattern plus noise, so a small network
learns it to well above chance in a couple of epochs: enough to tell a
working pipeline from a broken one, in milliseconds.
"""

import hashlib
import gzip

import numpy as np

from mlpsweep.data.idx import idx_bytes, write_idx

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def make_arrays(n_train=300, n_test=100, classes=10, shape=(28, 28), seed=0):
    rng = np.random.default_rng(seed)
    prototypes = rng.random((classes, *shape)) < 0.15

    def draw(n):
        labels = rng.integers(0, classes, n).astype(np.uint8)
        noise = rng.random((n, *shape)) < 0.05
        images = np.where(prototypes[labels] ^ noise, rng.integers(160, 256, (n, *shape)), 0)
        return images.astype(np.uint8), labels

    (xi, yi), (ti, tl) = draw(n_train), draw(n_test)
    return {"train_images": xi, "train_labels": yi, "test_images": ti, "test_labels": tl}


def write_dataset(folder, arrays=None, compress=True, **kwargs):
    """Write the four files into ``folder``; return a dataset definition dict."""
    arrays = arrays if arrays is not None else make_arrays(**kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, name in FILES.items():
        raw = idx_bytes(arrays[role])
        write_idx(folder / name, arrays[role], compress=compress)
        files[role] = {"name": name, "sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw)}
    return {
        "description": "test data",
        "class_names": [str(i) for i in range(10)],
        "files": files,
        "sources": [str(folder)],
    }


def gunzip(path):
    return gzip.decompress(path.read_bytes())


def preprocessed(root, n_train: int, n_test: int, validation_size: int, seed: int = 5):
    """A tiny dataset written as IDX files under ``root/raw`` and preprocessed into ``root/pp``."""
    from mlpsweep.data.datasets import DatasetSpec
    from mlpsweep.data.preprocess import preprocess

    definition = write_dataset(root / "raw", make_arrays(n_train=n_train, n_test=n_test, seed=seed))
    preprocess(DatasetSpec.from_dict("tiny", definition), root / "raw", root / "pp", validation_size=validation_size)
    return root / "pp"
