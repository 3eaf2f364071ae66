"""The IDX file format of MNIST and Fashion-MNIST: a strict reader and a writer.

Layout (big-endian), as documented on LeCun's MNIST page::

    byte 0, 1   0x00 0x00
    byte 2      type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte 3      number of dimensions n
    4·n bytes   the size of each dimension, uint32
    payload     prod(sizes) items in C order

Images are 0x00000803 (uint8, 3 dims: count, rows, columns), labels
0x00000801 (uint8, 1 dim: count).  Files may be gzip-compressed; the reader
detects that by the gzip magic bytes.

Every defect raises :class:`IdxError` with the file's name in the message:
wrong magic, unsupported type, unexpected number of dimensions, a header
whose sizes would need more than ``max_bytes`` (checked *before* anything is
allocated), a truncated payload, trailing bytes, a broken gzip stream, a
content checksum that does not match, labels outside the class range and
image/label counts that disagree.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from pathlib import Path

import numpy as np

from ..atomic import atomic_path

#: IDX type codes and their big-endian dtypes.
TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in TYPES.items()}

#: Refuse headers that would need more than this many payload bytes (1 GiB).
DEFAULT_MAX_BYTES = 1 << 30
_CHUNK = 1 << 20
GZIP_MAGIC = b"\x1f\x8b"


class IdxError(ValueError):
    """An IDX file that is corrupt, truncated or not what was expected."""


def _open(path: Path):
    with open(path, "rb") as probe:
        head = probe.read(2)
    if head == GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_exact(fh, n: int, what: str, name: str) -> bytes:
    buf = io.BytesIO()
    remaining = n
    while remaining:
        chunk = fh.read(min(remaining, _CHUNK))
        if not chunk:
            raise IdxError(f"{name}: truncated {what}: expected {n} bytes, got {n - remaining}")
        buf.write(chunk)
        remaining -= len(chunk)
    return buf.getvalue()


def read_idx(
    path,
    *,
    ndim: int | None = None,
    dtype_code: int | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    sha256: str | None = None,
) -> np.ndarray:
    """Read an IDX file (raw or gzip) into an array in native byte order.

    ``ndim`` and ``dtype_code`` state what the caller expects; ``sha256`` is
    the expected digest of the *decompressed* IDX bytes (header included),
    so a re-compressed copy of the same content is accepted and any flipped
    byte is not.
    """
    path = Path(path)
    name = str(path)
    digest = hashlib.sha256()
    try:
        with _open(path) as fh:
            header = _read_exact(fh, 4, "header", name)
            digest.update(header)
            if header[0] != 0 or header[1] != 0:
                raise IdxError(f"{name}: wrong magic number {header.hex()} (an IDX file starts with two zero bytes)")
            code, dims = header[2], header[3]
            if code not in TYPES:
                raise IdxError(f"{name}: unsupported IDX type code 0x{code:02X}")
            if dtype_code is not None and code != dtype_code:
                raise IdxError(f"{name}: IDX type 0x{code:02X}, expected 0x{dtype_code:02X}")
            if ndim is not None and dims != ndim:
                raise IdxError(f"{name}: {dims} dimensions, expected {ndim} (magic {header.hex()})")
            if dims == 0:
                raise IdxError(f"{name}: an IDX file needs at least one dimension")
            size_bytes = _read_exact(fh, 4 * dims, "dimension sizes", name)
            digest.update(size_bytes)
            shape = tuple(int(s) for s in np.frombuffer(size_bytes, dtype=">u4"))
            dtype = TYPES[code]
            n_bytes = dtype.itemsize
            for s in shape:
                n_bytes *= s
            if n_bytes > max_bytes:
                raise IdxError(
                    f"{name}: header says {shape} items of {dtype.itemsize} byte(s) = {n_bytes} bytes, "
                    f"more than the {max_bytes}-byte limit: the header is corrupt"
                )
            payload = _read_exact(fh, n_bytes, "payload", name)
            digest.update(payload)
            if fh.read(1):
                raise IdxError(f"{name}: trailing bytes after the {n_bytes}-byte payload of shape {shape}")
    except IdxError:
        raise
    except FileNotFoundError:
        raise IdxError(f"{name}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise IdxError(f"{name}: broken gzip stream ({exc})") from exc
    if sha256 is not None and digest.hexdigest() != sha256.lower():
        raise IdxError(f"{name}: content sha256 {digest.hexdigest()} does not match the expected {sha256}")
    array = np.frombuffer(payload, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else array


def read_images(path, **kwargs) -> np.ndarray:
    """An (n, rows, cols) uint8 image array (magic 0x00000803)."""
    return read_idx(path, ndim=3, dtype_code=0x08, **kwargs)


def read_labels(path, classes: int | None = None, **kwargs) -> np.ndarray:
    """An (n,) uint8 label array (magic 0x00000801), optionally range-checked."""
    labels = read_idx(path, ndim=1, dtype_code=0x08, **kwargs)
    if classes is not None and labels.size and int(labels.max()) >= classes:
        bad = int(np.argmax(labels >= classes))
        raise IdxError(f"{path}: label {int(labels[bad])} at index {bad} is outside the classes 0..{classes - 1}")
    return labels


def check_pair(images: np.ndarray, labels: np.ndarray, images_path, labels_path) -> None:
    if images.shape[0] != labels.shape[0]:
        raise IdxError(f"{images_path} has {images.shape[0]} images but {labels_path} has {labels.shape[0]} labels")


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding (uncompressed) of ``array``."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if native not in CODES:
        raise ValueError(f"IDX cannot store dtype {array.dtype}; use one of {sorted(str(d) for d in CODES)}")
    code = CODES[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=TYPES[code]).tobytes()


def write_idx(path, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write ``array`` as IDX (gzip when ``compress`` or the name ends in .gz), atomically."""
    path = Path(path)
    data = idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    with atomic_path(path) as tmp:
        if compress:
            # mtime=0: the same array always gives the same bytes.
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
                gz.write(data)
        else:
            tmp.write_bytes(data)
