# Helpers shared by the rules: the validated plan, wildcard constraints, paths.
import json
import re
import shlex
import time
from pathlib import Path

from mlpsweep.config import ConfigError, name_regex
from mlpsweep.plan import check_inside, download_advice, plan
from mlpsweep.studies.base import STAGE_FILE, StageNotPlanned
from mlpsweep.data import cache
from mlpsweep.report import PLOTS, caption_path
from mlpsweep.report.inputs import write_report_inputs

try:
    # against the schema the mlpsweep package ships; only --config values (strings) are read as numbers
    PLAN = plan(config, command_line=list(workflow.config_settings.config))
except ConfigError as exc:
    raise WorkflowError(f"mlpsweep: {exc} (see config/README.md)") from None

# The rules read the validated config, with every default the schema states.
config.update(PLAN.config)
STARTED = time.time()

# A dataset still to download whose every source is a local folder that does not exist: said now, not by a job.
for _dataset in PLAN.datasets:
    if not Path(
        f"resources/datasets/{_dataset}/download.json"
    ).exists() and PLAN.missing_sources(_dataset):
        raise WorkflowError(f"mlpsweep: {PLAN.missing_sources(_dataset)}")


wildcard_constraints:
    dataset=name_regex(),
    topology=name_regex(),
    seed=r"\d+",


#: Every job's command: its arithmetic (reproducibility: exact | native, mlpsweep.arithmetic) is set up by
#: the command itself before NumPy loads, the same locally and on a cluster.
MLPSWEEP = f"python -m mlpsweep --arithmetic {config['reproducibility']}" + "".join(
    f" --plugin {name}" for name in config["plugins"]
)


def dataset_args(wildcards):
    return PLAN.dataset_args(wildcards.dataset)


def dataset_spec(wildcards):
    """The dataset's whole definition: a parameter of the data jobs, so a changed definition makes them again."""
    return PLAN.dataset_json(wildcards.dataset)


# The options of the download and of preprocessing (the check_caches job repeats both).
DOWNLOAD_OPTIONS = " ".join(
    f"--{key} {config['download'][key]}" for key in ("timeout", "retries", "backoff")
)
PREPROCESS_OPTIONS = (
    f"--validation-size {config['data']['validation_size']} --normalize {config['data']['normalize']}"
    + (
        ""
        if config["data"]["validation_seed"] is None
        else f" --validation-seed {config['data']['validation_seed']}"
    )
)


def cache_state(wildcards):
    """Damage of the dataset's caches, or the state their last check ran for (reads only)."""
    return cache.state(
        Path(f"resources/datasets/{wildcards.dataset}/download.json"),
        Path(f"results/{wildcards.dataset}/data/manifest.json"),
        Path(f"results/{wildcards.dataset}/data/checked.json"),
    )


# Every job that reads a dataset's arrays waits for their check (ancient: a check alone re-runs nothing).


def data_inputs(dataset="{dataset}"):
    """The inputs of every job that reads a dataset's preprocessed arrays (``input: **DATA``)."""
    return {
        "checked": ancient(f"results/{dataset}/data/checked.json"),
        "images": f"results/{dataset}/data/images.npy",
        "labels": f"results/{dataset}/data/labels.npy",
        "manifest": f"results/{dataset}/data/manifest.json",
    }


DATA = data_inputs()


def data_dir(wildcards, input):
    """The --data folder of a job with ``input: **DATA``."""
    return Path(input.manifest).parent


def train_settings(wildcards):
    return PLAN.topology_json(wildcards.topology)


wildcard_constraints:
    study=name_regex(),
    target=r"[A-Za-z0-9_]+",
    activation=r"[a-z]+",
    rung=r"\d+",
    stage=r"\d+",


