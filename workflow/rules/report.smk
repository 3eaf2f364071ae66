for name, folder, scope in REPORT_SCOPES:

    rule:
        name:
            name
        input:
            checked=CHECKED,
            data="results/{dataset}/data/manifest.json",
            images="results/{dataset}/data/images.npy",
            labels="results/{dataset}/data/labels.npy",
            metrics=runs_of(
                "results/{dataset}/eval/{topology}/seed{seed}/metrics.json", scope
            ),
            predictions=runs_of(
                "results/{dataset}/eval/{topology}/seed{seed}/predictions.npy", scope
            ),
            histories=runs_of(
                "results/{dataset}/models/{topology}/seed{seed}/history.csv", scope
            ),
            models=runs_of(
                "results/{dataset}/models/{topology}/seed{seed}/model.npz", scope
            ),
            benchmarks=runs_of(
                "results/{dataset}/benchmarks/train/{topology}/seed{seed}.tsv", scope
            ),
            studies=study_inputs(scope),
        output:
            html=report(
                f"{folder}/report.html",
                caption="../report/report_html.rst",
                category="Report",
                labels={"dataset": "{dataset}", "item": f"{name} (HTML)"},
            ),
            md=f"{folder}/report.md",
            csv=report(
                f"{folder}/comparison.csv",
                caption="../report/comparison.rst",
                category="Tables",
                labels={"dataset": "{dataset}", "table": f"{name}: by topology"},
            ),
            runs=report(
                f"{folder}/runs.csv",
                caption="../report/runs.rst",
                category="Tables",
                labels={"dataset": "{dataset}", "table": f"{name}: every run"},
            ),
            pairwise=report(
                f"{folder}/pairwise.csv",
                caption="../report/pairwise.rst",
                category="Tables",
                labels={"dataset": "{dataset}", "table": f"{name}: pairwise tests"},
            ),
            plots=[
                report(
                    f"{folder}/plots/{plot}.png",
                    caption=caption,
                    category="Plots",
                    labels={"dataset": "{dataset}", "report": name, "plot": plot},
                )
                for plot, caption in report_plots(scope)
            ],
            svgs=[f"{folder}/plots/{plot}.svg" for plot in report_svg_names(scope)],
        log:
            f"logs/{{dataset}}/{name}.log",
        benchmark:
            f"results/{{dataset}}/benchmarks/{name}.tsv"
        localrule: True
        conda:
            "../envs/mlpsweep.yaml"
        params:
            order=",".join(scope_topologies(scope)) or "-",
            studies=lambda wildcards, scope=scope: PLAN.studies_json(scope),
            study_files=study_files_json(scope),
            config=lambda wildcards: json.dumps(PLAN.config, sort_keys=True),
            workflow_dir=workflow.basedir,
            out=lambda wildcards, output: Path(output.csv).parent,
            data=lambda wildcards, input: Path(input.data).parent,
        shell:
            "python -m mlpsweep report --dataset {wildcards.dataset} --data {params.data}"
            " --metrics {input.metrics} --histories {input.histories} --predictions {input.predictions}"
            " --models {input.models} --benchmarks {input.benchmarks} --order {params.order:q} --studies {params.studies:q}"
            " --study-files {params.study_files:q} --config-json {params.config:q}"
            " --workflow-dir {params.workflow_dir:q} --out-dir {params.out} 2> {log}"


for name, folder, scope in REPORT_SCOPES[1:]:

    rule:
        name:
            name.removeprefix("report_")
        input:
            expand(f"{folder}/report.html", dataset=PLAN.datasets),
        localrule: True
