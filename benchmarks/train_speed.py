"""Speed of one SGD epoch: mlpsweep's matrix form against the lecture's per-sample loop.

Makes MNIST-shaped data (50,000 × 784, 10 classes), pins BLAS to one thread
and, in one run (so that the ratios are fair on a noisy machine):

* measures the machine's GEMM rate (float32 and float64, large square-ish
  products) as the roofline;
* times one epoch of the per-sample reference (tests/lecture_reference.py,
  float64) on a slice of the data, scaled to 50,000 samples;
* times one epoch of mlpsweep's SGD for [784,30,10], [784,30,30,10] and
  [784,100,10] at K = 10, 128, 1000 in float32 and float64 (best of
  ``--repeats`` epochs; the per-epoch monitoring pass is not included);

and prints a Markdown table: seconds/epoch, speed-up over the reference and
the share of the roofline, counting 6 × (number of weights) FLOPs per sample
(2 forward, 4 backward).

    python benchmarks/train_speed.py            # full table (~2 minutes)
    python benchmarks/train_speed.py --quick    # [784,30,10] only
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lecture_reference import LectureNetwork  # noqa: E402

from mlpsweep.nn import Network, SGDConfig, train  # noqa: E402

M, D, C = 50_000, 784, 10


def gemm_rate(dtype, seconds: float = 1.0) -> float:
    """Best FLOP/s of a (1000×784)·(784×1000) product over ~``seconds``."""
    rng = np.random.default_rng(0)
    a = rng.random((1000, 784)).astype(dtype)
    b = rng.random((784, 1000)).astype(dtype)
    out = np.empty((1000, 1000), dtype=dtype)
    flops = 2 * 1000 * 784 * 1000
    best = float("inf")
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t)
    return flops / best


def reference_epoch(sizes, x, y, rows: int) -> float:
    """Seconds for one per-sample epoch, timed on ``rows`` samples, scaled to M."""
    rng = np.random.default_rng(1)
    net = Network(sizes, rng=rng)
    ref = LectureNetwork(net.weights, net.biases)
    targets = np.eye(C)[y[:rows]]
    t = time.perf_counter()
    ref.sgd_epoch(x[:rows].astype(np.float64), targets, np.arange(rows), 10, 3.0)
    return (time.perf_counter() - t) * M / rows


def ours_epoch(sizes, dtype, k, x, y, repeats: int) -> float:
    net = Network(sizes, dtype=dtype, rng=np.random.default_rng(1))
    cfg = SGDConfig(epochs=repeats, batch_size=k, eta=3.0 if k < 1000 else 10.0)
    hist = train(net, x, y, cfg, np.random.default_rng(2))
    return min(hist.column("seconds"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only [784,30,10]")
    ap.add_argument("--repeats", type=int, default=3, help="epochs per case (best is kept)")
    ap.add_argument("--reference-rows", type=int, default=5000, help="samples the per-sample loop is timed on")
    args = ap.parse_args(argv)

    threadpool_limits(1)
    rng = np.random.default_rng(0)
    x64 = rng.random((M, D))
    y = rng.integers(0, C, M)
    data = {"float32": x64.astype(np.float32), "float64": x64}
    peak = {"float32": gemm_rate(np.float32), "float64": gemm_rate(np.float64)}

    topologies = [[784, 30, 10]] if args.quick else [[784, 30, 10], [784, 30, 30, 10], [784, 100, 10]]
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})" for i in threadpool_info()]
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; numpy {np.__version__}; BLAS {', '.join(blas)}; 1 thread")
    print(f"GEMM roofline: float32 {peak['float32'] / 1e9:.1f} GFLOP/s, float64 {peak['float64'] / 1e9:.1f} GFLOP/s")
    print(f"per-sample reference timed on {args.reference_rows} samples and scaled to {M}; ours: best of {args.repeats} epochs")
    print()
    print("| topology | K | dtype | s/epoch | reference s/epoch | speed-up | GFLOP/s | roofline |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for sizes in topologies:
        ref = reference_epoch(sizes, data["float64"], y, args.reference_rows)
        n_weights = sum(a * b for a, b in zip(sizes[1:], sizes[:-1]))
        for k in (10, 128, 1000):
            for dtype in ("float32", "float64"):
                sec = ours_epoch(sizes, dtype, k, data[dtype], y, args.repeats)
                rate = 6 * n_weights * M / sec
                print(
                    f"| {sizes} | {k} | {dtype} | {sec:.3f} | {ref:.2f} | {ref / sec:.1f}× "
                    f"| {rate / 1e9:.1f} | {rate / peak[dtype]:.0%} |",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
