for name, folder, scope in REPORT_SCOPES:

    rule:
        name:
            name
        input:
            **DATA,
            **sequential_run_inputs(scope),
            metrics=runs_of("metrics", scope),
            predictions=runs_of("predictions", scope),
            histories=runs_of("histories", scope),
            models=runs_of("models", scope),
            benchmarks=runs_of("benchmarks", scope),
            studies=study_inputs(scope),
            stages=stages_of(scope),
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
            verdicts=report(
                f"{folder}/verdicts.csv",
                caption="../report/verdicts.rst",
                category="Tables",
                labels={"dataset": "{dataset}", "table": f"{name}: verdicts"},
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
            inputs=f"{folder}/inputs.json",
            build=f"{folder}/build.json",
        log:
            f"logs/{{dataset}}/{name}.log",
        benchmark:
            f"results/{{dataset}}/benchmarks/{name}.tsv"
        localrule: True
        conda:
            "../envs/mlpsweep.yaml"
        params:
            order=lambda wildcards, scope=scope: scope_topologies(scope),
            studies=lambda wildcards, scope=scope: PLAN.studies_list(scope),
            study_files=study_files_of(scope),
            staged=staged(scope),
            config=lambda wildcards: PLAN.config,
            workflow_dir=workflow.basedir,
            out=lambda wildcards, output: str(Path(output.csv).parent),
            data=lambda wildcards, input: str(data_dir(wildcards, input)),
        run:
            # Every file and setting goes into one JSON file, not onto the command line.
            write_report_inputs(output.inputs, wildcards.dataset, input, params)
            shell(f"{MLPSWEEP} report --inputs {{output.inputs:q}} 2> {{log:q}}")


for name, folder, scope in REPORT_SCOPES[1:]:

    rule:
        name:
            name.removeprefix("report_")
        input:
            expand(
                [f"{folder}/report.html"] + study_targets(scope), dataset=PLAN.datasets
            ),
        localrule: True
