# What studies need beyond training runs: the jobs their kinds declare, and the decisions of staged studies.
from mlpsweep.studies.base import STAGE_JOB

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
                kind=PLAN.study(study).kind.name,
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


# Training in stages (a sweep with successive halving): every point trains to the first stage's epoch;
# a decision picks the best share on validation, which resumes to the next stage's epoch; and so on.
# Which points train at a stage is known only once the decision before it is taken: Snakemake's
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
        rung=lambda wildcards: f"--stop-at-epoch {stage_epoch(wildcards)}",


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


# The decision after stage {stage} of a staged study (a sequential study's look, a halving sweep's pick): its
# kind says what it reads and decides; the next stage is planned from it, and the report reads the last one.
checkpoint study_stage:
    input:
        decided=stage_inputs,
        previous=previous_stage,
    output:
        STAGE_FILE,
    log:
        "logs/{dataset}/studies/{study}/stages/stage{stage}.log",
    localrule: True
    conda:
        "../envs/mlpsweep.yaml"
    threads: 1
    params:
        kind=lambda wildcards: PLAN.study(wildcards.study).kind.name,
        study=lambda wildcards: wildcards.study,
        job=STAGE_JOB,
        arguments=lambda wildcards, input: json.dumps(
            {
                **PLAN.study(wildcards.study).stage_arguments(
                    int(wildcards.stage), input.decided
                ),
                "previous": input.previous[0] if input.previous else None,
            },
            sort_keys=True,
        ),
        data="",
    shell:
        STUDY_JOB_COMMAND
