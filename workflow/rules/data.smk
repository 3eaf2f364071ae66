localrules:
    download,


rule download:
    output:
        "resources/datasets/{dataset}/download.json",
    log:
        "logs/{dataset}/download.log",
    conda:
        "../envs/mlpsweep.yaml"
    params:
        spec=dataset_spec,
        dest=lambda wildcards, output: Path(output[0]).parent,
        timeout=config["download"]["timeout"],
        retries=config["download"]["retries"],
        backoff=config["download"]["backoff"],
    shell:
        "python -m mlpsweep download --spec {params.spec:q} --dest {params.dest} --record {output}"
        " --timeout {params.timeout} --retries {params.retries} --backoff {params.backoff} 2> {log}"


rule preprocess:
    input:
        # ancient: re-fetching a damaged raw file does not redo preprocessing (the
        # content is verified identical); a changed dataset changes params.spec.
        ancient("resources/datasets/{dataset}/download.json"),
    output:
        images="results/{dataset}/data/images.npy",
        labels="results/{dataset}/data/labels.npy",
        manifest="results/{dataset}/data/manifest.json",
    log:
        "logs/{dataset}/preprocess.log",
    benchmark:
        "results/{dataset}/benchmarks/preprocess.tsv"
    conda:
        "../envs/mlpsweep.yaml"
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        spec=dataset_spec,
        raw=lambda wildcards, input: Path(input[0]).parent,
        out=lambda wildcards, output: Path(output.manifest).parent,
        validation_size=config["data"]["validation_size"],
        seed=(
            ""
            if config["data"]["validation_seed"] is None
            else f"--validation-seed {config['data']['validation_seed']}"
        ),
        normalize=config["data"]["normalize"],
    shell:
        "python -m mlpsweep preprocess --spec {params.spec:q} --raw-dir {params.raw} --out-dir {params.out}"
        " --validation-size {params.validation_size} {params.seed} --normalize {params.normalize} 2> {log}"
