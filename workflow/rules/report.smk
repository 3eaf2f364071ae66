localrules:
    report,


rule report:
    input:
        metrics=runs_of("results/{dataset}/eval/{topology}/seed{seed}/metrics.json"),
        benchmarks=runs_of(
            "results/{dataset}/benchmarks/train/{topology}/seed{seed}.tsv"
        ),
    output:
        table=report(
            "results/{dataset}/report/comparison.md",
            caption="../report/comparison.rst",
            category="Comparison",
            labels={"dataset": "{dataset}", "table": "summary"},
        ),
        csv="results/{dataset}/report/comparison.csv",
        runs="results/{dataset}/report/runs.csv",
    log:
        "logs/{dataset}/report.log",
    conda:
        "../envs/mlpsweep.yaml"
    params:
        order=",".join(PLAN.topologies),
        out=lambda wildcards, output: Path(output.csv).parent,
    shell:
        "python -m mlpsweep report --dataset {wildcards.dataset} --metrics {input.metrics}"
        " --benchmarks {input.benchmarks} --order {params.order:q} --out-dir {params.out} 2> {log}"
