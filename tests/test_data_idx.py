"""The IDX reader: exact on good files, a clear IdxError on every kind of bad one."""

import gzip
import hashlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpsweep.data.idx import IdxError, idx_bytes, read_idx, read_images, read_labels, write_idx


@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_round_trip_every_type(tmp_path, dtype, compress):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((4, 3, 2)) * 50).astype(dtype)
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(back, arr)


def test_magic_numbers_are_the_published_ones():
    assert idx_bytes(np.zeros((2, 28, 28), np.uint8))[:4] == bytes.fromhex("00000803")
    assert idx_bytes(np.zeros(5, np.uint8))[:4] == bytes.fromhex("00000801")
    assert idx_bytes(np.zeros((2, 28, 28), np.uint8))[4:8] == (2).to_bytes(4, "big")


def test_write_is_deterministic(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", arr)
    write_idx(tmp_path / "b.gz", arr)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


def good_images():
    return idx_bytes(np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4))


CORRUPTIONS = {
    "wrong magic": (lambda b: b"\x01" + b[1:], "wrong magic"),
    "unsupported type": (lambda b: b[:2] + b"\x07" + b[3:], "unsupported IDX type"),
    "wrong type for images": (lambda b: b[:2] + b"\x0c" + b[3:], "expected 0x08"),
    "wrong number of dimensions": (lambda b: b[:3] + b"\x02" + b[4:], "dimensions, expected 3"),
    "truncated payload": (lambda b: b[:-5], "truncated payload"),
    "truncated header": (lambda b: b[:6], "truncated dimension sizes"),
    "empty": (lambda b: b"", "truncated header"),
    "trailing bytes": (lambda b: b + b"\x00\x00", "trailing bytes"),
    "absurd header": (lambda b: b[:4] + (2**31).to_bytes(4, "big") + b[8:], "limit: the header is corrupt"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
@pytest.mark.parametrize("compress", [False, True])
def test_each_corruption_is_an_idx_error_naming_the_file(tmp_path, case, compress):
    mutate, message = CORRUPTIONS[case]
    data = mutate(good_images())
    path = tmp_path / f"bad-{case.replace(' ', '-')}.idx"
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    with pytest.raises(IdxError, match=message) as info:
        read_images(path)
    assert str(path) in str(info.value)


def test_broken_gzip_stream(tmp_path):
    blob = gzip.compress(good_images(), mtime=0)
    path = tmp_path / "cut.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(IdxError, match="cut.gz"):
        read_images(path)


def test_labels_out_of_range_and_count_mismatch(tmp_path):
    from mlpsweep.data.idx import check_pair

    path = tmp_path / "labels.idx"
    write_idx(path, np.array([0, 3, 12], np.uint8))
    with pytest.raises(IdxError, match="label 12 at index 2 is outside the classes 0..9"):
        read_labels(path, classes=10)
    with pytest.raises(IdxError, match="has 2 images but .* has 3 labels"):
        check_pair(np.zeros((2, 4, 4)), np.zeros(3), "img", "lab")


@pytest.mark.parametrize("label, refused", [(9, False), (10, True)])
def test_a_label_equal_to_the_class_count_is_out_of_range(tmp_path, label, refused):
    """Classes are 0..classes − 1: the boundary itself, not only far beyond it."""
    path = tmp_path / "labels.idx"
    write_idx(path, np.array([0, label], np.uint8))
    if refused:
        with pytest.raises(IdxError, match=f"label {label} at index 1 is outside the classes 0..9"):
            read_labels(path, classes=10)
    else:
        assert read_labels(path, classes=10).tolist() == [0, label]


def test_missing_file(tmp_path):
    with pytest.raises(IdxError, match="no such file"):
        read_idx(tmp_path / "nope.gz")


def test_checksum_is_of_the_content(tmp_path):
    data = good_images()
    digest = hashlib.sha256(data).hexdigest()
    raw, gz = tmp_path / "a.idx", tmp_path / "a.idx.gz"
    raw.write_bytes(data)
    gz.write_bytes(gzip.compress(data, compresslevel=1, mtime=123))
    np.testing.assert_array_equal(read_images(raw, sha256=digest), read_images(gz, sha256=digest))
    with pytest.raises(IdxError, match="does not match"):
        read_images(raw, sha256="0" * 64)


ORIGINAL = np.random.default_rng(1).integers(0, 256, (3, 5, 5), dtype=np.uint8)
RAW = idx_bytes(ORIGINAL)
SHA = hashlib.sha256(RAW).hexdigest()
GZ = gzip.compress(RAW, mtime=0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    compressed=st.booleans(),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=3),
    cut=st.one_of(st.none(), st.integers(0, 10_000)),
    checked=st.booleans(),
)
def test_flips_and_truncations_parse_exactly_or_raise_idx_error(tmp_path, compressed, flips, cut, checked):
    data = bytearray(GZ if compressed else RAW)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    path = tmp_path / "fuzz.idx"
    path.write_bytes(bytes(data))
    try:
        out = read_idx(path, sha256=SHA if checked else None, max_bytes=1 << 20)
    except IdxError:
        return
    if checked:
        # With the content checksum every parse that survives is the original, bit for bit.
        np.testing.assert_array_equal(out, ORIGINAL)
        assert out.dtype == ORIGINAL.dtype
    else:
        # Without it a flipped payload byte may parse, but never into a huge allocation.
        assert isinstance(out, np.ndarray) and out.nbytes <= 1 << 20
