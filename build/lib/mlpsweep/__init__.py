"""mlpsweep: the lecture on feed-forward networks as a reproducible experiment.

The package holds every stage's logic; the Snakemake rules only wire them up.
``mlpsweep.nn`` is the NumPy training core (network, activations, costs,
penalties, mini-batch SGD).
"""

__version__ = "0.1.0"
