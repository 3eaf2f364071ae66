"""The experiment's configuration: schema validation, defaults and the run plan.

``schemas/config.schema.yaml`` (in this package; ``workflow/schemas/`` links to
it) describes every key and is the only place where a default is written.
:func:`plan` checks a config against it with the ``jsonschema`` library
(draft 7, extended to fill in the schema's defaults), then checks what a
schema cannot express (output layer and cost pairings, study and dataset
references, dataset definitions).  Any problem raises :class:`ConfigError`
with one line that names the key, e.g.
``config key topologies.30.eta: -1 is less than or equal to the minimum of 0``.
Training settings on their own (the ``train`` command, :meth:`Network.from_config`)
go through :mod:`mlpsweep.settings`, against the same schema.

The :class:`Plan` it returns is what the workflow expands: datasets, seeds and
the resolved settings of every topology that an enabled study uses.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from .data import datasets as ds

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
    """The config schema (a fresh copy): the package's, or the one at ``path``."""
    return copy.deepcopy(_load(str(path or SCHEMA_PATH)))


def schema_default(dotted: str):
    """The schema's default of a top-level key path, e.g. ``download.timeout`` (for command-line defaults)."""
    node = _load(str(SCHEMA_PATH))
    for part in dotted.split("."):
        node = node["properties"][part]
    return copy.deepcopy(node["default"])


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


@lru_cache(maxsize=1)
def _validator_class():
    """Draft 7 validation that fills in each property's ``default`` before checking it.

    A dict default merges (recursively) under what the config gives, so a
    config that defines one more topology keeps the default ones, and one that
    changes a study's topologies keeps its kind.
    """
    from jsonschema import Draft7Validator, validators

    check_properties = Draft7Validator.VALIDATORS["properties"]

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

    return validators.extend(Draft7Validator, {"properties": properties})


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


def validate(config: dict, schema: dict, *, what: str = "config key", prefix: str = "",
             coerce_strings: bool = True, error=None) -> dict:
    """A validated deep copy of ``config`` with the schema's defaults filled in.

    Raises ``error`` (default :class:`ConfigError`) with one line naming the key
    (``{what} {prefix}.{path}``), the value and what is allowed.
    ``coerce_strings`` turns strings into the numbers and booleans the schema
    asks for (``snakemake --config`` delivers strings).
    """
    import jsonschema

    config = copy.deepcopy(config if config is not None else {})
    if coerce_strings:
        config = coerce(config, schema, schema)
    errors = list(_validator_class()(schema).iter_errors(config))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        path = _key(err.absolute_path) if err.absolute_path else ""
        key = ".".join(p for p in (prefix, path) if p) or "(top level)"
        raise (error or ConfigError)(f"{what} {key}: {err.message}")
    return config


#: The settings every run of a stack shares (the rest, e.g. η, λ, p, dropout, init, momentum, seed, may differ).
STACK_KEY = ("hidden", "activation", "output", "cost", "dtype", "batch_size", "epochs")

#: ``runs_per_job: auto`` trains at most this many runs per job: the fastest default run on 2 cores of
#: ``benchmarks/pipeline.py --runs-per-job 1 2 3 5`` (README, Throughput); jobs of 3 also keep more
#: cores busy than jobs of 5, for a few per cent more CPU time per run.
AUTO_RUNS_PER_JOB = 3


@dataclass(frozen=True)
class Stack:
    """One training job of several runs: its name (``{study}.{k}``) and its (topology, seed) runs."""

    name: str
    runs: list

    def rule_name(self, dataset: str) -> str:
        return "train_stack_" + re.sub(r"\W", "_", f"{dataset}_{self.name}")


