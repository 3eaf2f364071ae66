"""The comparison report: tables (CSV, Markdown), seaborn plots and one HTML page.

This module itself stays light (the workflow imports it while building the
DAG); :mod:`.build` does the work.
"""

#: Plot files (``plots/{name}.png``) and whether an SVG is written beside the PNG.
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
