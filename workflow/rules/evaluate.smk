rule evaluate:
    input:
        **DATA,
        model="results/{dataset}/models/{topology}/seed{seed}/model.npz",
        meta="results/{dataset}/models/{topology}/seed{seed}/model.json",
        history="results/{dataset}/models/{topology}/seed{seed}/history.csv",
    output:
        metrics="results/{dataset}/eval/{topology}/seed{seed}/metrics.json",
        predictions="results/{dataset}/eval/{topology}/seed{seed}/predictions.npy",
    log:
        "logs/{dataset}/evaluate/{topology}/seed{seed}.log",
    benchmark:
        "results/{dataset}/benchmarks/evaluate/{topology}/seed{seed}.tsv"
    conda:
        "../envs/mlpsweep.yaml"
    threads: 1
    resources:
        mem_mb=config["resources"]["evaluate"]["mem_mb"],
        runtime=config["resources"]["evaluate"]["runtime"],
    params:
        data=data_dir,
        model=lambda wildcards, input: Path(input.meta).parent,
        out=lambda wildcards, output: Path(output.metrics).parent,
    shell:
        MLPSWEEP
        + " evaluate --data {params.data} --model-dir {params.model} --out-dir {params.out} 2> {log}"
