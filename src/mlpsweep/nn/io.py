"""Saving and loading networks: ``.npz`` without pickle, metadata as JSON.

A model file is a NumPy ``.npz`` archive with two arrays:

``params``
    the flat parameter vector (all weights, then all biases; see
    :mod:`mlpsweep.nn.network`), in the network's dtype;
``meta``
    UTF-8 JSON bytes (uint8): sizes, activation, output, cost, dtype, init,
    plus whatever the caller adds (training config, library versions).

It is read with ``allow_pickle=False``; anything else (a pickle, a truncated
or foreign file) raises :class:`ModelFileError` naming the file.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np

from ..atomic import atomic_path
from .network import Network


class ModelFileError(ValueError):
    """A model file that cannot be read as an mlpsweep network."""


def save_network(net: Network, path, extra: dict | None = None) -> None:
    meta = net.metadata()
    if extra:
        meta.update(extra)
    blob = np.frombuffer(json.dumps(meta, sort_keys=True, allow_nan=False).encode(), dtype=np.uint8)
    params = net.params
    if np.isnan(params).any():  # a diverged run: one NaN, whatever sign and payload this CPU's arithmetic gave
        params = np.where(np.isnan(params), np.array(np.nan, dtype=params.dtype), params)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            savez(fh, params=params, meta=blob)


def savez(fh, **arrays) -> None:
    """``numpy.savez``, byte for byte the same with every Python and NumPy: each array's ``.npy`` bytes in an
    uncompressed zip whose entries are written with their sizes known (``numpy.savez`` streams them, and the
    zip version it then records differs between Python releases: 2.0 with 3.11.2, 4.5 with 3.11.7)."""
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o600 << 16
            info.create_system = 3
            zf.writestr(info, buffer.getvalue())


def read_model_file(path) -> tuple[np.ndarray, dict]:
    """(params, metadata) of a model file, or :class:`ModelFileError`."""
    hint = "re-create it by re-running the training job (delete the file first)"
    try:
        with np.load(path, allow_pickle=False) as f:
            if not hasattr(f, "files"):
                raise ValueError("it is a plain .npy array, not an .npz archive")
            missing = {"params", "meta"} - set(f.files)
            if missing:
                raise ValueError(f"it lacks the arrays {sorted(missing)}")
            meta = json.loads(f["meta"].tobytes().decode("utf-8"))
            params = f["params"]
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except ModelFileError:
        raise
    except Exception as exc:  # zipfile, zlib, pickle refusal, JSON: all one message
        raise ModelFileError(f"{path}: not a readable mlpsweep model ({exc}); {hint}") from exc
    if not isinstance(meta, dict) or meta.get("format") != "mlpsweep.network":
        raise ModelFileError(f"{path}: metadata does not describe an mlpsweep network; {hint}")
    return params, meta


def load_network(path, arithmetic=None) -> tuple[Network, dict]:
    """The network stored in ``path`` and its full metadata."""
    params, meta = read_model_file(path)
    try:
        net = Network.from_config(meta["sizes"], meta, params=params, arithmetic=arithmetic)
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: inconsistent model metadata ({exc})") from exc
    if params.dtype != net.dtype:
        raise ModelFileError(f"{path}: params are {params.dtype}, metadata says {net.dtype}")
    return net, meta
