"""The random draws mlpsweep uses, hashed, under whichever NumPy runs this script.

A run's initial weights, batch order, dropout masks and monitored rows come from ``numpy.random.Generator``
(PCG64) through ``standard_normal``, ``permutation``, ``random(dtype=float32)`` and ``choice(replace=False)``;
a sweep's random search also uses ``uniform`` and ``integers``.  NumPy does not promise that these algorithms
stay the same across versions (NEP 19), so ``tests/test_random_draws.py`` pins their bytes, and this script
shows that the oldest and the newest NumPy the project supports give the same ones:

    python benchmarks/random_draws.py                       # this environment's NumPy
    python -m venv /tmp/np20 && /tmp/np20/bin/pip install numpy==2.0.0
    /tmp/np20/bin/python benchmarks/random_draws.py

It imports NumPy only, so any interpreter with any NumPy runs it.
"""

import hashlib
import json

import numpy as np

#: (name, the draw) of every kind of draw mlpsweep makes, each from its own seeded generator.
DRAWS = {
    "standard_normal (initial weights)": lambda rng: rng.standard_normal((30, 784)),
    "permutation (batch order)": lambda rng: rng.permutation(50_000),
    "random float32 (dropout masks)": lambda rng: rng.random((10, 30), dtype=np.float32),
    "random float64": lambda rng: rng.random(1000),
    "choice without replacement (monitored rows)": lambda rng: rng.choice(50_000, size=10_000, replace=False),
    "uniform (random search)": lambda rng: rng.uniform(-3.0, 1.0, 100),
    "integers (random search)": lambda rng: rng.integers(1, 300, 100),
}


def hashes(seed: int = 20261203) -> dict:
    """sha256 (16 hex digits) of each draw's bytes, little-endian, and the bit generator's state after it."""
    out = {}
    for name, draw in DRAWS.items():
        rng = np.random.default_rng(seed)
        values = np.ascontiguousarray(draw(rng))
        data = values.astype(values.dtype.newbyteorder("<")).tobytes()
        state = json.dumps(rng.bit_generator.state, sort_keys=True, default=int).encode()
        out[name] = hashlib.sha256(data + state).hexdigest()[:16]
    return out


if __name__ == "__main__":
    print(json.dumps({"numpy": np.__version__, "draws": hashes()}, indent=1))
