"""The run plan: a validated config expanded into what the workflow runs.

:func:`plan` checks a config against the schema (:mod:`mlpsweep.config`), then
what a schema cannot express (output layer and cost pairings, study and
dataset references, dataset definitions), asking each study kind
(:mod:`mlpsweep.studies`) for its own options and runs.  Any problem raises
:class:`~mlpsweep.config.ConfigError` with one line that names the key.  The
:class:`Plan` it returns holds the datasets, seeds, the resolved settings of
every topology a study uses, and the training jobs (:meth:`Plan.stacks`).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from dataclasses import dataclass

from . import arithmetic
from . import plugins
from . import settings
from .config import ConfigError, load_schema, name_problem, validate
from .data import datasets as ds
from . import estimate
from .sequential import Design, seed_sequence
from .nn import Settings
from .studies import Job, StudyKind, UnknownKind, kind
from .studies.compare import look_seeds


#: ``runs_per_job: auto`` trains at most this many runs per job: the fastest default run on 2 cores of
#: ``benchmarks/pipeline.py --runs-per-job 1 2 3 5`` (README, Throughput); jobs of 3 also keep more
#: cores busy than jobs of 5, for a few per cent more CPU time per run.
AUTO_RUNS_PER_JOB = 3


@dataclass(frozen=True)
class Stack:
    """One training job of several (topology, seed) runs, named after them: ``{topology}.seed{seed}+{n}``
    (its first run and how many more), so a stack's name, like its job, changes only when its runs do."""

    runs: list

    @property
    def name(self) -> str:
        (topology, seed), more = self.runs[0], len(self.runs) - 1
        return f"{topology}.seed{seed}+{more}"

    def rule_name(self, dataset: str) -> str:
        return "train_stack_" + re.sub(r"\W", "_", f"{dataset}_{self.name}")


def split_runs(runs: list, per_job) -> list[list]:
    """``runs`` cut in order into jobs of ``per_job`` runs (``"auto"``: :data:`AUTO_RUNS_PER_JOB`), the last
    one shorter.  Cutting in order keeps full jobs as they are when runs are added at the end (a new seed)."""
    size = AUTO_RUNS_PER_JOB if per_job == "auto" else per_job
    return [runs[i : i + size] for i in range(0, len(runs), size)]


@dataclass(frozen=True)
class PlannedStudy:
    """A defined study, typed: its name, kind and resolved definition, and what its kind plans of it.  The
    workflow asks this object, never the definition's keys; a staged study's ``decided(stage)`` reads a
    decision through the workflow's checkpoint (:class:`~mlpsweep.studies.base.StudyKind`)."""

    name: str
    kind: StudyKind
    definition: dict

    @property
    def topologies(self) -> list[str]:
        return list(self.definition["topologies"])

    @property
    def seeds(self) -> list[int]:
        return list(self.definition["seeds"])

    @property
    def stages(self) -> int:
        """Decisions the study may take between stages of training (0: none)."""
        return self.kind.stages(self.definition)

    @property
    def trains_in_stages(self) -> bool:
        return self.kind.trains_in_stages(self.definition)

    def stage_inputs(self, dataset: str, stage: int, decided) -> list[str]:
        return self.kind.stage_inputs(self.name, self.definition, dataset, stage, decided)

    def stage_arguments(self, stage: int, inputs) -> dict:
        return self.kind.stage_arguments(self.name, self.definition, stage, list(inputs))

    def stops(self, stage: int, doc: dict) -> bool:
        return self.kind.stops(self.definition, stage, doc)

    def runs_used(self, stage: int = 0, doc: dict | None = None) -> list[tuple[str, int]]:
        return self.kind.runs_used(self.definition, stage, doc)

    def staged_runs(self, decided) -> list[tuple[str, int, int]]:
        return self.kind.staged_runs(self.definition, decided)

    def stage_epoch(self, stage: int) -> int:
        return self.kind.stage_epoch(self.definition, stage)

    def trained_at(self, stage: int, decided) -> list[str]:
        return self.kind.trained_at(self.definition, stage, decided)

    def targets(self) -> list[str]:
        return self.kind.targets(self.name, self.definition)


