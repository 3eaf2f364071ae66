"""Where the compiled exact step's time goes: each part of one step of [784,30,10], timed alone.

    python benchmarks/kernel_split.py [--batch-sizes 10,128] [--repeat 300]

Trains one epoch of [784,30,10] (exact arithmetic, the compiled engine) on Fashion-MNIST's first 50,000 training
rows (Debian's dataset-fashion-mnist) so that every buffer holds a real batch, then calls the kernel's parts on
that batch ``--repeat`` times each: the products (the forward product of each layer, the weight gradients, δ
carried back), the element-wise work (activations and their checks, δ_L, σ', the update rule), the gather, and
a whole step.  The products' arithmetic floor is their values' multiply-adds (float64; the bounds are norms
and float32 sums of magnitudes, except δ carried back's) at the machine's float64 rate, measured as NumPy's
float64 matrix product of a 2,048×2,048 pair on one thread.  Says which OpenBLAS kernel ran.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

FASHION = "/usr/share/datasets/fashion-mnist/"


def timed(fn, *args, repeat: int) -> float:
    """Microseconds per call, the best of three batches of ``repeat`` calls."""
    fn(*args)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn(*args)
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e6


def float64_rate() -> float:
    """Multiply-adds per second of NumPy's float64 matrix product (2,048² × 2,048², one thread)."""
    a = np.random.default_rng(0).random((2048, 2048))
    a @ a
    t0 = time.perf_counter()
    a @ a
    return 2048**3 / (time.perf_counter() - t0)


def split(K: int, repeat: int, x, y) -> list[tuple[str, float]]:
    from mlpsweep.nn import Network, compiled
    from mlpsweep.nn import kernel_step as ks
    from mlpsweep.nn.kernel_rules import update
    from mlpsweep.nn.kernels import activate, derivative_times
    from mlpsweep.nn.sgd import prepare_targets
    from mlpsweep.settings import resolve

    st = resolve({"batch_size": K, "epochs": 1, "hidden": [30]})
    net = Network.from_config([784, 30, 10], st.to_dict(), rng=np.random.default_rng(0), arithmetic="exact")
    targets, _ = prepare_targets(net, y)
    steps = compiled.CompiledSteps([net], [st], [np.random.default_rng(0)], x, targets)
    compiled.kernel()
    steps.epoch(1, np.array([True]))  # compiles (or loads) the kernel for these arguments
    t0 = time.perf_counter()
    steps.epoch(2, np.array([True]))
    epoch_us = (time.perf_counter() - t0) / steps.n_steps * 1e6
    lay, P, G, b32, b64, counts, k = steps.lay, steps.P, steps.G, steps.b32, steps.b64, steps.counts, K
    XB, Z, A, D1, D2, H1, H2 = b32[0], b32[2], b32[3], b32[6], b32[7], b32[9], b32[10]
    MAG, ACC1, ACC2, V, TERMS, PARTIALS, BF, MF = b64
    pend = steps.pend
    fb = (TERMS, PARTIALS, counts)  # a product's fallback scratch and counter
    # the last step's δ of each layer (the backward pass leaves layer 2's in D1, layer 1's in D2) and its
    # magnitudes times the bound factor
    d2, d1 = D1[: K * 10].copy(), D2[: K * 30].copy()
    mag2, mag1 = (np.abs(d.astype(np.float64)) * BF[max(K, n)] for d, n in ((d2, 10), (d1, 30)))

    def t(fn, *args):
        return timed(fn, *args, repeat=repeat)

    bits = V.view(np.uint64)
    W, B, K30 = ks._weights_gradient, ks._bias_gradient, K * 30
    rows = [
        ("forward product, layer 1 (x·W₁ᵀ)", t(ks._affine, 0, 0, k, lay, P, XB, Z, BF, V, *fb, True)),
        ("forward product, layer 2", t(ks._affine, 0, 1, k, lay, P, A, Z, BF, V, *fb, True)),
        ("weight gradient, layer 1 (δ₁ᵀx)", t(W, 0, 0, k, lay, d1, XB, G, ACC1, ACC2, H1, H2, MF[k], *fb)),
        ("weight gradient, layer 2", t(W, 0, 1, k, lay, d2, A, G, ACC1, ACC2, H1, H2, MF[k], *fb)),
        ("δ carried back (δ₂W₂)", t(ks._back, 0, 1, k, lay, P, d2, mag2, D2.copy(), ACC1, ACC2, *fb)),
        ("bias gradients", t(B, 0, 0, k, lay, d1, mag1, G, *fb) + t(B, 0, 1, k, lay, d2, mag2, G, *fb)),
        ("sigmoids and checks", t(activate, 0, Z, A, k, 30, V, bits, pend, True)
         + t(activate, 0, Z[K30:], A[K30:], k, 10, V, bits, pend, True)),
        ("δ_L and σ'", t(ks._output_delta, k, lay, steps.cfg, b32) + t(derivative_times, 0, D2, A, Z, k, 30)),
        ("update rule (SGD)", t(update, 0, P.copy(), G, steps.nw, steps.hyper[0].copy(), steps.R1, steps.R2,
                                steps.bpow, b32[8])),
    ]  # fmt: skip
    parts = sum(us for _, us in rows)
    rows.append(("whole step, in an epoch (per step)", epoch_us))
    rows.append(("of which gather, calls and the rest", epoch_us - parts))
    steps.release()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--batch-sizes", default="10,128")
    ap.add_argument("--repeat", type=int, default=300)
    args = ap.parse_args()
    from mlpsweep.data.idx import read_images, read_labels

    x = (read_images(FASHION + "train-images-idx3-ubyte.gz").reshape(60000, 784)[:50000] / np.float32(255)).astype(
        np.float32
    )
    y = read_labels(FASHION + "train-labels-idx1-ubyte.gz")[:50000].astype(np.int64)
    with threadpool_limits(1):
        rate = float64_rate()
        kernel = [i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas"]
        names = ", ".join(map(str, kernel))
        print(f"OpenBLAS kernel: {names}; float64 matrix product {rate / 1e9:.1f} G multiply-adds/s\n")
        for K in (int(k) for k in args.batch_sizes.split(",")):
            rows = split(K, args.repeat, x, y)
            macs = 2 * K * (784 * 30 + 30 * 10) + 2 * K * 30 * 10  # values: forward, gradient; back: value and bound
            print(f"K = {K}: the products' floor {macs / rate * 1e6:.1f} µs (their float64 values)\n")
            print("| part | µs per step |")
            print("|---|---:|")
            for name, us in rows:
                print(f"| {name} | {us:.1f} |")
            print()


if __name__ == "__main__":
    main()
