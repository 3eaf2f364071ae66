# Measurements that studies need beyond training runs (their paths belong to the kinds).
from mlpsweep.studies.batch_size import SPREAD_FILE
from mlpsweep.studies.sweep import PICK_FILE, POINTS_FILE, write_points
from mlpsweep.studies.universal_approximation import FIT_DIR


rule measure_gradient_spread:
    input:
        **DATA,
    output:
        SPREAD_FILE,
    log:
        "logs/{dataset}/studies/{study}/gradient_spread.log",
    benchmark:
        "results/{dataset}/benchmarks/studies/{study}/gradient_spread.tsv"
    conda:
        "../envs/mlpsweep.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        data=data_dir,
        # the fixed network: the study's first topology at its first seed's initialisation
        settings=lambda wildcards: PLAN.topology_json(
            PLAN.study_defs[wildcards.study]["topologies"][0]
        ),
        seed=lambda wildcards: PLAN.study_defs[wildcards.study]["seeds"][0],
        sizes=lambda wildcards: " ".join(
            map(str, PLAN.study_defs[wildcards.study]["variance_batch_sizes"])
        ),
        draws=study_setting("variance_draws"),
    shell:
        "python -m mlpsweep gradient-spread --data {params.data} --settings {params.settings:q}"
        " --seed {params.seed} --batch-sizes {params.sizes} --draws {params.draws}"
        " --threads {threads} --out {output} 2> {log}"


rule fit_universal_approximation:
    output:
        results=f"{FIT_DIR}/results.json",
        fits=f"{FIT_DIR}/fits.npz",
    log:
        "logs/studies/{study}/{target}-{activation}.log",
    benchmark:
        "results/benchmarks/studies/{study}/{target}-{activation}.tsv"
    conda:
        "../envs/mlpsweep.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        widths=lambda wildcards: " ".join(
            map(str, PLAN.study_defs[wildcards.study]["widths"])
        ),
        seed=lambda wildcards: PLAN.study_defs[wildcards.study]["seeds"][0],
        epochs=study_setting("epochs"),
        eta=study_setting("eta"),
        out=lambda wildcards, output: Path(output.results).parent,
    shell:
        "python -m mlpsweep universal-approximation --target {wildcards.target}"
        " --activation {wildcards.activation} --widths {params.widths} --seed {params.seed}"
        " --epochs {params.epochs} --eta {params.eta} --out-dir {params.out} 2> {log}"


localrules:
    list_sweep_points,


rule list_sweep_points:
    output:
        POINTS_FILE,
    log:
        "logs/sweeps/{study}/points.log",
    params:
        points=lambda wildcards: PLAN.study_defs[wildcards.study]["points"],
        seeds=lambda wildcards: PLAN.study_defs[wildcards.study]["seeds"],
    run:
        write_points(
            output[0], wildcards.study, params.points, params.seeds, log=log[0]
        )


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
    params:
        keep=lambda wildcards: PLAN.study_defs[wildcards.study]["halving"]["keep"],
        select_on=study_setting("select_on"),
        epoch=rung_epoch,
    shell:
        "python -m mlpsweep halving-select --models {input.models} --keep {params.keep}"
        " --select-on {params.select_on} --epoch {params.epoch} --out {output} 2> {log}"
