"""What a module of one's own may provide where the config names a thing: a study kind (``KIND``) or an update
rule (``RULE``).  One loader for both, so a name is checked, imported and refused the same way.

Importing a module runs its code, so a name is imported only when it was **declared**: listed under the
config's ``plugins`` (the workflow passes them to every job as ``--plugin``), or given to a command with
``--plugin``.  A declared module must be found outside Python's standard library (in the working folder, on
``PYTHONPATH`` or installed); its package is located without running anything before it is imported.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

#: The modules of one's own this process may import (:func:`declare`).
_DECLARED: set[str] = set()


def declare(names) -> None:
    """Allow this process to import the modules ``names`` (the config's ``plugins``, or ``--plugin``)."""
    _DECLARED.update(names)


def declared() -> list[str]:
    return sorted(_DECLARED)


def _is_module_name(name) -> bool:
    return isinstance(name, str) and bool(name) and all(part.isidentifier() for part in name.split("."))


def location_problem(name: str) -> str | None:
    """Why the module ``name`` may not be imported as a plugin (a standard-library module, or none found),
    or None.  Only the top-level package is looked up, and looking runs none of its code."""
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return f"{top!r} is a module of Python's standard library, not a plugin"
    if top == "mlpsweep":
        return "mlpsweep's own modules are built in; name the built-in kind or rule instead"
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError) as exc:
        return f"it cannot be found ({exc})"
    if spec is None:
        return "no such module in the working folder, on PYTHONPATH or installed"
    return None


def from_module(name, attribute: str, accept, *, what: str, built_in: list, error: type[Exception]):
    """``module.attribute`` of the declared module ``name`` when ``accept`` takes it; else ``error`` with one
    line naming ``name``, ``what`` it should be (e.g. "study kind") and the ``built_in`` names."""
    if not _is_module_name(name):
        raise error(f"{name!r} is neither a built-in {what} {built_in} nor a module name (dotted Python identifiers)")
    if name not in _DECLARED:
        raise error(
            f"unknown {what} {name!r}: the built-in ones are {built_in}; a module of your own must be listed under "
            "the config's plugins (naming a module runs its code)"
        )
    problem = location_problem(name)
    if problem:
        raise error(f"plugin {name!r}: {problem}")
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
