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
        raise SettingsError(
            f"{what} {prefix or '(top level)'}: settings must be an object of named values, "
            f"got {type(settings).__name__}"
        )
    # A topology may leave keys to the defaults; a run's settings are complete (penalty too).
    merged = _deep_merge(defaults() if base is None else base, settings)
    if "optimizer" in settings:  # a rule's options belong to it: another rule's never merge in
        merged["optimizer"] = settings["optimizer"]
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
    checked["optimizer"] = _optimizer(checked, where, what, prefix)
    return Settings.from_dict({k: checked[k] for k in run_schema["required"]})


def _optimizer(checked: dict, where: str, what: str, prefix: str) -> dict | None:
    """The run's ``optimizer`` with the rule's options checked and completed (None: derived from ``momentum``)."""
    from .nn.optimizers import UnknownRule, rule_class

    optimizer, momentum, pen = checked["optimizer"], checked["momentum"], checked["penalty"]
    name = "momentum" if optimizer is None and momentum else (optimizer or {"name": "sgd"})["name"]
    if optimizer is not None and momentum:
        raise SettingsError(
            f"{where}momentum: momentum {momentum} is the shorthand for optimizer {{name: momentum}}; "
            f"give one of them (optimizer {optimizer['name']!r} is set)"
        )
    if pen["lambda"] and pen["p"] <= 1 and name != "sgd":
        key = "momentum" if optimizer is None else "optimizer"
        raise SettingsError(
            f"{where}{key}: {name} cannot be combined with a penalty of p <= 1 (its steps stop at "
            "zero, after a plain SGD step); use optimizer sgd or p above 1"
        )
    if optimizer is None:
        return None
    try:
        rule = rule_class(name)
    except UnknownRule as exc:
        raise SettingsError(f"{where}optimizer.name: {exc}") from None
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"name": {"type": "string"}, **rule.options},
    }
    return validate(
        optimizer,
        schema,
        what=what,
        prefix=f"{prefix + '.' if prefix else ''}optimizer",
        coerce_strings=False,
        error=SettingsError,
    )
