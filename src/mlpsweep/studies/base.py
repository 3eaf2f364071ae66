"""What every study kind is made of, and what its report section reads.

A kind (one module in this package, registered in ``__init__``) declares

``name``             the ``kind:`` value in the config;
``options``          JSON-schema properties of its own config keys, each with a
                     description and (where it has one) a default — the only
                     place those defaults are written;
``plots``            its figures, ``plots/{study}-{plot}.png``; each one's caption
                     is ``studies/captions/{kind}-{plot}.rst``, which the HTML
                     report and ``snakemake --report`` both show;
``needs_runs``       whether it needs training runs (``topologies``);
``verdict_keys``     the config keys its decision rule reads (shown beside the
                     verdict, and only those);
``pairwise``         whether the report tests every pair of its topologies;
``track_gradients``  whether its runs record per-layer gradient norms;
``sequential``       whether it can add seeds until decided (``replication``:
                     :mod:`mlpsweep.sequential`), each look decided by the
                     same rule as its ``section`` on the seeds so far;
``generate``         topologies the study makes itself (a sweep's points);
``jobs``             its jobs beyond training runs (:class:`Job`: a measurement,
                     a fit, a table), which one generic rule and the command
                     ``python -m mlpsweep study-job`` run through ``run_job``;
``section``          its report section: the claim, a table, figures, findings
                     and a :class:`~mlpsweep.verdicts.Verdict` from its
                     ``decide`` function, which is pure and unit-tested;
``stages`` …         for a *staged* study, one whose next runs depend on a
                     decision after the last (a sequential study's looks, a
                     halving sweep's picks): how many decisions, what each
                     reads (``stage_inputs``), takes (``decide_stage``, run by
                     one generic Snakemake checkpoint) and whether the study
                     stops there (``stops``); which runs the report reads
                     (``runs_used``, ``staged_runs``) and what the last decision
                     changes in its definition (``with_decision``); a study
                     trained in stages also says each stage's epoch and which
                     topologies train at it (``stage_epoch``, ``trained_at``).
                     The workflow asks only these methods (through
                     :class:`mlpsweep.plan.PlannedStudy`), never a kind's name
                     or a definition's keys.

This module imports neither pandas nor matplotlib: the workflow imports the
registry while it builds the DAG.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from ..report.sections import Data, Section, settings_of  # noqa: F401 (the kinds' vocabulary)


@dataclass(frozen=True)
class Job:
    """A job of a study kind besides training runs: what it writes and the JSON arguments of its command.

    ``name`` is unique within its study.  Where ``{dataset}`` stands in the
    ``outputs`` the job runs once per dataset and reads its preprocessed
    arrays (``data_dir`` of :meth:`StudyKind.run_job`).  ``local`` jobs are
    cheap and never go to a cluster; ``mem_mb`` and ``runtime`` (minutes) are
    what a scheduler is asked for.
    """

    name: str
    outputs: tuple
    arguments: dict
    mem_mb: int = 1000
    runtime: int = 30
    local: bool = False

    @property
    def per_dataset(self) -> bool:
        return any("{dataset}" in o for o in self.outputs)


#: Where a staged study's decision after each stage lies (one generic checkpoint rule writes every one).
STAGE_FILE = "results/{dataset}/studies/{study}/stages/stage{stage}.json"
#: The job that generic rule runs: a staged kind answers it with :meth:`StudyKind.decide_stage`.
STAGE_JOB = "stage"


class StageNotPlanned(ValueError):
    """A decision asked for after the study stopped (the message says where)."""


class StudyKind:
    name: str = ""
    summary: str = ""  # one line for config/README and error messages
    options: dict = {}
    plots: tuple = ()
    needs_runs: bool = True
    pairwise: bool = False
    track_gradients: bool = False
    sequential: bool = False
    verdict_keys: tuple = ()

    def decided_pairs(self, definition: dict, depth: dict) -> list[tuple[str, str]]:
        """The pairs (a, b) of topologies whose difference b − a this kind's verdict decides (``depth``: topology
        -> number of layers), for the report to link them to the pairwise tests; none by default."""
        return []

    def generate(self, study: str, definition: dict, config: dict) -> dict:
        """Topologies this study makes itself (name -> topology), e.g. a sweep's points; none by default."""
        return {}

    def trains_in_stages(self, definition: dict) -> bool:
        """Whether the study's runs are trained stage by stage up to a stage's epoch (the workflow's staged
        training rules, :meth:`stage_epoch`, :meth:`trained_at`), not by the plain train rule."""
        return False

    # -- staged studies: a decision after each stage (a Snakemake checkpoint) plans the next ----------------------
    # ``decided(stage)`` gives a decision's content, waiting for it (the workflow reads it through its checkpoint).

    def stages(self, definition: dict) -> int:
        """How many decisions the study may take (0: a study of one stage, trained and reported at once)."""
        return 0

    def stage_inputs(self, definition: dict, dataset: str, stage: int, decided) -> list[str]:
        """The files decision ``stage`` (1-based) reads; earlier decisions are read through ``decided``."""
        raise NotImplementedError

    def stage_arguments(self, study: str, definition: dict, stage: int, inputs: list[str]) -> dict:
        """The JSON arguments of decision ``stage``'s job (:data:`STAGE_JOB`)."""
        raise NotImplementedError

    def decide_stage(self, arguments: dict, previous: str | None, out: str) -> None:
        """Take a decision in its job: write it to ``out`` (``previous``: the decision before it, if any)."""
        raise NotImplementedError

    def stops(self, definition: dict, stage: int, doc: dict) -> bool:
        """Whether the study ends with decision ``stage`` (by default, at the last one)."""
        return stage >= self.stages(definition)

    def runs_used(self, definition: dict, stage: int, doc: dict | None) -> list[tuple[str, int]]:
        """The (topology, seed) runs of the plain train rule the report reads, once decided up to ``stage``
        (``doc`` its decision; None while it is still to be taken)."""
        if self.trains_in_stages(definition):
            return []
        return [(t, s) for t in definition["topologies"] for s in definition["seeds"]]

    def staged_runs(self, definition: dict, decided) -> list[tuple[str, int, int]]:
        """(topology, seed, the stage it last trained at) of the runs the staged rules train."""
        return []

    def stage_epoch(self, definition: dict, stage: int) -> int:
        """The epoch training stage ``stage`` (0-based) ends at."""
        raise NotImplementedError

    def trained_at(self, definition: dict, stage: int, decided) -> list[str]:
        """The topologies trained at stage ``stage`` (0-based)."""
        raise NotImplementedError

    def with_decision(self, definition: dict, doc: dict) -> dict:
        """The definition the report reads, given the study's last decision (e.g. the seeds it ended with)."""
        return definition

    def targets(self, study: str, definition: dict) -> list[str]:
        """Files (``{dataset}`` a placeholder) the workflow must ask for itself, besides the report's inputs."""
        return []

    def jobs(self, study: str, definition: dict, topology) -> list[Job]:
        """The study's jobs beyond training runs; ``topology(name)`` gives a topology's resolved settings."""
        return []

    def run_job(self, job: str, arguments: dict, outputs: list[str], *, data_dir=None, threads: int = 1) -> None:
        """Run the job called ``job`` of :meth:`jobs` (in the job's own process), or a staged study's decision."""
        if job == STAGE_JOB:
            return self.decide_stage(arguments, arguments.get("previous"), outputs[0])
        raise ValueError(f"study kind {self.name!r} has no job {job!r}; its jobs are the ones its jobs() declares")

    def extra_outputs(self, study: str, definition: dict, topology) -> list[str]:
        """Files (``{dataset}`` left as a placeholder) that the section reads besides the runs: its jobs' outputs."""
        return [o for job in self.jobs(study, definition, topology) for o in job.outputs]

    def check(self, study: str, definition: dict) -> str | None:
        """A problem with a valid-by-schema definition, as '<key>: <message>', or None."""
        if self.needs_runs and not definition.get("topologies"):
            return f"topologies: a {self.name} study needs at least one topology"
        return None

    def caption_path(self, plot: str) -> Path:
        """The caption file of one of this kind's plots: ``captions/{kind}-{plot}.rst`` beside the kind's module."""
        return Path(sys.modules[type(self).__module__].__file__).parent / "captions" / f"{self.name}-{plot}.rst"

    def caption(self, plot: str) -> str:
        return self.caption_path(plot).read_text(encoding="utf-8").strip()

    def section(self, name: str, study: dict, data: Data) -> Section:  # pragma: no cover - abstract
        raise NotImplementedError

    # helpers for sections
    def new_section(self, name: str, study: dict) -> Section:
        return Section(
            name, self.name, study.get("description") or name, study.get("claim", ""), study.get("description", "")
        )

    def figure(self, sec: Section, name: str, plot: str, fig, data: Data) -> None:
        from ..report import plots

        plots.save(fig, data.plot_dir / f"{name}-{plot}.png")
        sec.figures[f"{name}-{plot}"] = self.caption(plot)


