localrules:
    download,
    check_caches,


rule download:
    output:
        "resources/datasets/{dataset}/download.json",
    log:
        "logs/{dataset}/download.log",
    conda:
        "../envs/mlpsweep.yaml"
    params:
        spec=dataset_spec,
        dataset=dataset_args,
        dest=lambda wildcards, output: Path(output[0]).parent,
        options=DOWNLOAD_OPTIONS,
    shell:
        f"{MLPSWEEP} download {{params.dataset}} --dest {{params.dest}} --record {{output}}"
        " {params.options} 2> {log}"


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
        dataset=dataset_args,
        raw=lambda wildcards, input: Path(input[0]).parent,
        out=lambda wildcards, output: Path(output.manifest).parent,
        options=PREPROCESS_OPTIONS,
    shell:
        MLPSWEEP
        + " preprocess {params.dataset} --raw-dir {params.raw} --out-dir {params.out}"
        " {params.options} 2> {log}"


# Cached downloads and arrays can be damaged after they were made (a crash mid-write,
# an edit).  Planning only reads them: `state` is the damage it found (or the state the
# last check ran for), so a damage changes the parameter and this job repairs the caches
# in place, byte for byte; everything that reads the data waits for it.
rule check_caches:
    input:
        record="resources/datasets/{dataset}/download.json",
        manifest="results/{dataset}/data/manifest.json",
        images="results/{dataset}/data/images.npy",
        labels="results/{dataset}/data/labels.npy",
    output:
        "results/{dataset}/data/checked.json",
    log:
        "logs/{dataset}/check_caches.log",
    conda:
        "../envs/mlpsweep.yaml"
    params:
        spec=dataset_spec,
        dataset=dataset_args,
        state=cache_state,
        data=lambda wildcards, input: Path(input.manifest).parent,
        download=DOWNLOAD_OPTIONS,
        preprocess=PREPROCESS_OPTIONS,
    shell:
        MLPSWEEP
        + " check-caches {params.dataset} --record {input.record} --data-dir {params.data}"
        " --state {params.state:q} --out {output} {params.download} {params.preprocess} 2> {log}"
