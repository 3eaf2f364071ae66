"""Dataset definitions: four IDX files with their checksums, and where to get them.

A dataset is the MNIST layout: ``train_images``, ``train_labels``,
``test_images`` and ``test_labels``, each with a file ``name``, the
``sha256`` of its decompressed content and that content's size in ``bytes``;
an ordered list of ``sources`` (an ``https://`` or ``http://`` base URL, a
``file://`` URL or a local folder) and the ``class_names``.  ``mnist`` and
``fashion-mnist`` are built in (``datasets.yaml`` beside this module); a
config may override their sources or define new datasets of the same shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import urlparse

import yaml

from ..config import is_name

ROLES = ("train_images", "train_labels", "test_images", "test_labels")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
SCHEMES = ("https", "http", "file")


class DatasetSpecError(ValueError):
    """A dataset definition that cannot be used."""


@dataclass(frozen=True)
class FileSpec:
    role: str
    name: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    files: dict[str, FileSpec]
    sources: tuple[str, ...]
    class_names: tuple[str, ...]
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "class_names": list(self.class_names),
            "files": {r: {"name": f.name, "sha256": f.sha256, "bytes": f.bytes} for r, f in self.files.items()},
            "sources": list(self.sources),
        }

    @classmethod
    def from_dict(cls, name: str, d: dict, where: str | None = None) -> DatasetSpec:
        """Build and validate; errors name the config key (``where``)."""
        where = where or f"datasets.{name}"
        if not is_name(name):
            raise DatasetSpecError(
                f"{where}: dataset name {name!r} must be letters, digits, _ . - starting with a letter or digit"
            )
        if not isinstance(d, dict):
            raise DatasetSpecError(f"{where}: must be a mapping")
        files = d.get("files")
        if not isinstance(files, dict) or set(files) != set(ROLES):
            raise DatasetSpecError(f"{where}.files: must define exactly {', '.join(ROLES)}")
        specs = {}
        for role in ROLES:
            f = files[role]
            key = f"{where}.files.{role}"
            if not isinstance(f, dict):
                raise DatasetSpecError(f"{key}: must be a mapping with name, sha256 and bytes")
            fname = f.get("name")
            if not is_name(fname):
                raise DatasetSpecError(
                    f"{key}.name: {fname!r} must be a plain file name: letters, digits, _ . - starting with a "
                    "letter or digit"
                )
            sha = f.get("sha256")
            if not isinstance(sha, str) or not SHA256_RE.match(sha):
                raise DatasetSpecError(f"{key}.sha256: must be 64 hexadecimal digits, got {sha!r}")
            size = f.get("bytes")
            if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
                raise DatasetSpecError(f"{key}.bytes: must be a positive integer, got {size!r}")
            specs[role] = FileSpec(role, fname, sha.lower(), size)
        sources = d.get("sources")
        if not isinstance(sources, list) or not sources:
            raise DatasetSpecError(f"{where}.sources: must be a non-empty list of URLs or folders")
        for i, src in enumerate(sources):
            check_source(src, f"{where}.sources[{i}]")
        names = d.get("class_names", [str(i) for i in range(10)])
        if not isinstance(names, list) or len(names) < 2:
            raise DatasetSpecError(f"{where}.class_names: must list at least two classes")
        return cls(
            name=name,
            files=specs,
            sources=tuple(sources),
            class_names=tuple(str(n) for n in names),
            description=str(d.get("description", "")),
        )


def check_source(src, key: str) -> None:
    """A source is an http(s) or file URL, or an absolute/relative folder path."""
    if not isinstance(src, str) or not src:
        raise DatasetSpecError(f"{key}: a source must be a URL or folder path, got {src!r}")
    scheme = urlparse(src).scheme
    if "://" in src and scheme not in SCHEMES:
        raise DatasetSpecError(
            f"{key}: URL scheme {scheme!r} is not allowed in {src!r}; use https://, http://, file:// or a folder path"
        )


def builtin_definitions() -> dict:
    text = resources.files("mlpsweep.data").joinpath("datasets.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def resolve(name: str, overrides: dict | None = None) -> DatasetSpec:
    """The dataset ``name``: built in, or defined in ``overrides`` (config key ``datasets``).

    An override of a built-in dataset may give only the keys it changes
    (typically ``sources``).
    """
    builtin = builtin_definitions()
    overrides = overrides or {}
    if name in overrides:
        base = dict(builtin.get(name, {}))
        base.update(overrides[name] or {})
        return DatasetSpec.from_dict(name, base, where=f"dataset_definitions.{name}")
    if name in builtin:
        return DatasetSpec.from_dict(name, builtin[name])
    known = sorted(set(builtin) | set(overrides))
    raise DatasetSpecError(
        f"unknown dataset {name!r}; known datasets are {known} (define others under dataset_definitions)"
    )
