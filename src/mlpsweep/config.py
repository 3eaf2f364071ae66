"""The experiment's configuration: schema validation, defaults and the run plan.

``workflow/schemas/config.schema.yaml`` describes every key.  :func:`plan`
checks a config against it (JSON Schema, draft 7), fills in the defaults the
schema states, then checks what a schema cannot express (output layer and
cost pairings, study and dataset references, dataset definitions).  Any
problem raises :class:`ConfigError` with one line that names the key, e.g.
``config key topologies.30.eta: -1 is less than or equal to the minimum of 0``.

The :class:`Plan` it returns is what the workflow expands: datasets, seeds and
the resolved settings of every topology that an enabled study uses.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from .data import datasets as ds
from .nn import costs

SETTINGS = ("hidden", "activation", "output", "cost", "init", "eta", "batch_size", "epochs", "penalty", "dropout",
            "dtype", "momentum", "eta_decay")


class ConfigError(ValueError):
    """An invalid configuration (the message names the key)."""


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_schema(path) -> dict:
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


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
        out[key] = _deep_merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return out


def fill_defaults(instance, schema: dict, root: dict):
    """Fill missing keys from the schema's ``default`` values, recursively.

    Dict defaults merge (recursively) under what the config gives, so a
    config that defines one more topology keeps the default ones, and one
    that changes a study's topologies keeps its kind.
    """
    schema = _resolve_ref(schema, root)
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return instance
    for key, sub in schema.get("properties", {}).items():
        sub_r = _resolve_ref(sub, root)
        if "default" in sub_r:
            default = copy.deepcopy(sub_r["default"])
            if key not in instance:
                instance[key] = default
            elif isinstance(default, dict) and isinstance(instance[key], dict):
                instance[key] = _deep_merge(default, instance[key])
        if key in instance:
            instance[key] = fill_defaults(instance[key], sub_r, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key in instance:
            if key not in schema.get("properties", {}):
                instance[key] = fill_defaults(instance[key], extra, root)
    return instance


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


def coerce(instance, schema: dict, root: dict):
    """Turn strings into the numbers/booleans the schema asks for.

    ``snakemake --config seeds='[1,2]'`` delivers ``['1', '2']`` (it reads
    values with YAML's base loader); this makes such overrides work.
    """
    schema = _resolve_ref(schema, root)
    if "enum" in schema:
        return instance
    types = schema.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    if isinstance(instance, str) and types and "string" not in types:
        return _scalar(instance, types)
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


def validate(config: dict, schema: dict) -> dict:
    """A validated deep copy of ``config`` with defaults filled in."""
    import jsonschema

    config = coerce(copy.deepcopy(config or {}), schema, schema)
    config = fill_defaults(config, schema, schema)
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"config key {_key(err.absolute_path)}: {err.message}")
    return config


@dataclass
class Plan:
    """What the workflow runs: every (dataset, topology, seed), resolved."""

    config: dict
    datasets: list[str]
    seeds: list[int]
    studies: list[str]
    topologies: dict[str, dict]
    dataset_specs: dict[str, ds.DatasetSpec]
    runs: list[tuple[str, int]]  # (topology, seed) of every enabled study, in order
    study_defs: dict[str, dict]  # every defined study, resolved (topologies, seeds, options)
    all_topologies: dict[str, dict]  # every topology a defined study uses, resolved

    def topology(self, name: str) -> dict:
        return self.all_topologies[name]

    def topology_json(self, name: str) -> str:
        """The settings of one topology as canonical JSON (what a train job gets)."""
        return json.dumps(self.all_topologies[name], sort_keys=True, separators=(",", ":"))

    def dataset_json(self, name: str) -> str:
        return json.dumps(self.dataset_specs[name].to_dict(), sort_keys=True, separators=(",", ":"))

    def study_runs(self, study: str) -> list[tuple[str, int]]:
        d = self.study_defs[study]
        return [(t, s) for t in d["topologies"] for s in d["seeds"]]

    def studies_json(self, studies=None) -> str:
        names = self.studies if studies is None else studies
        return json.dumps([{"name": n, **self.study_defs[n]} for n in names], sort_keys=True, separators=(",", ":"))


def resolve_topology(config: dict, name: str) -> dict:
    settings = {**config["defaults"], **config["topologies"][name]}
    missing = [k for k in SETTINGS if k not in settings and k not in ("momentum", "eta_decay")]
    if missing:
        raise ConfigError(f"config key topologies.{name}: no value for {', '.join(missing)} (set it there or under defaults)")
    settings["penalty"] = {"p": 2.0, "lambda": 0.0, **config["defaults"].get("penalty", {}), **config["topologies"][name].get("penalty", {})}
    settings["hidden"] = [int(n) for n in settings["hidden"]]
    settings.setdefault("momentum", 0.0)
    settings.setdefault("eta_decay", 1.0)
    try:
        costs.check_pairing(settings["cost"], settings["output"])
    except ValueError as exc:
        raise ConfigError(f"config key topologies.{name}.cost: {exc}") from None
    if settings["momentum"] and settings["penalty"]["lambda"] and settings["penalty"]["p"] <= 1:
        raise ConfigError(f"config key topologies.{name}.momentum: momentum cannot be combined with a penalty of p <= 1")
    return {k: settings[k] for k in SETTINGS}


def study_schema(schema: dict, kind) -> dict:
    """The schema of one study of ``kind``: the common keys and the kind's own options."""
    common = schema["definitions"]["study"]
    return {**schema, "type": "object", "additionalProperties": False,
            "properties": {**common["properties"], **kind.options}}


def _study(config: dict, name: str, resolved: dict, schema: dict) -> dict:
    from .studies import KINDS

    d = config["study_definitions"][name]
    where = f"study_definitions.{name}"
    if d["kind"] not in KINDS:
        raise ConfigError(f"config key {where}.kind: unknown study kind {d['kind']!r}; known kinds are {sorted(KINDS)}")
    kind = KINDS[d["kind"]]
    try:
        d = validate(d, study_schema(schema, kind))
    except ConfigError as exc:
        raise ConfigError(str(exc).replace("config key ", f"config key {where}.", 1).replace(f"{where}.(top level)", where)) from None
    d.setdefault("seeds", list(config["seeds"]))
    for key, value in config["verdicts"].items():
        d.setdefault(key, value)
    problem = kind.check(name, d)
    if problem:
        raise ConfigError(f"config key {where}.{problem}")
    for j, topo in enumerate(d["topologies"]):
        if topo not in config["topologies"]:
            raise ConfigError(f"config key {where}.topologies[{j}]: unknown topology {topo!r}; define it under topologies")
        if topo not in resolved:
            resolved[topo] = resolve_topology(config, topo)
    return d


def plan(config: dict, schema_path) -> Plan:
    """Validate ``config`` and expand it into a :class:`Plan` (or raise ConfigError)."""
    schema = load_schema(schema_path)
    config = validate(config, schema)
    studies = config["studies"]
    for i, study in enumerate(studies):
        if study not in config["study_definitions"]:
            raise ConfigError(
                f"config key studies[{i}]: unknown study {study!r}; defined studies are {sorted(config['study_definitions'])}"
            )
    resolved: dict[str, dict] = {}
    study_defs = {name: _study(config, name, resolved, schema) for name in config["study_definitions"]}
    topologies: dict[str, dict] = {}
    runs: list[tuple[str, int]] = []
    for study in studies:
        for topo in study_defs[study]["topologies"]:
            topologies.setdefault(topo, resolved[topo])
        for run in ((t, s) for t in study_defs[study]["topologies"] for s in study_defs[study]["seeds"]):
            if run not in runs:
                runs.append(run)
    specs = {}
    for i, name in enumerate(config["datasets"]):
        try:
            specs[name] = ds.resolve(name, config["dataset_definitions"])
        except ds.DatasetSpecError as exc:
            text = str(exc)
            if text.startswith("unknown dataset"):
                raise ConfigError(f"config key datasets[{i}]: {text}") from None
            raise ConfigError(f"config key {text}") from None
    return Plan(
        config=config,
        datasets=list(config["datasets"]),
        seeds=list(config["seeds"]),
        studies=list(studies),
        topologies=topologies,
        dataset_specs=specs,
        runs=runs,
        study_defs=study_defs,
        all_topologies=resolved,
    )
