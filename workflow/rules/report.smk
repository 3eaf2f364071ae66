localrules:
    report,


rule report:
    input:
        data="results/{dataset}/data/manifest.json",
        images="results/{dataset}/data/images.npy",
        labels="results/{dataset}/data/labels.npy",
        metrics=runs_of("results/{dataset}/eval/{topology}/seed{seed}/metrics.json"),
        predictions=runs_of(
            "results/{dataset}/eval/{topology}/seed{seed}/predictions.npy"
        ),
        histories=runs_of("results/{dataset}/models/{topology}/seed{seed}/history.csv"),
        models=runs_of("results/{dataset}/models/{topology}/seed{seed}/model.npz"),
        model_meta=runs_of("results/{dataset}/models/{topology}/seed{seed}/model.json"),
        benchmarks=runs_of(
            "results/{dataset}/benchmarks/train/{topology}/seed{seed}.tsv"
        ),
    output:
        html=report(
            "results/{dataset}/report/report.html",
            caption="../report/report_html.rst",
            category="Report",
            labels={"dataset": "{dataset}", "item": "full report (HTML)"},
        ),
        md="results/{dataset}/report/report.md",
        csv=report(
            "results/{dataset}/report/comparison.csv",
            caption="../report/comparison.rst",
            category="Tables",
            labels={"dataset": "{dataset}", "table": "by topology"},
        ),
        runs=report(
            "results/{dataset}/report/runs.csv",
            caption="../report/runs.rst",
            category="Tables",
            labels={"dataset": "{dataset}", "table": "every run"},
        ),
        pairwise=report(
            "results/{dataset}/report/pairwise.csv",
            caption="../report/pairwise.rst",
            category="Tables",
            labels={"dataset": "{dataset}", "table": "pairwise tests"},
        ),
        plots=[
            report(
                f"results/{{dataset}}/report/plots/{name}.png",
                caption=f"../report/plots/{name}.rst",
                category="Plots",
                labels={"dataset": "{dataset}", "plot": name.replace("_", " ")},
            )
            for name in REPORT_PLOTS
        ],
        svgs=[f"results/{{dataset}}/report/plots/{name}.svg" for name in REPORT_SVGS],
    log:
        "logs/{dataset}/report.log",
    conda:
        "../envs/mlpsweep.yaml"
    params:
        order=",".join(PLAN.topologies),
        config=json.dumps(PLAN.config, sort_keys=True),
        workflow_dir=workflow.basedir,
        out=lambda wildcards, output: Path(output.csv).parent,
        data=lambda wildcards, input: Path(input.data).parent,
    shell:
        "python -m mlpsweep report --dataset {wildcards.dataset} --data {params.data}"
        " --metrics {input.metrics} --histories {input.histories} --predictions {input.predictions}"
        " --models {input.models} --benchmarks {input.benchmarks} --order {params.order:q}"
        " --config-json {params.config:q} --workflow-dir {params.workflow_dir:q} --out-dir {params.out} 2> {log}"
