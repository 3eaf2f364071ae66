# What studies need beyond training runs: the jobs their kinds declare, and successive halving.
from mlpsweep.studies.sweep import PICK_FILE

# Every job a study kind declares beyond training runs (Plan.study_jobs: a measurement, a fit, a
# table), one rule per job of a defined study; a job whose outputs name {dataset} reads its arrays.
for study in PLAN.study_defs:
    for job in PLAN.study_jobs(study):

        rule:
            name:
                study_job_rule(study, job)
            input:
                **(DATA if job.per_dataset else {}),
            output:
                list(job.outputs),
            log:
                study_job_file("logs", study, job, "log"),
            benchmark:
                study_job_file("results", study, job, "tsv", "benchmarks/")
            localrule: job.local
            conda:
                "../envs/mlpsweep.yaml"
            threads: 1
            resources:
                mem_mb=job.mem_mb,
                runtime=job.runtime,
            params:
                kind=PLAN.study_defs[study]["kind"],
                study=study,
                job=job.name,
                arguments=json.dumps(job.arguments, sort_keys=True),
                data=(
                    (lambda wildcards: f"--data results/{wildcards.dataset}/data")
                    if job.per_dataset
                    else ""
                ),
            shell:
                STUDY_JOB_COMMAND


# Successive halving (a sweep with `halving:`): every point trains to the first rung's epoch;
# a checkpoint job picks the best share on validation, which resumes to the next rung; and so on.
# Which points train at a rung is known only once the previous rung is picked: Snakemake's
# checkpoints re-plan then, so the same rules run locally and on a cluster.


use rule train as train_rung with:
    input:
        **DATA,
        previous=previous_rung,
    output:
        model="results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/model.npz",
        meta="results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/model.json",
        history="results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/history.csv",
    log:
        "logs/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/rungs/{study}/r{rung}/{topology}/seed{seed}.tsv"
    params:
        rung=lambda wildcards: f"--stop-at-epoch {rung_epoch(wildcards)}",


use rule evaluate as evaluate_rung with:
    input:
        **DATA,
        model="results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/model.npz",
        meta="results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/model.json",
        history="results/{dataset}/rungs/{study}/r{rung}/{topology}/seed{seed}/history.csv",
    output:
        metrics="results/{dataset}/rungs/{study}/r{rung}/eval/{topology}/seed{seed}/metrics.json",
        predictions="results/{dataset}/rungs/{study}/r{rung}/eval/{topology}/seed{seed}/predictions.npy",
    log:
        "logs/{dataset}/rungs/{study}/r{rung}/evaluate/{topology}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/rungs/{study}/r{rung}/evaluate/{topology}/seed{seed}.tsv"


checkpoint halving_select:
    input:
        models=lambda wildcards: [
            f"results/{wildcards.dataset}/rungs/{wildcards.study}/r{wildcards.rung}/{p}/seed{s}/model.json"
            for p in alive(wildcards.dataset, wildcards.study, int(wildcards.rung))
            for s in PLAN.study_defs[wildcards.study]["seeds"]
        ],
    output:
        PICK_FILE,
    log:
        "logs/{dataset}/rungs/{study}/r{rung}/select.log",
    conda:
        "../envs/mlpsweep.yaml"
    threads: 1
    params:
        kind="sweep",
        study=lambda wildcards: wildcards.study,
        job="halving_select",
        arguments=lambda wildcards, input: json.dumps(
            {
                "models": list(input.models),
                "keep": PLAN.study_defs[wildcards.study]["halving"]["keep"],
                "select_on": PLAN.study_defs[wildcards.study]["select_on"],
                "epoch": rung_epoch(wildcards),
            },
            sort_keys=True,
        ),
        data="",
    shell:
        STUDY_JOB_COMMAND


# Sequential seeds (a study with `replication:`): look k decides the study's verdict at its nominal level on
# the seeds of looks 1..k and writes whether to stop (mlpsweep.sequential); the report reads the last one.
checkpoint sequential_look:
    input:
        metrics=look_metrics,
        previous=previous_look,
    output:
        LOOK_FILE,
    log:
        "logs/{dataset}/studies/{study}/looks/look{look}.log",
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    threads: 1
    params:
        kind=lambda wildcards: PLAN.study_defs[wildcards.study]["kind"],
        study=lambda wildcards: wildcards.study,
        job="look",
        arguments=lambda wildcards, input: json.dumps(
            {
                "study": PLAN.studies_list([wildcards.study])[0],
                "look": int(wildcards.look),
                "metrics": list(input.metrics),
                "previous": input.previous[0] if input.previous else None,
            },
            sort_keys=True,
        ),
        data="",
    shell:
        STUDY_JOB_COMMAND
