rule train:
    input:
        checked=CHECKED,
        images="results/{dataset}/data/images.npy",
        labels="results/{dataset}/data/labels.npy",
        manifest="results/{dataset}/data/manifest.json",
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
        mem_mb=config["resources"]["train"]["mem_mb"],
        runtime=config["resources"]["train"]["runtime"],
    params:
        settings=train_settings,
        data=lambda wildcards, input: Path(input.manifest).parent,
        out=lambda wildcards, output: Path(output.meta).parent,
        checkpoints=lambda wildcards: checkpoint_options(
            f"results/{wildcards.dataset}/checkpoints/{wildcards.topology}/seed{wildcards.seed}"
        ),
        gradients=lambda wildcards: (
            "--track-gradients" if PLAN.tracks_gradients(wildcards.topology) else ""
        ),
        rung="",
        divergence=DIVERGENCE_OPTION,
    shell:
        "python -m mlpsweep train --data {params.data} --settings {params.settings:q} --seed {wildcards.seed}"
        " --name {wildcards.topology} --threads {threads} --out-dir {params.out} {params.checkpoints} {params.gradients} {params.rung} {params.divergence} 2> {log}"


# Several runs in one job (training.runs_per_job; STACKS in common.smk): the same per-run outputs as the
# rule above, made by one process that trains the runs as a stack, each bit for bit as alone. These rules
# name their files without wildcards, so Snakemake prefers them to `train` for the runs they hold.
for stack in STACKS:
    for dataset in PLAN.datasets:

        rule:
            name:
                stack.rule_name(dataset)
            input:
                checked=ancient(f"results/{dataset}/data/checked.json"),
                images=f"results/{dataset}/data/images.npy",
                labels=f"results/{dataset}/data/labels.npy",
                manifest=f"results/{dataset}/data/manifest.json",
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
                mem_mb=config["resources"]["train"]["mem_mb"],
                runtime=config["resources"]["train"]["runtime"] * len(stack.runs),
            params:
                runs=stack_runs_json(dataset, stack),
                data=lambda wildcards, input: Path(input.manifest).parent,
                name=stack.name,
                checkpoints=checkpoint_options(
                    f"results/{dataset}/checkpoints/stacks/{stack.name}"
                ),
                divergence=DIVERGENCE_OPTION,
            shell:
                "python -m mlpsweep train-stack --data {params.data} --runs {params.runs:q} --name {params.name}"
                " --threads {threads} {params.checkpoints} {params.divergence} 2> {log}"