@dataclass
class Plan:
    """What the workflow runs: every (dataset, topology, seed), resolved."""

    config: dict
    datasets: list[str]
    seeds: list[int]
    studies: list[str]
    topologies: dict[str, Settings]
    dataset_specs: dict[str, ds.DatasetSpec]
    runs: list[tuple[str, int]]  # (topology, seed) of every enabled study, in order
    study_defs: dict[str, dict]  # every defined study, resolved (topologies, seeds, options)
    all_topologies: dict[str, Settings]  # every topology a defined study uses, resolved

    def topology(self, name: str) -> Settings:
        return self.all_topologies[name]

    def topology_json(self, name: str) -> str:
        """The settings of one topology as canonical JSON (what a train job gets)."""
        return json.dumps(self.all_topologies[name].to_dict(), sort_keys=True, separators=(",", ":"))

    def dataset_json(self, name: str) -> str:
        return json.dumps(self.dataset_specs[name].to_dict(), sort_keys=True, separators=(",", ":"))

    def dataset_args(self, name: str) -> str:
        """A data job's dataset on its command line, short: ``--dataset NAME``, and ``--definition JSON`` with only
        what the config's ``dataset_definitions`` says of it (often just its sources)."""
        own = self.config["dataset_definitions"].get(name)
        if not own:
            return f"--dataset {name}"
        return f"--dataset {name} --definition " + shlex.quote(json.dumps(own, sort_keys=True, separators=(",", ":")))

    def missing_sources(self, dataset: str) -> str | None:
        """Why ``dataset`` cannot be downloaded, where planning can tell without the network: every source is a
        local folder or file:// address and none exists.  None when some source may work."""
        sources = self.dataset_specs[dataset].sources
        local = [s.removeprefix("file://") for s in sources if not s.startswith(("http://", "https://"))]
        if len(local) < len(sources) or any(Path(p).exists() for p in local):
            return None
        return (
            f"config key dataset_definitions.{dataset}.sources: none of {', '.join(local)} exists; copy the dataset's "
            "four .gz files into one of them, or point sources at the folder that holds them"
        )

    def study(self, name: str) -> PlannedStudy:
        """A defined study as the workflow uses it: its kind, its definition and what the kind plans of it."""
        return PlannedStudy(name, self.kind(name), self.study_defs[name])

    def study_runs(self, study: str) -> list[tuple[str, int]]:
        """The (topology, seed) runs the plain train rule makes for ``study`` (none if it trains in stages); of a
        sequential study, those of its first look (the later ones depend on the looks' decisions)."""
        d = self.study_defs[study]
        if self.kind(study).trains_in_stages(d):
            return []
        return [(t, s) for t in d["topologies"] for s in d["seeds"]]

    def design(self, study: str) -> Design | None:
        """The sequential design of ``study``, or None for a fixed one."""
        d = self.study_defs[study]
        return Design.of(d) if d.get("replication") else None

    def look_batches(self, study: str) -> list[list[tuple[str, int]]]:
        """The runs each look of ``study`` adds (one batch for a fixed design)."""
        design = self.design(study)
        if design is None:
            return [self.study_runs(study)]
        topologies, done, out = self.study_defs[study]["topologies"], 0, []
        for look in range(1, design.looks + 1):
            seeds = look_seeds(self.study_defs[study], look)
            out.append([(t, s) for t in topologies for s in seeds[done:]])
            done = len(seeds)
        return out

    def tracks_gradients(self, topology: str) -> bool:
        """Whether a topology's runs record per-layer gradient norms (a study of a kind that reads them uses it)."""
        return any(self.kind(st).track_gradients and topology in d["topologies"] for st, d in self.study_defs.items())

    def kind(self, study: str) -> StudyKind:
        """The kind of a defined study."""
        return kind(self.study_defs[study]["kind"])

    def study_jobs(self, study: str) -> list[Job]:
        """A study's jobs beyond training runs (its kind declares them)."""
        return self.kind(study).jobs(study, self.study_defs[study], self.topology)

    def extra_outputs(self, study: str) -> list[str]:
        """The files a study's section reads besides its runs ({dataset} left as a placeholder)."""
        return self.kind(study).extra_outputs(study, self.study_defs[study], self.topology)

    def stacks(self) -> list[Stack]:
        """The training jobs of more than one run (``training.runs_per_job``), in a fixed order.

        Every defined study's runs, in definition order, are claimed once;
        within a study the runs with the same :attr:`Settings.STACKED <mlpsweep.nn.Settings.STACKED>` settings form
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
            for batch in self.look_batches(study):  # a sequential study's looks train apart
                groups: dict[tuple, list[tuple[str, int]]] = {}
                for run in batch:
                    if run in claimed or self.tracks_gradients(run[0]):
                        continue
                    claimed.add(run)
                    shape = self.topology(run[0])
                    groups.setdefault(tuple(getattr(shape, k) for k in shape.STACKED), []).append(run)
                for runs in groups.values():
                    stacks += [Stack(chunk) for chunk in split_runs(runs, per_job) if len(chunk) > 1]
        return stacks

    def dataset_rows(self, dataset: str) -> tuple[int, int, int]:
        """(training rows, features, validation + test rows) of ``dataset``, from its IDX files' sizes."""
        f = self.dataset_specs[dataset].files
        n = f["train_labels"].bytes - 8  # an IDX label file: an 8-byte header, one byte per image
        d = (f["train_images"].bytes - 16) // max(n, 1)  # images: a 16-byte header, d bytes per image
        validation = self.config["data"]["validation_size"]
        return n - validation, d, validation + f["test_labels"].bytes - 8

    def work(self, dataset: str, runs: list) -> estimate.Work:
        """What the training job of ``runs`` (one shape) does on ``dataset`` (:mod:`mlpsweep.estimate`)."""
        st = self.topology(runs[0][0])
        m, d, held_out = self.dataset_rows(dataset)
        training = self.config["training"]
        return estimate.Work.of(
            st,
            features=d,
            classes=self.dataset_specs[dataset].classes,
            rows=m,
            held_out_rows=held_out,
            runs=len(runs),
            monitor_rows=training["monitor_rows"],
            test_by_need=not training["test_every_epoch"],
            mode=self.config["reproducibility"],
        )

    def train_resources(self, dataset: str, runs: list) -> dict:
        """The ``mem_mb`` and ``runtime`` (minutes) the training job of ``runs`` asks for (``resources.train``)."""
        r = self.config["resources"]["train"]
        mem, minutes = estimate.request(self.work(dataset, runs), r["mem_scale"], r["runtime_scale"])
        return {
            "mem_mb": mem if r["mem_mb"] == "auto" else r["mem_mb"],
            "runtime": minutes if r["runtime"] == "auto" else r["runtime"] * len(runs),
        }

    def memory_limit(self) -> float | None:
        limit = self.config["resources"]["max_mem_mb"]
        return estimate.machine_mb() if limit == "auto" else limit

    def check_resources(self) -> None:
        """Refuse (ConfigError, one line) a training job whose estimated memory exceeds ``resources.max_mem_mb``
        or whose estimated run time exceeds ``resources.max_runtime``: every stacked job, and every topology
        trained alone (successive-halving points and gradient-tracking runs included)."""
        limit, minutes = self.memory_limit(), self.config["resources"]["max_runtime"]
        jobs = [
            (stack.runs, f"topology {stack.runs[0][0]!r} (the stacked job {stack.name})") for stack in self.stacks()
        ]
        jobs += [([(name, 0)], f"topology {name!r}") for name in self.all_topologies]
        for dataset in self.datasets:
            for runs, what in jobs:
                work = self.work(dataset, runs)
                try:
                    estimate.check(work, limit, f"{what} on {dataset}")
                    estimate.check_time(work, minutes, f"{what} on {dataset}")
                except estimate.TooBig as exc:
                    raise ConfigError(str(exc)) from None

    def studies_list(self, studies=None) -> list[dict]:
        """The resolved definitions of ``studies`` (default: the enabled ones), each with its name."""
        names = self.studies if studies is None else studies
        return [{"name": n, **self.study_defs[n]} for n in names]


