"""The experiment's configuration schema: loading it, its defaults, and validation against it.

``schemas/config.schema.yaml`` (in this package; ``workflow/schemas/`` links to
it) describes every key and is the only place where a default is written.
:func:`validate` checks a document against it with the ``jsonschema`` library
(draft 7, extended to fill in the schema's defaults); any problem raises
:class:`ConfigError` with one line that names the key, e.g.
``config key topologies.30.eta: -1 is less than or equal to the minimum of 0``.
Above it, :mod:`mlpsweep.settings` resolves one run's settings and
:mod:`mlpsweep.plan` expands a whole config into the jobs of the workflow.
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """An invalid configuration (the message names the key)."""


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


SCHEMA_PATH = Path(str(resources.files(__package__).joinpath("schemas", "config.schema.yaml")))


@lru_cache(maxsize=4)
def _load(path: str) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def load_schema(path=None) -> dict:
    """The config schema (a fresh copy): the package's, or the one at ``path``, with the names of activations,
    outputs, costs, initialisations and dtypes from the training core's registries (the one list of each)."""
    schema = copy.deepcopy(_load(str(path or SCHEMA_PATH)))
    props = schema["definitions"]["settings"]["properties"]
    for key, names in registry_names().items():
        props[key]["enum"] = names
    return schema


@lru_cache(maxsize=1)
def registry_names() -> dict[str, list[str]]:
    """The names the training core knows, by setting: its registries, in their order."""
    from .nn import activations, costs, network

    return {
        "activation": list(activations.HIDDEN),
        "output": list(activations.OUTPUT),
        "cost": list(costs.COSTS),
        "init": list(network.INITS),
        "dtype": list(network.DTYPES),
    }


def schema_default(dotted: str, field: str = "default"):
    """The schema's default of a top-level key path, e.g. ``download.timeout`` (for command-line defaults), or
    another ``field`` of it (``maximum``)."""
    node = _load(str(SCHEMA_PATH))
    for part in dotted.split("."):
        node = node["properties"][part]
    return copy.deepcopy(node[field])


@lru_cache(maxsize=1)
def name_regex() -> str:
    """The rule for every name a user gives (the schema's ``definitions.name`` pattern), without its anchors."""
    return _load(str(SCHEMA_PATH))["definitions"]["name"]["pattern"].removeprefix("^").removesuffix("$")


@lru_cache(maxsize=1)
def name_max() -> int:
    """The longest name a user may give (the schema's ``definitions.name`` maxLength)."""
    return _load(str(SCHEMA_PATH))["definitions"]["name"]["maxLength"]


#: Snakemake refuses a wildcard value that ends in one piece repeated this many times or more, taking it for
#: an endless recursion of rules (``snakemake.io.PeriodicityDetector``, ``min_repeat=20``): such a name would
#: plan "Nothing to be done" and train nothing.
PERIODIC_REPEATS = 20


def name_problem(text) -> str | None:
    """Why ``text`` cannot be a name (in words for a one-line error), or None when it can."""
    import re

    if not isinstance(text, str) or re.fullmatch(name_regex(), text) is None:
        return "not a name (letters, digits, _ . -, starting with a letter or digit)"
    if len(text) > name_max():
        return f"longer than the {name_max()} characters a name may have"
    periodic = re.search(rf"(.+?)\1{{{PERIODIC_REPEATS - 1},}}$", text)
    if periodic:
        return (
            f"ends in {periodic.group(1)!r} repeated {PERIODIC_REPEATS} times or more, which Snakemake takes for "
            "an endless recursion; shorten the repetition"
        )
    return None


def is_name(text) -> bool:
    """Whether ``text`` is a valid name (:func:`name_problem` finds nothing)."""
    return name_problem(text) is None


def _resolve_ref(schema: dict, root: dict) -> dict:
    while "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _deep_merge(base: dict, top: dict) -> dict:
    """``top`` over ``base``, dicts merged recursively, anything else replaced."""
    out = dict(base)
    for key, value in top.items():
        out[key] = (
            _deep_merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        )
    return out


@lru_cache(maxsize=1)
def _strict_validator_class():
    """Draft 7 validation in which ``integer`` means an integer, not a float that happens to be integral.

    JSON Schema counts ``2.0`` as an integer; Python does not (``range(2.0)`` fails), so a config or a
    run's settings with ``epochs: 2.0`` would pass here and fail in the job that uses it, after Snakemake
    has removed that job's old outputs.  This is the one rule for the config, the workflow and every
    stage command: ``2.0`` is refused where an integer is asked for, naming the key.
    """
    from jsonschema import Draft7Validator, validators

    def is_integer(checker, instance) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    return validators.extend(Draft7Validator, type_checker=Draft7Validator.TYPE_CHECKER.redefine("integer", is_integer))


