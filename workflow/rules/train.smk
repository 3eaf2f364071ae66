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
        checkpoints=lambda wildcards: (
            f"--checkpoint-dir results/{wildcards.dataset}/checkpoints/{wildcards.topology}/seed{wildcards.seed}"
            f" --checkpoint-every {config['training']['checkpoint_every']}"
            + (" --keep-checkpoints" if config["training"]["keep_checkpoints"] else "")
        ),
        gradients=lambda wildcards: (
            "--track-gradients" if tracks_gradients(wildcards.topology) else ""
        ),
        rung="",
        divergence=(
            "--fail-on-divergence" if config["training"]["fail_on_divergence"] else ""
        ),
    shell:
        "python -m mlpsweep train --data {params.data} --settings {params.settings:q} --seed {wildcards.seed}"
        " --name {wildcards.topology} --threads {threads} --out-dir {params.out} {params.checkpoints} {params.gradients} {params.rung} {params.divergence} 2> {log}"
