"""The lecture's experiments beyond the result table: study kinds.

A *study* is a named group of runs in the config (``study_definitions``) read
by its *kind*.  A kind is one module that defines ``KIND``, an instance of a
:class:`~.base.StudyKind` subclass (see :mod:`.base` for what a kind declares:
its options, its jobs beyond training runs, its plots and its report section
with a verdict).  The built-in kinds are the modules of this package, found by
looking; a study's ``kind:`` may also name any importable module of one's own
(``kind: mykinds.toy``), whose captions lie in ``captions/`` beside it.  So a new
kind is its module, its captions and its use in the config, nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..plugins import from_module
from .base import Job, StudyKind

#: The built-in kinds, by name: every module of this package with a ``KIND``.
KINDS: dict[str, StudyKind] = {}
for _module in pkgutil.iter_modules(__path__):
    _kind = getattr(importlib.import_module(f"{__name__}.{_module.name}"), "KIND", None)
    if isinstance(_kind, StudyKind):
        KINDS[_kind.name] = _kind

_OWN: dict[str, StudyKind] = {}


class UnknownKind(ValueError):
    """A ``kind:`` that is neither built in nor an importable module with a ``KIND``."""


def kind(name: str) -> StudyKind:
    """The kind called ``name``: a built-in one, or the ``KIND`` of the module ``name``."""
    if name in KINDS:
        return KINDS[name]
    if name not in _OWN:
        _OWN[name] = from_module(
            name,
            "KIND",
            lambda k: isinstance(k, StudyKind),
            what="study kind",
            built_in=sorted(KINDS),
            error=UnknownKind,
        )
    return _OWN[name]


__all__ = ["KINDS", "Job", "StudyKind", "UnknownKind", "kind"]