@lru_cache(maxsize=1)
def _validator_class():
    """:func:`_strict_validator_class` that fills in each property's ``default`` before checking it.

    A dict default merges (recursively) under what the config gives, so a
    config that defines one more topology keeps the default ones, and one that
    changes a study's topologies keeps its kind.
    """
    from jsonschema import validators

    strict = _strict_validator_class()
    check_properties = strict.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    default = copy.deepcopy(sub["default"])
                    if key not in instance:
                        instance[key] = default
                    elif isinstance(default, dict) and isinstance(instance[key], dict):
                        instance[key] = _deep_merge(default, instance[key])
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(strict, {"properties": properties})


def _scalar(text: str, types: list):
    """``text`` as the first of the schema's scalar ``types`` it parses as, else unchanged."""
    low = text.strip().lower()
    for t in types:
        try:
            if t == "integer" and low.lstrip("+-").isdigit():
                return int(low)
            if t == "number":
                value = float(low)
                return int(value) if value.is_integer() and "." not in low and "e" not in low else value
            if t == "boolean" and low in ("true", "false"):
                return low == "true"
            if t == "null" and low in ("null", "none", "~", ""):
                return None
        except ValueError:
            continue
    return text


def _fits(value, schema: dict, root: dict) -> bool:
    """Whether ``value`` is valid against a sub-schema of ``root`` (its references resolved in ``root``)."""
    return _strict_validator_class()({"definitions": root.get("definitions", {}), **schema}).is_valid(value)


