"""The lecture's experiments beyond the result table.

Most studies are groups of ordinary training runs (config key
``study_definitions``) and only differ in how the report reads them; two need
a measurement of their own: :mod:`.gradient_spread` (the spread of the
mini-batch gradient against K) and :mod:`.universal` (one hidden layer
fitting continuous functions on synthetic data).  Both train and
differentiate with :mod:`mlpsweep.nn`, the one training code of the project.
"""

#: Study kinds and the report figures (``plots/{study}-{name}.png``) each adds.
KINDS = {
    "compare": ["accuracy"],
    "regularisation": ["tradeoff"],
    "dropout": ["curves"],
    "vanishing_gradient": ["gradients"],
    "batch_size": ["cost_by_epoch", "cost_by_update", "spread"],
    "universal_approximation": ["error", "fits"],
    "best": ["accuracy"],
}


def plot_names(study: str, kind: str) -> list[str]:
    return [f"{study}-{name}" for name in KINDS[kind]]