#: The folders, relative to the working directory, that every file the workflow writes lies under.
OUTPUT_ROOTS = ("resources", "results", "logs")


def check_inside(paths) -> None:
    """Raise ConfigError unless every path (relative, ``{…}`` placeholders allowed) stays under
    :data:`OUTPUT_ROOTS` once normalised: no name can move an output elsewhere."""
    import posixpath

    for path in paths:
        norm = posixpath.normpath(str(path))
        if posixpath.isabs(norm) or norm.split("/", 1)[0] not in OUTPUT_ROOTS:
            raise ConfigError(
                f"the output {path!r} would land outside {', '.join(r + '/' for r in OUTPUT_ROOTS)}; "
                "a name in the config is not a plain name (see definitions.name in the schema)"
            )


def _check_splits(name: str, spec: ds.DatasetSpec, data: dict) -> None:
    """Refuse a validation split the dataset cannot give (its row counts come from its definition)."""
    rows = spec.files["train_labels"].bytes - 8  # an IDX label file: an 8-byte header, one byte per image
    size = data["validation_size"]
    if size >= rows:
        raise ConfigError(
            f"config key data.validation_size: {size:,} leaves no training rows of {name}'s {rows:,}; "
            f"use at most {rows - 1:,}"
        )


def resolve_topology(config: dict, name: str, prefix: str | None = None) -> Settings:
    """A topology's complete settings: its own keys over the config's ``defaults``, checked.

    Errors name ``prefix`` (default ``topologies.<name>``).
    """
    return settings.resolve(
        config["topologies"][name], base=config["defaults"], what="config key", prefix=prefix or f"topologies.{name}"
    )


