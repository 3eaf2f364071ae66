"""One run's training settings, checked against the config schema once, into one immutable object.

Every entry point that trains or builds a network — the plan of the workflow's
topologies, ``python -m mlpsweep train --settings JSON``, the studies' own
networks — goes through :func:`resolve`, so the same keys, types, bounds and
defaults hold everywhere: the schema's ``definitions.settings`` says what is
allowed, its ``defaults.default`` (the lecture's recipe) fills in what is left
out, and the result is a :class:`~mlpsweep.nn.Settings` that travels unchanged
to the update line (across a job's process boundary as its JSON form,
:meth:`~mlpsweep.nn.Settings.to_dict`).  A bad setting raises
:class:`SettingsError` with one line naming the key, the value and what is
allowed, e.g. ``settings key epochs: 2.7 is not of type 'integer'``.
"""

from __future__ import annotations

import math
from functools import lru_cache

from .config import ConfigError, _deep_merge, load_schema, schema_default, validate
from .nn import Settings, costs


class SettingsError(ConfigError):
    """Training settings the schema does not allow (the message names the key)."""


@lru_cache(maxsize=1)
def _run_schema() -> dict:
    """The schema of one run's settings: every key required, penalty complete (built once)."""
    schema = load_schema()
    spec = schema["definitions"]["settings"]
    props = {**spec["properties"], "penalty": {**spec["properties"]["penalty"], "required": ["p", "lambda"]}}
    return {**schema, **spec, "properties": props, "required": list(spec["properties"])}


def defaults() -> dict:
    """The schema's default settings: the lecture's recipe."""
    return schema_default("defaults")


def resolve(settings, *, base: dict | None = None, what: str = "settings key", prefix: str = "") -> Settings:
    """Complete, checked settings: ``settings`` (a dict, as in the config) over ``base`` (default: the
    schema's defaults).

    Unknown keys, wrong types (2.7 epochs, ``"abc"``), an empty ``hidden`` and
    impossible pairings are refused.
    """
    if not isinstance(settings, dict):
        raise SettingsError(f"{what} {prefix or '(top level)'}: settings must be an object of named values, "
                            f"got {type(settings).__name__}")
    # A topology may leave keys to the defaults; a run's settings are complete (penalty too).
    merged = _deep_merge(defaults() if base is None else base, settings)
    run_schema = _run_schema()
    checked = validate(merged, run_schema, what=what, prefix=prefix, coerce_strings=False, error=SettingsError)
    where = f"{what} {prefix + '.' if prefix else ''}"
    try:
        costs.check_pairing(checked["cost"], checked["output"])
    except ValueError as exc:
        raise SettingsError(f"{where}cost: {exc}") from None
    pen = checked["penalty"]
    numbers = [(k, v) for k, v in checked.items()] + [(f"penalty.{k}", v) for k, v in pen.items()]
    for key, value in numbers:
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingsError(f"{where}{key}: {value!r} is not a finite number")
    if checked["momentum"] and pen["lambda"] and pen["p"] <= 1:
        raise SettingsError(f"{where}momentum: momentum cannot be combined with a penalty of p <= 1 "
                            "(its steps stop at zero); set momentum to 0 or p above 1")
    return Settings.from_dict({k: checked[k] for k in run_schema["required"]})
