# Helpers shared by the rules: the validated plan, wildcard constraints, paths.
import json
from pathlib import Path

from mlpsweep.config import ConfigError, plan
from mlpsweep.report import PLOTS

try:
    PLAN = plan(
        config, Path(workflow.current_basedir) / ".." / "schemas" / "config.schema.yaml"
    )
except ConfigError as exc:
    raise WorkflowError(f"mlpsweep: {exc} (see config/README.md)") from None

# The rules read the validated config, with every default the schema states.
config.update(PLAN.config)


wildcard_constraints:
    dataset=r"[A-Za-z0-9_.-]+",
    topology=r"[A-Za-z0-9_.-]+",
    seed=r"\d+",


def dataset_spec(wildcards):
    return PLAN.dataset_json(wildcards.dataset)


def train_settings(wildcards):
    return PLAN.topology_json(wildcards.topology)


def runs_of(pattern):
    """A function of {dataset} listing ``pattern`` for every topology and seed."""

    def inputs(wildcards):
        return expand(
            pattern,
            dataset=wildcards.dataset,
            topology=PLAN.topologies,
            seed=PLAN.seeds,
        )

    return inputs


# The report's figures: plots/{name}.png, and an SVG beside some of them.
REPORT_PLOTS = list(PLOTS)
REPORT_SVGS = [name for name, svg in PLOTS.items() if svg]


def all_targets():
    return expand("results/{dataset}/report/report.html", dataset=PLAN.datasets)
