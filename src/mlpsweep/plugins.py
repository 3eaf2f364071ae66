"""What a module of one's own may provide where the config names a thing: a study kind (``KIND``) or an update
rule (``RULE``).  One loader for both, so a name is checked, imported and refused the same way."""

from __future__ import annotations

import importlib


def from_module(name, attribute: str, accept, *, what: str, built_in: list, error: type[Exception]):
    """``module.attribute`` of the importable module ``name`` when ``accept`` takes it; else ``error`` with one
    line naming ``name``, ``what`` it should be (e.g. "study kind") and the ``built_in`` names."""
    if not (isinstance(name, str) and name and all(part.isidentifier() for part in name.split("."))):
        raise error(f"{name!r} is neither a built-in {what} {built_in} nor a module name (dotted Python identifiers)")
    try:
        found = getattr(importlib.import_module(name), attribute, None)
    except ImportError as exc:
        raise error(
            f"unknown {what} {name!r} ({exc}); the built-in ones are {built_in}, or name a module of your own "
            f"that defines {attribute}"
        ) from None
    if not accept(found):
        raise error(f"module {name!r} defines no {attribute} (a {what}); the built-in ones are {built_in}")
    return found