# Where each file of a run lives: a plain run, and a run of a successive-halving sweep at the
# rung where it stopped.
RUN_FILES = {
    "metrics": (
        "results/{dataset}/eval/{topology}/seed{seed}/metrics.json",
        "results/{dataset}/rungs/{study}/r{rung}/eval/{topology}/seed{seed}/metrics.json",
    ),
    "predictions": (
        "results/{dataset}/eval/{topology}/seed{seed}/predictions.npy",
        "results/{dataset}/rungs/{study}/r{rung}/eval/{topology}/seed{seed}/predictions.npy",
    ),
    "histories": (
        "results/{dataset}/models/{topology}/seed{seed}/history.csv",
        "results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/history.csv",
    ),
    "models": (
        "results/{dataset}/models/{topology}/seed{seed}/model.npz",
        "results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/model.npz",
    ),
    "benchmarks": (
        "results/{dataset}/benchmarks/train/{topology}/seed{seed}.tsv",
        "results/{dataset}/benchmarks/rungs/{study}/r{rung}/{topology}/seed{seed}.tsv",
    ),
}


def runs_of(name, studies, sequential=False):
    """A function of {dataset} listing the ``name`` file (RUN_FILES) of every run of ``studies`` whose runs do
    not depend on a decision, or with ``sequential``, of those whose seeds do (a separate input, so that
    Snakemake schedules the others while it waits for a decision's checkpoint)."""
    plain, at_rung = RUN_FILES[name]

    def inputs(wildcards):
        mine = [
            st
            for st in studies
            if (PLAN.study(st).stages > 0 and not PLAN.study(st).trains_in_stages)
            == sequential
        ]
        runs = list(
            dict.fromkeys(r for st in mine for r in runs_used(wildcards.dataset, st))
        )
        files = [
            (
                stack_benchmark(wildcards.dataset, STACK_OF[(t, s)])
                if name == "benchmarks" and (t, s) in STACK_OF
                else plain.format(dataset=wildcards.dataset, topology=t, seed=s)
            )
            for t, s in runs
        ]
        for st in mine:
            if PLAN.study(st).trains_in_stages:
                files += [
                    at_rung.format(
                        dataset=wildcards.dataset, study=st, rung=r, topology=t, seed=s
                    )
                    for t, s, r in PLAN.study(st).staged_runs(
                        decided(wildcards.dataset, st)
                    )
                ]
        return files

    return inputs


def sequential_run_inputs(studies):
    """The report's inputs from the runs of its sequential studies (``sequential_metrics``, …)."""
    return {
        f"sequential_{name}": runs_of(name, studies, sequential=True)
        for name in RUN_FILES
    }


def study_files(studies):
    """The extra measurements the report of ``studies`` reads, by study name (the kinds say which)."""
    return {st: PLAN.extra_outputs(st) for st in studies}


def study_inputs(studies):
    def inputs(wildcards):
        return [
            f.format(dataset=wildcards.dataset)
            for fs in study_files(studies).values()
            for f in fs
        ]

    return inputs


def study_files_of(studies):
    def param(wildcards):
        return {
            st: [f.format(dataset=wildcards.dataset) for f in fs]
            for st, fs in study_files(studies).items()
        }

    return param


# The report's figures: plots/{name}.png, and an SVG beside some of them.
REPORT_PLOTS = list(PLOTS)
REPORT_SVGS = [name for name, svg in PLOTS.items() if svg]


def scope_topologies(studies):
    return list(dict.fromkeys(t for st in studies for t in PLAN.study(st).topologies))


def report_plots(studies):
    """(file stem, caption file) of every figure of the report of ``studies``."""
    base = REPORT_PLOTS if scope_topologies(studies) else []
    return [(name, str(caption_path(name))) for name in base] + [
        (f"{st}-{plot}", str(kind.caption_path(plot)))
        for st in studies
        for kind in [PLAN.kind(st)]
        for plot in kind.plots
    ]


def report_svg_names(studies):
    return REPORT_SVGS if scope_topologies(studies) else []


# One report per dataset for the enabled studies, and one per defined study
# (built by that study's target rule, e.g. `snakemake --cores 2 dropout`).
REPORT_SCOPES = [("report", "results/{dataset}/report", PLAN.studies)] + [
    (
        f"report_{st.replace('-', '_').replace('.', '_')}",
        f"results/{{dataset}}/studies/{st}/report",
        [st],
    )
    for st in PLAN.study_defs
]


