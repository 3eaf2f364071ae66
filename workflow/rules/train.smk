rule train:
    input:
        **DATA,
    output:
        model="results/{dataset}/models/{topology}/seed{seed}/model.npz",
        meta="results/{dataset}/models/{topology}/seed{seed}/model.json",
        history="results/{dataset}/models/{topology}/seed{seed}/history.csv",
    log:
        "logs/{dataset}/train/{topology}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/train/{topology}/seed{seed}.tsv"
    conda:
        "../envs/mlpsweep.yaml"
    threads: config["resources"]["train"]["threads"]
    resources:
        mem_mb=lambda wildcards: train_resources(wildcards)["mem_mb"],
        runtime=lambda wildcards: train_resources(wildcards)["runtime"],
    params:
        data=data_dir,
        runs=lambda wildcards, output: (
            f"--settings {shlex.quote(train_settings(wildcards))} --seed {wildcards.seed}"
            f" --out-dir {Path(output.meta).parent} --name {wildcards.topology}"
        ),
        checkpoints=lambda wildcards: checkpoint_options(
            f"results/{wildcards.dataset}/checkpoints/{wildcards.topology}/seed{wildcards.seed}"
        ),
        gradients=lambda wildcards: (
            "--track-gradients" if PLAN.tracks_gradients(wildcards.topology) else ""
        ),
        rung="",
        divergence=DIVERGENCE_OPTION,
    shell:
        TRAIN_COMMAND


# Several runs in one job (training.runs_per_job; STACKS in common.smk): the same command and per-run outputs
# as the rule above, for the runs of one stack, trained together, each bit for bit as alone. These rules name
# their runs' files, so Snakemake prefers them to `train` for the runs they hold. A stack is named after its
# runs, so adding runs elsewhere never renames (and re-plans) a stack whose runs did not change.
for stack in STACKS:
    for dataset in PLAN.datasets:

        rule:
            name:
                stack.rule_name(dataset)
            input:
                **data_inputs(dataset),
            output:
                [
                    f"{run_dir(dataset, t, s)}/{name}"
                    for t, s in stack.runs
                    for name in ("model.npz", "model.json", "history.csv")
                ],
            log:
                f"logs/{dataset}/train/stacks/{stack.name}.log",
            benchmark:
                stack_benchmark(dataset, stack)
            conda:
                "../envs/mlpsweep.yaml"
            threads: config["resources"]["train"]["threads"]
            resources:
                **PLAN.train_resources(dataset, stack.runs),
            params:
                data=data_dir,
                runs=stack_runs_option(dataset, stack),
                checkpoints=checkpoint_options(
                    f"results/{dataset}/checkpoints/stacks/{stack.name}"
                ),
                gradients="",
                rung="",
                divergence=DIVERGENCE_OPTION,
            shell:
                TRAIN_COMMAND
