# mlpsweep: the lecture's feed-forward networks as a reproducible experiment.
#
#   snakemake --cores 8                       # the default run (config/config.yaml)
#   snakemake --cores 2 --configfile config/fashion-mnist-local.yaml
#
# download -> preprocess -> train (dataset x topology x seed) -> evaluate -> report
import sys

from snakemake.utils import min_version

min_version("8.20")

from mlpsweep.config import ConfigError, check_file

# A config file's size and nesting, checked before YAML's reader builds it (it recurses once per level).
try:
    check_file("config/config.yaml")
except ConfigError as exc:
    raise WorkflowError(f"mlpsweep: {exc}") from None


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/studies.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# A failed download ends the output with what to do about it (the job's own error is in its log).
onerror:
    print("\n".join(download_advice(PLAN.datasets, STARTED)), file=sys.stderr)
