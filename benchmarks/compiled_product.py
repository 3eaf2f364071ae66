"""The exact product three ways, on the SGD step's shapes: NumPy/BLAS float32 (native), exact.matmul (float64
value and bound through BLAS, NumPy checks) and jit.matmul (one Numba kernel: value, bound and check in one
pass, zero pixels skipped).  Interleaved rounds, best of each; one BLAS thread; the kernel that ran is named.

    python benchmarks/compiled_product.py [--rounds 5] [--calls 300]

Shapes of [784,30,10] at K = 10 and K = 128 on Fashion-MNIST-like inputs (80 % zero pixels): the forward
product x·Wᵀ (K×784 · 784×30) and the weight gradient δᵀ·x (30×K · K×784).  The compiled kernel's bytes are
checked equal to exact.matmul's before timing.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from mlpsweep.nn import exact, jit


def shapes(k: int, rng) -> dict:
    x = rng.random((k, 784)).astype(np.float32)
    x[x < 0.8] = 0
    w = rng.standard_normal((784, 30)).astype(np.float32)
    d = (rng.standard_normal((30, k)) * 1e-2).astype(np.float32)
    return {f"forward K={k} ({k}×784·784×30)": (x, w), f"gradient K={k} (30×{k}·{k}×784)": (d, x)}


def timed(f, a, b, calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        f(a, b)
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=300)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    cases = {**shapes(10, rng), **shapes(128, rng)}
    ways = {"native": np.matmul, "exact (NumPy)": exact.matmul, "exact (compiled)": jit.matmul}
    best = {(c, w): float("inf") for c in cases for w in ways}
    with threadpool_limits(1):
        for a, b in cases.values():
            assert exact.matmul(a, b).tobytes() == jit.matmul(a, b).tobytes()
        for _ in range(args.rounds):
            for case, (a, b) in cases.items():
                for way, f in ways.items():
                    best[case, way] = min(best[case, way], timed(f, a, b, args.calls))
        kernel = "; ".join(f"{i['internal_api']} {i['version']} {i.get('architecture')}" for i in threadpool_info())
    print(f"µs per product, best of {args.rounds} interleaved rounds of {args.calls} calls, 1 thread; {kernel}\n")
    print("| product | " + " | ".join(ways) + " | compiled / native |")
    print("|---|" + "---:|" * (len(ways) + 1))
    for case in cases:
        row = [f"{best[case, w]:.1f}" for w in ways]
        print(f"| {case} | " + " | ".join(row) + f" | {best[case, 'exact (compiled)'] / best[case, 'native']:.2f} |")


if __name__ == "__main__":
    main()