def split_runs(runs: list, per_job) -> list[list]:
    """``runs`` cut in order into jobs of ``per_job`` runs (``"auto"``: :data:`AUTO_RUNS_PER_JOB`), the last
    one shorter.  Cutting in order keeps full jobs as they are when runs are added at the end (a new seed)."""
    size = AUTO_RUNS_PER_JOB if per_job == "auto" else per_job
    return [runs[i:i + size] for i in range(0, len(runs), size)]


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
        """The (topology, seed) runs the plain train rule makes for ``study`` (none if it trains itself)."""
        from .studies import KINDS

        d = self.study_defs[study]
        if KINDS[d["kind"]].trains_itself(d):
            return []
        return [(t, s) for t in d["topologies"] for s in d["seeds"]]

    def tracks_gradients(self, topology: str) -> bool:
        """Whether a topology's runs record per-layer gradient norms (a study of a kind that reads them uses it)."""
        from .studies import KINDS

        return any(KINDS[d["kind"]].track_gradients and topology in d["topologies"] for d in self.study_defs.values())

    def stacks(self) -> list[Stack]:
        """The training jobs of more than one run (``training.runs_per_job``), in a fixed order.

        Every defined study's runs, in definition order, are claimed once;
        within a study the runs with the same :data:`STACK_KEY` settings form
        a stack, cut in order into jobs (:func:`split_runs`).  Neither the
        enabled studies nor ``--cores`` change the grouping: a new grouping
        would re-train finished runs.  Runs that record gradient norms, runs
        of studies that train themselves (successive halving) and stacks of
        one run train alone.
        """
        per_job = self.config["training"]["runs_per_job"]
        claimed: set = set()
        stacks: list[Stack] = []
        for study in self.study_defs:
            groups: dict[tuple, list[tuple[str, int]]] = {}
            for run in self.study_runs(study):
                if run in claimed or self.tracks_gradients(run[0]):
                    continue
                claimed.add(run)
                settings = self.topology(run[0])
                groups.setdefault(tuple(json.dumps(settings[k], sort_keys=True) for k in STACK_KEY), []).append(run)
            index = 0
            for runs in groups.values():
                for chunk in split_runs(runs, per_job):
                    index += 1
                    if len(chunk) > 1:
                        stacks.append(Stack(f"{study}.{index}", chunk))
        return stacks

    def studies_list(self, studies=None) -> list[dict]:
        """The resolved definitions of ``studies`` (default: the enabled ones), each with its name."""
        names = self.studies if studies is None else studies
        return [{"name": n, **self.study_defs[n]} for n in names]


def resolve_topology(config: dict, name: str, prefix: str | None = None) -> dict:
    """A topology's complete settings: its own keys over the config's ``defaults``, checked.

    Errors name ``prefix`` (default ``topologies.<name>``).
    """
    from . import settings

    return settings.resolve(config["topologies"][name], base=config["defaults"], what="config key",
                            prefix=prefix or f"topologies.{name}")


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
    d = validate(d, study_schema(schema, kind), prefix=where)
    d.setdefault("seeds", list(config["seeds"]))
    for key, value in config["verdicts"].items():
        d.setdefault(key, value)
    try:
        generated = kind.generate(name, d, config)
    except ValueError as exc:
        raise ConfigError(f"config key {exc}") from None
    if generated:
        config["topologies"].update(generated)
        d["topologies"] = list(generated)
    problem = kind.check(name, d)
    if problem:
        raise ConfigError(f"config key {where}.{problem}")
    for j, topo in enumerate(d["topologies"]):
        if topo not in config["topologies"]:
            raise ConfigError(f"config key {where}.topologies[{j}]: unknown topology {topo!r}; define it under topologies")
        if topo not in resolved:
            resolved[topo] = resolve_topology(config, topo, f"{where}.points.{topo}" if generated else None)
    return d


def plan(config: dict, schema_path=None) -> Plan:
    """Validate ``config`` and expand it into a :class:`Plan` (or raise ConfigError)."""
    schema = load_schema(schema_path)
    config = validate(config, schema)
    studies = config["studies"]
    for i, study in enumerate(studies):
        if study not in config["study_definitions"]:
            raise ConfigError(
                f"config key studies[{i}]: unknown study {study!r}; defined studies are {sorted(config['study_definitions'])}"
            )
    from .studies import KINDS

    resolved: dict[str, dict] = {}
    study_defs = {name: _study(config, name, resolved, schema) for name in config["study_definitions"]}
    topologies: dict[str, dict] = {}
    runs: list[tuple[str, int]] = []
    for study in studies:
        for topo in study_defs[study]["topologies"]:
            topologies.setdefault(topo, resolved[topo])
        if KINDS[study_defs[study]["kind"]].trains_itself(study_defs[study]):
            continue  # its runs come from rules of its own (successive halving)
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
