"""The comparison report: tables (CSV, Markdown), seaborn plots and one HTML page.

This module itself stays light (the workflow imports it while building the
DAG); :mod:`.build` does the work.
"""

from importlib import resources
from pathlib import Path

#: Plot files (``plots/{name}.png``) every report with runs has, and whether an SVG is written beside the PNG.
#: Each one's caption is ``captions/{name}.rst`` (shown by the HTML report and by ``snakemake --report``).
PLOTS = {
    "summary_accuracy": True,
    "validation_accuracy": False,
    "training_cost": False,
    "per_class_accuracy": False,
    "confusion_matrix": False,
    "misclassified": False,
    "network": False,
    "activations": True,
}


def caption_path(plot: str) -> Path:
    return Path(str(resources.files(__package__).joinpath("captions", f"{plot}.rst")))


def caption(plot: str) -> str:
    return caption_path(plot).read_text(encoding="utf-8").strip()