def runs_of(data: Data, study: dict):
    r = data.runs
    return r[r["topology"].isin(study["topologies"]) & r["seed"].isin(study["seeds"])]


def accuracies(runs, topology: str):
    """Final-epoch test accuracies of the finished (not diverged) runs of ``topology``."""
    ok = runs[(runs["topology"] == topology) & (runs["status"] == "ok")]
    return ok["test_accuracy"].to_numpy()


def settings_note(data: Data, topology: str, base: str | None) -> str:
    s = settings_of(data.metrics, topology)
    b = settings_of(data.metrics, base) if base else None
    if s is None:
        return ""
    if b is None or topology == base:
        return ", ".join(f"{k} {s.get(k)}" for k in ("activation", "output", "cost", "init", "eta"))
    keys = ("activation", "output", "cost", "init", "eta", "batch_size", "epochs", "dropout", "momentum")
    diff = [f"{k} {s.get(k)}" for k in keys if s.get(k) != b.get(k)]
    if s.get("penalty") != b.get("penalty"):
        diff.append(f"penalty p {s['penalty']['p']}, λ {s['penalty']['lambda']:g}")
    if s.get("optimizer") != b.get("optimizer"):
        opt = s.get("optimizer") or {"name": "sgd"}
        diff.append(f"optimizer {opt['name']}" + "".join(f", {k} {v:g}" for k, v in opt.items() if k != "name"))
    return ", ".join(diff) or "same settings"