def coerce(instance, schema: dict, root: dict):
    """Turn strings into the numbers/booleans the schema asks for.

    ``snakemake --config seeds='[1,2]'`` delivers ``['1', '2']`` (it reads
    values with YAML's base loader); this makes such overrides work, unions
    included: under ``oneOf``/``anyOf`` the first alternative the coerced value
    fits is taken, and where a type list allows a string too (``[integer,
    string]``), the string becomes a number where the number is valid or the
    string is not (so an error speaks of the number).
    """
    schema = _resolve_ref(schema, root)
    for union in ("oneOf", "anyOf"):
        if union in schema:
            for alternative in schema[union]:
                candidate = coerce(copy.deepcopy(instance), alternative, root)
                if _fits(candidate, _resolve_ref(alternative, root), root):
                    return candidate
            return instance
    if "enum" in schema:
        return instance
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if isinstance(instance, str) and types:
        others = [t for t in types if t != "string"]
        value = _scalar(instance, others)
        if value is not instance and (
            others == types or _fits(value, schema, root) or not _fits(instance, schema, root)
        ):
            return value
        return instance
    if isinstance(instance, list) and isinstance(schema.get("items"), dict):
        return [coerce(v, schema["items"], root) for v in instance]
    if isinstance(instance, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, value in instance.items():
            sub = props.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                instance[key] = coerce(value, sub, root)
    return instance


def _integral_float(value) -> int | None:
    """The integer a float (or a string of one, as ``snakemake --config`` gives) such as 2.0 stands for."""
    try:
        number = float(value) if isinstance(value, str | float) else None
    except ValueError:
        return None
    return int(number) if number is not None and number.is_integer() else None


#: What a config (or a run's settings) may hold, checked before anything else reads it: the structure a plan can
#: walk in a moment, whatever a YAML file's aliases or nesting make of a few bytes.  ``limits.max_nodes`` raises
#: the node cap for a config that truly needs more (a very long seed list).
MAX_DEPTH = 32
MAX_NODES = 100_000
#: The largest integer a setting may hold: beyond it a number is no longer exact as a float (2**53), and no count,
#: size or seed of this project comes near it.
MAX_INTEGER = 2**53


def structure_problem(doc, *, max_nodes: int = MAX_NODES) -> tuple[str, str] | None:
    """(key, why) of the first thing in ``doc`` no setting can be — a non-finite or astronomically large
    number, nesting deeper than :data:`MAX_DEPTH`, more than ``max_nodes`` values (aliases counted each time
    they are used), a key that is not a string — or None.  Iterative, so no nesting can exhaust the stack."""
    import math

    todo: list = [((), doc)]
    seen = 0
    while todo:
        path, node = todo.pop()
        seen += 1
        if seen > max_nodes:
            return _key(path), (
                f"the config holds more than {max_nodes:,} values (YAML aliases count each time they are used); "
                "set limits.max_nodes higher if it truly needs more"
            )
        if len(path) > MAX_DEPTH:
            return _key(path[:MAX_DEPTH]), f"nested more than {MAX_DEPTH} levels deep; no setting is"
        if isinstance(node, bool) or node is None or isinstance(node, str):
            continue
        if isinstance(node, float) and not math.isfinite(node):
            return _key(path), f"{node} is not a finite number; every number here must be one"
        if isinstance(node, int) and abs(node) > MAX_INTEGER:
            return _key(path), f"a {len(str(abs(node)))}-digit number is beyond any setting (at most 2**53)"
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(key, str):
                    return _key(path), f"the key {key!r} is not a string; write it in quotes"
                todo.append(((*path, key), value))
        elif isinstance(node, list):
            todo.extend(((*path, i), value) for i, value in enumerate(node))
        elif not isinstance(node, int | float):
            return _key(path), f"a {type(node).__name__} is not a setting (numbers, strings, lists and mappings)"
    return None


#: The largest config file read: a config is a page of settings, not data.
MAX_FILE_BYTES = 4 * 2**20


def check_file(path) -> None:
    """Refuse (ConfigError, one line naming the file) a YAML config file that cannot be read in a moment: over
    :data:`MAX_FILE_BYTES`, or nested deeper than :data:`MAX_DEPTH` (YAML's reader recurses per level, so
    thousands of levels end in a RecursionError before any key is seen).  Read as a stream of events, without
    recursion.  A file that does not exist is left to whoever reads it next."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise ConfigError(f"config file {path}: {size:,} bytes; a config has at most {MAX_FILE_BYTES:,}")
    depth = 0
    try:
        with path.open(encoding="utf-8") as stream:
            for event in yaml.parse(stream, Loader=yaml.SafeLoader):
                if isinstance(event, yaml.CollectionStartEvent):
                    depth += 1
                    if depth > MAX_DEPTH:
                        line = event.start_mark.line + 1
                        raise ConfigError(
                            f"config file {path}, line {line}: nested more than {MAX_DEPTH} levels deep; no setting is"
                        )
                elif isinstance(event, yaml.CollectionEndEvent):
                    depth -= 1
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: not valid UTF-8 YAML ({' '.join(str(exc).split())})") from None


def _node_cap(config) -> int:
    """The node cap a config asks for (``limits.max_nodes``), read before the walk that enforces it."""
    limits = config.get("limits") if isinstance(config, dict) else None
    cap = limits.get("max_nodes") if isinstance(limits, dict) else None
    return cap if isinstance(cap, int) and not isinstance(cap, bool) and MAX_NODES <= cap <= MAX_INTEGER else MAX_NODES


def validate(
    config: dict,
    schema: dict,
    *,
    what: str = "config key",
    prefix: str = "",
    coerce_strings: bool | Collection[str] = True,
    error=None,
) -> dict:
    """A validated deep copy of ``config`` with the schema's defaults filled in.

    Raises ``error`` (default :class:`ConfigError`) with one line naming the key
    (``{what} {prefix}.{path}``), the value and what is allowed.
    ``coerce_strings`` turns strings into the numbers and booleans the schema
    asks for (``snakemake --config`` delivers strings): True everywhere, or a collection of the top-level keys
    that came from a command line (a YAML file's ``seeds: ['1']`` is a string where a number belongs, refused).
    """
    import jsonschema

    found = structure_problem(config, max_nodes=_node_cap(config))
    if found:
        key = ".".join(p for p in (prefix, found[0] if found[0] != "(top level)" else "") if p) or "(top level)"
        raise (error or ConfigError)(f"{what} {key}: {found[1]}")
    config = copy.deepcopy(config if config is not None else {})
    if coerce_strings is True:
        config = coerce(config, schema, schema)
    elif coerce_strings and isinstance(config, dict):  # only the keys a command line gave (as strings)
        props = schema.get("properties", {})
        for key in set(coerce_strings) & set(config) & set(props):
            config[key] = coerce(config[key], props[key], schema)
    errors = list(_validator_class()(schema).iter_errors(config))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        path = _key(err.absolute_path) if err.absolute_path else ""
        key = ".".join(p for p in (prefix, path) if p) or "(top level)"
        message = err.message
        quoted = isinstance(err.instance, str) and _scalar(err.instance, ["number"]) != err.instance
        if err.validator == "type" and quoted:
            message += f" (write {err.instance.strip()}, without quotes)"
        elif err.validator == "type" and _integral_float(err.instance) is not None:
            message += f" (write {_integral_float(err.instance)}, without a decimal point)"
        elif err.validator == "maxLength":
            message += f" (at most {err.validator_value} characters)"
        raise (error or ConfigError)(f"{what} {key}: {message}")
    return config
