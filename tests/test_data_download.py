"""Downloads: mirrors, fallbacks, checksums, timeouts, offline folders, caching."""

import pytest
from datagen import FILES, write_dataset

from mlpsweep.data.datasets import DatasetSpec, DatasetSpecError, resolve
from mlpsweep.data.download import DownloadError, FetchOptions, fetch_dataset, fetch_file

FAST = FetchOptions(timeout=2.0, retries=1, backoff=0.0, progress_every=0.0)


@pytest.fixture
def dataset_files(tmp_path):
    folder = tmp_path / "upstream"
    definition = write_dataset(folder, n_train=40, n_test=10)
    return folder, definition


def spec_with(definition, sources):
    return DatasetSpec.from_dict("tiny", {**definition, "sources": sources})


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_happy_path_over_http(tmp_path, mirror, dataset_files, caplog):
    folder, definition = dataset_files
    mirror.serve_folder("/m", folder)
    dest = tmp_path / "raw"
    caplog.set_level("INFO", "mlpsweep.download")
    paths = fetch_dataset(spec_with(definition, [mirror.url + "/m/"]), dest, FAST)
    assert sorted(p.name for p in paths.values()) == sorted(FILES.values())
    for p in paths.values():
        assert p.read_bytes() == (folder / p.name).read_bytes()
    assert "MB/s" in caplog.text and "verified" in caplog.text
    assert leftovers(dest) == []


def test_first_source_404_second_used(tmp_path, mirror, dataset_files):
    folder, definition = dataset_files
    mirror.serve_folder("/good", folder)
    spec = spec_with(definition, [mirror.url + "/missing/", mirror.url + "/good/"])
    fetch_dataset(spec, tmp_path / "raw", FAST)
    name = FILES["train_images"]
    assert mirror.hits[f"/missing/{name}"] == 1  # a 404 is not retried
    assert mirror.hits[f"/good/{name}"] == 1