def report_files(folder, studies):
    """Every file the report of ``studies`` in ``folder`` writes ({dataset} left as a wildcard)."""
    return (
        [
            f"{folder}/{name}"
            for name in (
                "report.html",
                "report.md",
                "comparison.csv",
                "runs.csv",
                "pairwise.csv",
                "verdicts.csv",
                "build.json",
            )
        ]
        + [f"{folder}/plots/{plot}.png" for plot, _ in report_plots(studies)]
        + [f"{folder}/plots/{plot}.svg" for plot in report_svg_names(studies)]
    )


def study_targets(studies):
    """Files the kinds of ``studies`` ask to be made themselves (e.g. successive halving's last pick)."""
    return [f for st in studies for f in PLAN.study(st).targets()]


def all_targets():
    # Every file of the report, not only report.html: enabling a study adds outputs (its plots) to the
    # report job, and Snakemake can judge a job's changed inputs only from the metadata of outputs that
    # exist; asking for the new outputs makes them missing, so the report and the study's runs are made.
    # The check of the cached download and arrays is a target too: it repairs a damaged cache.
    return expand(
        report_files("results/{dataset}/report", PLAN.studies)
        + study_targets(PLAN.studies)
        + ["results/{dataset}/data/checked.json"],
        dataset=PLAN.datasets,
    )


# Training jobs of several runs (training.runs_per_job): each stack's runs, and which stack trains a run.
# Every file the plan names lies under resources/, results/ or logs/ (the planner checks it, whatever the names).
try:
    check_inside(
        all_targets()
        + [
            f.format(dataset=d, topology=t, seed=s)
            for d in PLAN.datasets
            for st in PLAN.study_defs
            for t, s in PLAN.study_runs(st)
            for f in (RUN_FILES["metrics"][0], RUN_FILES["models"][0])
        ]
        + [f for st in PLAN.study_defs for f in PLAN.extra_outputs(st)]
    )
except ConfigError as exc:
    raise WorkflowError(f"mlpsweep: {exc}") from None

try:
    PLAN.check_resources()
except ConfigError as exc:
    raise WorkflowError(f"mlpsweep: {exc}") from None


def train_resources(wildcards):
    """mem_mb and runtime of a run trained alone (the estimate of its work: mlpsweep.estimate)."""
    return PLAN.train_resources(
        wildcards.dataset, [(wildcards.topology, int(wildcards.seed))]
    )


STACKS = PLAN.stacks()
STACK_OF = {run: stack for stack in STACKS for run in stack.runs}


def run_dir(dataset, topology, seed):
    """The folder of a run's model files (RUN_FILES)."""
    return str(
        Path(
            RUN_FILES["models"][0].format(dataset=dataset, topology=topology, seed=seed)
        ).parent
    )


def stack_benchmark(dataset, stack):
    return f"results/{dataset}/benchmarks/train/stacks/{stack.name}.tsv"


def stack_runs_option(dataset, stack):
    """The --runs of a stacked training job: each run's name, seed, settings and output folder."""
    runs = [
        {
            "name": t,
            "seed": s,
            "settings": PLAN.topology(t).to_dict(),
            "out_dir": run_dir(dataset, t, s),
        }
        for t, s in stack.runs
    ]
    text = json.dumps(runs, sort_keys=True, separators=(",", ":"))
    return f"--runs {shlex.quote(text)} --name {stack.name}"


#: Which step a training job runs and what it evaluates after every epoch (training.engine, training.monitor_rows,
#: training.test_every_epoch).
MONITORING_OPTIONS = (
    f"--engine {config['training']['engine']} --monitor-rows {config['training']['monitor_rows']}"
    + (" --test-every-epoch" if config["training"]["test_every_epoch"] else "")
)


#: The command of every training job; {params.runs} names its run (or runs, --runs).
TRAIN_COMMAND = (
    MLPSWEEP
    + " train --data {params.data} {params.runs} --threads {threads} {params.checkpoints}"
    " {params.gradients} {params.rung} {params.divergence} "
    + MONITORING_OPTIONS
    + " 2> {log}"
)


def study_job_rule(study, job):
    return re.sub(r"\W", "_", f"study_{study}_{job.name}")


