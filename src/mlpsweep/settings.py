"""The training settings of one run, checked against the config schema.

Every entry point that trains or builds a network — the workflow's topologies,
``python -m mlpsweep train --settings JSON`` and the studies' own networks —
goes through :func:`resolve` (or :func:`network` for the keys that define a
network), so the same keys, types, bounds and defaults hold everywhere: the
schema's ``definitions.settings`` says what is allowed, its ``defaults.default``
(the lecture's recipe) fills in what is left out.  A bad setting raises
:class:`SettingsError` with one line naming the key, the value and what is
allowed, e.g. ``settings key epochs: 2.7 is not of type 'integer'``.
"""

from __future__ import annotations

from functools import lru_cache

from .config import ConfigError, _deep_merge, load_schema, schema_default, validate
from .nn import costs
from .nn.network import NETWORK_KEYS


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


def resolve(settings, *, base: dict | None = None, what: str = "settings key", prefix: str = "") -> dict:
    """Complete, checked settings: ``settings`` over ``base`` (default: the schema's defaults).

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
    if checked["momentum"] and pen["lambda"] and pen["p"] <= 1:
        raise SettingsError(f"{where}momentum: momentum cannot be combined with a penalty of p <= 1 "
                            "(its steps stop at zero); set momentum to 0 or p above 1")
    return {k: checked[k] for k in run_schema["required"]}


def network(config: dict) -> dict:
    """The network-defining keys of ``config`` (others ignored), checked, with the schema's defaults."""
    given = {k: config[k] for k in NETWORK_KEYS if k in config}
    return {k: v for k, v in resolve(given).items() if k in NETWORK_KEYS}