def study_schema(schema: dict, kind) -> dict:
    """The schema of one study of ``kind``: the common keys and the kind's own options."""
    common = schema["definitions"]["study"]
    return {
        **schema,
        "type": "object",
        "additionalProperties": False,
        "properties": {**common["properties"], **kind.options},
    }


def _study(config: dict, name: str, resolved: dict, schema: dict, coerce_strings) -> dict:
    d = config["study_definitions"][name]
    where = f"study_definitions.{name}"
    try:
        kind_ = kind(d["kind"])
    except UnknownKind as exc:
        raise ConfigError(f"config key {where}.kind: {exc}") from None
    d = validate(d, study_schema(schema, kind_), prefix=where, coerce_strings=coerce_strings)
    d.setdefault("seeds", list(config["seeds"]))
    for key, value in config["verdicts"].items():
        d.setdefault(key, value)
    if d.get("replication"):
        r = d["replication"]
        if not kind_.sequential:
            raise ConfigError(
                f"config key {where}.replication: a {kind_.name} study cannot add seeds sequentially "
                "(only kinds with a sequential rule, such as compare); remove replication"
            )
        if r["max"] < r["start"]:
            raise ConfigError(
                f"config key {where}.replication.max: {r['max']} is below start ({r['start']}); "
                "max is the seeds per topology at the last look"
            )
        d["replication"] = {**r, "seeds": seed_sequence(d["seeds"], r["max"])}
        d["seeds"] = d["replication"]["seeds"][: r["start"]]  # the first look's; the report gets the final ones
    try:
        generated = kind_.generate(name, d, config)
    except ValueError as exc:
        raise ConfigError(f"config key {exc}") from None
    if generated:
        config["topologies"].update(generated)
        d["topologies"] = list(generated)
    problem = kind_.check(name, d)
    if problem:
        raise ConfigError(f"config key {where}.{problem}")
    for j, topo in enumerate(d["topologies"]):
        if topo not in config["topologies"]:
            raise ConfigError(
                f"config key {where}.topologies[{j}]: unknown topology {topo!r}; define it under topologies"
            )
        if topo not in resolved:
            resolved[topo] = resolve_topology(config, topo, f"{where}.points.{topo}" if generated else None)
    return d


def _limit(config, key: str, schema: dict) -> int:
    """``limits.<key>`` of a config not yet validated: its value when it is a valid one, else the default."""
    spec = schema["properties"]["limits"]["properties"][key]
    given = config.get("limits") if isinstance(config, dict) else None
    value = given.get(key) if isinstance(given, dict) else None
    ok = isinstance(value, int) and not isinstance(value, bool) and spec["minimum"] <= value <= spec["maximum"]
    return value if ok else spec["default"]


def _check_seed_counts(config, schema: dict) -> None:
    """Refuse a seed list longer than ``limits.max_seeds`` before the schema's checks, which take quadratic
    time in a list's length (uniqueness)."""
    cap = _limit(config, "max_seeds", schema)
    if not isinstance(config, dict):
        return
    lists = [("seeds", config.get("seeds"))]
    studies = config.get("study_definitions")
    for name, d in studies.items() if isinstance(studies, dict) else ():
        if isinstance(d, dict):
            lists.append((f"study_definitions.{name}.seeds", d.get("seeds")))
            r = d.get("replication")
            if isinstance(r, dict) and isinstance(r.get("max"), int) and r["max"] > cap:
                lists.append((f"study_definitions.{name}.replication.max", range(r["max"])))
    for key, seeds in lists:
        if isinstance(seeds, list | range) and len(seeds) > cap:
            raise ConfigError(
                f"config key {key}: {len(seeds):,} seeds is more than limits.max_seeds ({cap:,}); "
                "raise limits.max_seeds if you mean it"
            )