def study_job_file(root, study, job, ext, under=""):
    """A study job's log or benchmark file, under {dataset} when the job runs per dataset."""
    where = f"{root}/{{dataset}}" if job.per_dataset else root
    return f"{where}/{under}studies/{study}/{job.name}.{ext}"


#: The command of every study job (a kind's own, or successive halving's pick).
STUDY_JOB_COMMAND = (
    MLPSWEEP
    + " study-job --kind {params.kind} --study {params.study} --job {params.job}"
    " --arguments {params.arguments:q} --outputs {output} {params.data} --threads {threads} 2> {log}"
)


# What a training job does when a run diverges (training.fail_on_divergence).
DIVERGENCE_OPTION = (
    "--fail-on-divergence" if config["training"]["fail_on_divergence"] else ""
)


def checkpoint_options(folder):
    return (
        f"--checkpoint-dir {folder} --checkpoint-every {config['training']['checkpoint_every']}"
        + (" --keep-checkpoints" if config["training"]["keep_checkpoints"] else "")
    )


# Staged studies (a sequential study's looks, a successive-halving sweep's picks): after each stage a decision,
# one generic checkpoint (study_stage), plans the next; the study's kind says what each stage reads, trains and
# decides (mlpsweep.studies.base.StudyKind), these functions only read the decisions through Snakemake.


def decided(dataset, study):
    """A function of a stage (1-based) giving that decision's content, waiting for its checkpoint."""

    def decision(stage):
        path = checkpoints.study_stage.get(
            dataset=dataset, study=study, stage=stage
        ).output[0]
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)

    return decision


def last_stage(dataset, study):
    """(path, stage, content) of the decision a staged study stopped at, or of the next one still to take
    (content None).  The next one is named as a plain file, not through ``checkpoints``: Snakemake does not
    re-run a job whose outputs exist for a checkpoint that has not run (a report made before the study was
    staged), but it does make a missing input, and re-plans the jobs after it once the checkpoint ran.
    """
    st = PLAN.study(study)
    for stage in range(1, st.stages + 1):
        path = STAGE_FILE.format(dataset=dataset, study=study, stage=stage)
        if not Path(path).exists():
            return path, stage, None
        doc = decided(dataset, study)(stage)
        if st.stops(stage, doc):
            return path, stage, doc
    raise WorkflowError(
        f"{path}: the last planned decision did not stop; delete it to decide it again"
    )


def runs_used(dataset, study):
    """The (topology, seed) runs the report of ``study`` reads from the plain training jobs: a staged study's
    up to the decision it stopped at (or up to the one still to take)."""
    st = PLAN.study(study)
    if not st.stages:
        return st.runs_used()
    _, stage, doc = last_stage(dataset, study)
    return st.runs_used(stage, doc)


def stage_inputs(wildcards):
    """What decision {stage} of {study} reads (its kind says)."""
    try:
        return PLAN.study(wildcards.study).stage_inputs(
            wildcards.dataset,
            int(wildcards.stage),
            decided(wildcards.dataset, wildcards.study),
        )
    except StageNotPlanned as exc:
        raise WorkflowError(str(exc)) from None


def previous_stage(wildcards):
    stage = int(wildcards.stage)
    return (
        [] if stage == 1 else [STAGE_FILE.format(**{**wildcards, "stage": stage - 1})]
    )


def stages_of(studies):
    """A function of {dataset}: the decision file every staged study of ``studies`` ended with."""
    return lambda wildcards: [
        last_stage(wildcards.dataset, st)[0] for st in staged(studies)
    ]


def staged(studies):
    return [st for st in studies if PLAN.study(st).stages]


# Training in stages (successive halving): a run trains to the stage's epoch, resuming where the last ended.
def stage_epoch(wildcards):
    return PLAN.study(wildcards.study).stage_epoch(int(wildcards.rung))


def previous_rung(wildcards):
    rung = int(wildcards.rung)
    if rung == 0:
        return []
    PLAN.study(wildcards.study).trained_at(
        rung, decided(wildcards.dataset, wildcards.study)
    )  # waits for the decision
    return [
        f"results/{wildcards.dataset}/rungs/{wildcards.study}/r{rung - 1}/{wildcards.topology}/seed{wildcards.seed}/model.json"
    ]
