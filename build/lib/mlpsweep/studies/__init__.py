"""The lecture's experiments beyond the result table: study kinds.

A *study* is a named group of runs in the config (``study_definitions``) read
by its *kind*.  Each kind is one module of this package (see :mod:`.base` for
what a kind declares); this registry is the one place that lists them.  The
config layer takes a kind's options and defaults from here, the workflow its
extra measurement files and plots, the report its section and verdict.

Adding a kind: write ``studies/<kind>.py`` with a :class:`~.base.StudyKind`
subclass and ``KIND = …``, add it to the tuple below, and define a study of
that kind in the config (``config/README.md`` walks through an example).
"""

from __future__ import annotations

from . import batch_size, best, compare, dropout, regularisation, sweep, universal_approximation, vanishing_gradient
from .base import StudyKind

KINDS: dict[str, StudyKind] = {
    k.name: k
    for k in (
        compare.KIND,
        regularisation.KIND,
        dropout.KIND,
        vanishing_gradient.KIND,
        batch_size.KIND,
        universal_approximation.KIND,
        best.KIND,
        sweep.KIND,
    )
}


def kind(name: str) -> StudyKind:
    return KINDS[name]


def plot_names(study: str, kind_name: str) -> list[str]:
    return KINDS[kind_name].plot_names(study)