def test_corrupt_first_source_falls_back_and_leaves_nothing(tmp_path, mirror, dataset_files):
    folder, definition = dataset_files
    mirror.serve_folder("/bad", folder)
    mirror.serve_folder("/good", folder)
    name = FILES["train_images"]
    blob = bytearray(mirror.routes[f"/bad/{name}"])
    blob[len(blob) // 2] ^= 0xFF
    mirror.routes[f"/bad/{name}"] = bytes(blob)
    dest = tmp_path / "raw"
    spec = spec_with(definition, [mirror.url + "/bad", mirror.url + "/good"])
    path = fetch_file(spec, spec.files["train_images"], dest, FAST)
    assert path.read_bytes() == (folder / name).read_bytes()
    assert mirror.hits[f"/bad/{name}"] == 1  # a wrong checksum is not retried
    assert leftovers(dest) == []


def test_all_sources_fail_names_each_source_and_reason(tmp_path, mirror, dataset_files):
    folder, definition = dataset_files
    name = FILES["train_images"]
    mirror.routes[f"/err/{name}"] = mirror.status(503)
    mirror.routes[f"/junk/{name}"] = b"not an idx file"
    spec = spec_with(
        definition, [mirror.url + "/err", mirror.url + "/junk", str(tmp_path / "nowhere"), "file:///nonexistent"]
    )
    dest = tmp_path / "raw"
    with pytest.raises(DownloadError) as info:
        fetch_file(spec, spec.files["train_images"], dest, FAST)
    msg = str(info.value)
    assert "\n" not in msg
    assert f"[1] {mirror.url}/err/{name}: HTTP 503" in msg
    assert f"[2] {mirror.url}/junk/{name}: content" in msg
    assert f"[3] {tmp_path / 'nowhere' / name}: no such file" in msg
    assert "[4] /nonexistent/" in msg
    assert "copy the files" in msg and str(dest) in msg and "dataset_definitions.tiny.sources" in msg
    assert mirror.hits[f"/err/{name}"] == 2  # a 503 is retried (retries=1)
    assert not dest.exists() or list(dest.iterdir()) == []


def test_truncated_transfer_is_retried_then_next_source(tmp_path, mirror, dataset_files):
    folder, definition = dataset_files
    name = FILES["train_images"]
    data = (folder / name).read_bytes()
    mirror.routes[f"/cut/{name}"] = mirror.truncated(data, len(data) // 3)
    mirror.serve_folder("/good", folder)
    spec = spec_with(definition, [mirror.url + "/cut", mirror.url + "/good"])
    dest = tmp_path / "raw"
    path = fetch_file(spec, spec.files["train_images"], dest, FAST)
    assert path.read_bytes() == data
    assert mirror.hits[f"/cut/{name}"] == 2
    assert leftovers(dest) == []


def test_server_that_never_answers_times_out(tmp_path, mirror, dataset_files):
    folder, definition = dataset_files
    name = FILES["train_images"]
    mirror.routes[f"/slow/{name}"] = mirror.hang()
    spec = spec_with(definition, [mirror.url + "/slow"])
    opts = FetchOptions(timeout=0.5, retries=0, backoff=0.0)
    # the route holds the request for 30 s, then closes without an answer: only the client's own timeout
    # gives "timed out" (no clock read here: a busy machine changes how long, never what happens)
    with pytest.raises(DownloadError, match="timed out after 0.5 s"):
        fetch_file(spec, spec.files["train_images"], tmp_path / "raw", opts)
    assert mirror.hits[f"/slow/{name}"] == 1  # retries=0: asked once


@pytest.mark.parametrize("kind", ["folder", "file-url"])
def test_local_folder_and_file_url_sources(tmp_path, dataset_files, kind):
    folder, definition = dataset_files
    source = str(folder) if kind == "folder" else folder.as_uri()
    paths = fetch_dataset(spec_with(definition, [source]), tmp_path / "raw", FAST)
    assert all(p.exists() for p in paths.values())


def test_recompressed_copy_is_accepted(tmp_path, dataset_files):
    """The checksum is of the content: a different gzip of the same bytes is fine."""
    import gzip

    folder, definition = dataset_files
    other = tmp_path / "recompressed"
    other.mkdir()
    for name in FILES.values():
        content = gzip.decompress((folder / name).read_bytes())
        (other / name).write_bytes(gzip.compress(content, compresslevel=1, mtime=42))
    assert (other / FILES["train_images"]).read_bytes() != (folder / FILES["train_images"]).read_bytes()
    fetch_dataset(spec_with(definition, [str(other)]), tmp_path / "raw", FAST)


def fetched_once(tmp_path, mirror, dataset_files):
    """Serve the dataset, fetch it into tmp_path/raw once; return (spec, dest, upstream folder)."""
    folder, definition = dataset_files
    mirror.serve_folder("/m", folder)
    spec = spec_with(definition, [mirror.url + "/m"])
    dest = tmp_path / "raw"
    fetch_dataset(spec, dest, FAST)
    return spec, dest, folder


def test_verified_file_is_not_fetched_again(tmp_path, mirror, dataset_files):
    spec, dest, _ = fetched_once(tmp_path, mirror, dataset_files)
    fetch_dataset(spec, dest, FAST)
    assert all(n == 1 for n in mirror.hits.values()) and len(mirror.hits) == 4


def test_wrong_cached_file_is_fetched_again(tmp_path, mirror, dataset_files):
    spec, dest, folder = fetched_once(tmp_path, mirror, dataset_files)
    name = FILES["train_images"]
    target = dest / name
    target.write_bytes(target.read_bytes()[:100])  # truncated by a crash
    fetch_dataset(spec, dest, FAST)
    assert mirror.hits[f"/m/{name}"] == 2
    assert target.read_bytes() == (folder / name).read_bytes()


@pytest.mark.parametrize(
    "change,key",
    [
        ({"sources": ["ftp://example.org/mnist/"]}, "sources[0]"),
        ({"sources": []}, "sources"),
        ({"files": {}}, "files"),
    ],
)
def test_bad_definitions_name_the_key(dataset_files, change, key):
    _, definition = dataset_files
    with pytest.raises(DatasetSpecError, match=key.replace("[", r"\[").replace("]", r"\]")):
        DatasetSpec.from_dict("tiny", {**definition, **change})


def test_bad_sha256_and_name(dataset_files):
    _, definition = dataset_files
    files = {**definition["files"], "train_images": {**definition["files"]["train_images"], "sha256": "abc"}}
    with pytest.raises(DatasetSpecError, match=r"files.train_images.sha256: must be 64 hexadecimal digits"):
        DatasetSpec.from_dict("tiny", {**definition, "files": files})
    with pytest.raises(DatasetSpecError, match="must be letters, digits"):
        DatasetSpec.from_dict("../etc", definition)


def test_builtin_datasets():
    mnist = resolve("mnist")
    assert mnist.files["train_images"].bytes == 47_040_016
    assert mnist.sources[0].startswith("https://")
    fashion = resolve("fashion-mnist")
    assert fashion.class_names[9] == "Ankle boot"
    with pytest.raises(DatasetSpecError, match="unknown dataset 'cifar'"):
        resolve("cifar")
    local = resolve("mnist", {"mnist": {"sources": ["/data/mnist"]}})
    assert local.sources == ("/data/mnist",) and local.files == mnist.files


def test_cli_download_error_is_one_line(tmp_path, capsys):
    from mlpsweep.cli import main

    rc = main(["-q", "download", "--spec", '{"name": "x", "sources": ["ftp://h/"]}', "--dest", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err.count("\n") == 0 and err.startswith("mlpsweep download: error:")