def _check_run_count(config: dict, study_defs: dict) -> None:
    cap = config["limits"]["max_runs"]
    total = sum(len(d["topologies"]) * len((d.get("replication") or d)["seeds"]) for d in study_defs.values())
    if total > cap:
        raise ConfigError(
            f"config key study_definitions: {total:,} training runs is more than limits.max_runs ({cap:,}); "
            "raise limits.max_runs if you mean it"
        )


def _declare_plugins(names: list[str]) -> None:
    """Allow the modules of one's own the config lists (``plugins``) to be imported, once each is found."""
    for i, name in enumerate(names):
        problem = plugins.location_problem(name)
        if problem:
            raise ConfigError(f"config key plugins[{i}]: {problem}")
    plugins.declare(names)


def plan(config: dict, schema_path=None, command_line: list[str] | None = None) -> Plan:
    """Validate ``config`` and expand it into a :class:`Plan` (or raise ConfigError).

    ``command_line``: the top-level keys a command line gave as strings (``snakemake --config``), the only
    ones whose strings become the numbers the schema asks for; None: every key (a Python caller's dict).
    """
    schema = load_schema(schema_path)
    _check_seed_counts(config, schema)
    coerce_strings = True if command_line is None else list(command_line)
    config = validate(config, schema, coerce_strings=coerce_strings)
    _declare_plugins(config["plugins"])
    studies = config["studies"]
    for i, study in enumerate(studies):
        if study not in config["study_definitions"]:
            raise ConfigError(
                f"config key studies[{i}]: unknown study {study!r}; defined studies are "
                f"{sorted(config['study_definitions'])}"
            )
    resolved: dict[str, dict] = {}
    study_coerce = coerce_strings is True or "study_definitions" in coerce_strings
    study_defs = {name: _study(config, name, resolved, schema, study_coerce) for name in config["study_definitions"]}
    _check_run_count(config, study_defs)
    topologies: dict[str, Settings] = {}
    runs: list[tuple[str, int]] = []
    for study in studies:
        for topo in study_defs[study]["topologies"]:
            topologies.setdefault(topo, resolved[topo])
        if kind(study_defs[study]["kind"]).trains_in_stages(study_defs[study]):
            continue  # its runs come from rules of its own (successive halving)
        for run in ((t, s) for t in study_defs[study]["topologies"] for s in study_defs[study]["seeds"]):
            if run not in runs:
                runs.append(run)
    for name, st in topologies.items():
        problem = arithmetic.dtype_problem(st.dtype, config["reproducibility"])
        if problem:
            raise ConfigError(f"config key topologies.{name}.dtype: {problem}")
    specs = {}
    for i, name in enumerate(config["datasets"]):
        try:
            specs[name] = ds.resolve(name, config["dataset_definitions"])
        except ds.DatasetSpecError as exc:
            text = str(exc)
            if text.startswith("unknown dataset"):
                raise ConfigError(f"config key datasets[{i}]: {text}") from None
            raise ConfigError(f"config key {text}") from None
        _check_splits(name, specs[name], config["data"])
    # every name that becomes a wildcard: names a kind generated (sweep points) as well as the config's own
    for key, names in (("datasets", config["datasets"]), ("study_definitions", study_defs), ("topologies", resolved)):
        for name in names:
            problem = name_problem(name)
            if problem:
                raise ConfigError(f"config key {key}.{name}: {problem} (see definitions.name in the schema)")
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


#: What a user without network runs instead (the README's offline command).
OFFLINE_COMMAND = "snakemake --cores 2 --configfile config/fashion-mnist-local.yaml"


def download_advice(datasets, since: float) -> list[str]:
    """The lines to end a failed workflow with when a dataset's download failed in it (its log, written after
    ``since``, ends in the download's error): what to do, with the README's offline command."""
    lines = []
    for dataset in datasets:
        log = Path("logs") / dataset / "download.log"
        try:
            if log.stat().st_mtime < since or "download: error: could not get" not in log.read_text(errors="replace"):
                continue
        except OSError:
            continue
        lines += [
            f"mlpsweep: {dataset} could not be downloaded: no source answered (every attempt is in {log}). To go on:",
            f"  - offline, with Debian's Fashion-MNIST (apt install dataset-fashion-mnist): {OFFLINE_COMMAND}",
            f"  - or copy its four .gz files into resources/datasets/{dataset}/, or point "
            f"dataset_definitions.{dataset}.sources at the folder that holds them (config/README.md)",
        ]
    return lines
