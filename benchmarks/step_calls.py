"""Where a training step's time goes: every call of one replayed step (K = 10), timed one by one.

    python benchmarks/step_calls.py [--runs 1] [--mode exact|native] [--over 3]

Trains [784,30,10] for one epoch on 2,000 Fashion-MNIST rows (Debian's dataset-fashion-mnist) to build the
step, then replays the first batch position 300 times, timing each call, and prints the calls that take more
than ``--over`` µs with their arrays' shapes, and the step's total (the timer's own cost included, so the
total is above an epoch's per-step time). One BLAS thread; says which OpenBLAS kernel ran.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import defaultdict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--mode", choices=["exact", "native"], default="exact")
    parser.add_argument("--over", type=float, default=3.0)
    args = parser.parse_args()
    os.environ["MLPSWEEP_ARITHMETIC"] = args.mode
    import numpy as np
    from threadpoolctl import threadpool_info, threadpool_limits

    from mlpsweep.data.idx import read_images, read_labels
    from mlpsweep.nn import Network
    from mlpsweep.nn import activations as act
    from mlpsweep.nn.sgd import prepare_targets
    from mlpsweep.nn.step import Steps
    from mlpsweep.settings import resolve

    threadpool_limits(1)
    folder = "/usr/share/datasets/fashion-mnist/"
    x = (read_images(folder + "train-images-idx3-ubyte.gz").reshape(60000, 784)[:2000] / np.float32(255)).astype(
        np.float32
    )
    y = read_labels(folder + "train-labels-idx1-ubyte.gz")[:2000].astype(np.int64)
    S = args.runs
    st = resolve({"batch_size": 10, "epochs": 1, "eta": 3.0})
    nets = [Network.from_config([784, 30, 10], st.to_dict(), rng=np.random.default_rng(s)) for s in range(S)]
    targets, _ = prepare_targets(nets[0], y)
    steps = Steps(nets, [st] * S, [np.random.default_rng(s) for s in range(S)], x, targets)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        steps.epoch(1, np.ones(S, bool))
        replay = steps.replay(0, 10)
        spent: dict = defaultdict(float)
        rounds = 300
        for _ in range(rounds):
            for i, (function, call_args) in enumerate(replay.calls):
                t0 = time.perf_counter()
                function(*call_args)
                spent[i] += time.perf_counter() - t0
    kernel = ", ".join(i.get("architecture") for i in threadpool_info() if i.get("user_api") == "blas")
    print(f"{args.mode} arithmetic, {S} run(s), K = 10, OpenBLAS {kernel}, 1 thread; calls over {args.over} µs:")
    total = 0.0
    for i, (function, call_args) in enumerate(replay.calls):
        us = spent[i] / rounds * 1e6
        total += us
        if us > args.over:
            print(f"{i:3d} {us:7.1f} µs  {act.describe(function, call_args)[:140]}")
    print(f"the step: {total:.0f} µs in {len(replay.calls)} calls")


if __name__ == "__main__":
    main()
