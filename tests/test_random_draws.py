"""The random draws a run is made of are pinned to their bytes: a NumPy whose sampling algorithms changed fails
here, not silently in a report.  ``benchmarks/random_draws.py`` computes the same hashes under any NumPy; NumPy
2.0.0 (the oldest the project supports) and 2.4.6 give these."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from random_draws import hashes  # noqa: E402

PINNED = {
    "standard_normal (initial weights)": "330735ad91947390",
    "permutation (batch order)": "7383487790fab393",
    "random float32 (dropout masks)": "1aefc3c53077b047",
    "random float64": "556c879aa25d0244",
    "choice without replacement (monitored rows)": "03c19b55a1168eb3",
    "uniform (random search)": "077b26fad64e1764",
    "integers (random search)": "900dd5c0f5b3ad24",
}


def test_every_kind_of_draw_gives_the_pinned_bytes():
    assert hashes() == PINNED


def test_the_pins_can_fail():
    """Another seed gives other bytes for every kind of draw (the hashes tell draws apart)."""
    other = hashes(seed=1)
    assert all(other[k] != v for k, v in PINNED.items())