ACC_HEADER = [
    "topology",
    "layer sizes",
    "settings (vs the first row)",
    "seeds finished",
    "test accuracy % (final epoch)",
    "95 % CI",
]


def accuracy_rows(data: Data, study: dict, runs, base: str | None):
    from ..report.text import pct
    from ..stats import mean_ci

    rows = []
    for topo in study["topologies"]:
        rt = runs[runs["topology"] == topo]
        acc = accuracies(runs, topo)
        s = mean_ci(acc)
        div = rt[rt["status"] != "ok"]
        status = f"{len(acc)}/{len(rt)}" + (
            f"; diverged at epoch {', '.join(str(int(e)) for e in div['diverged_epoch'])}" if len(div) else ""
        )
        acc_text = "diverged" if not len(acc) else f"{pct(s.mean)} ± {pct(s.std)}"
        ci = "" if math.isnan(s.ci_low) else f"{pct(s.ci_low)}–{pct(s.ci_high)}"
        rows.append([topo, data.labels.get(topo, topo), settings_note(data, topo, base), status, acc_text, ci])
    return rows


def thresholds(study: dict, keys) -> dict:
    """The declared numbers a verdict used, by config key, for the report: exactly ``keys`` (a kind names the
    ones its rule reads, so a number the rule ignores is never shown beside its verdict)."""
    return {k: study[k] for k in keys if k in study}
