"""Training speed of AlexNet's two towers: split convolutions vs Conv2D(groups=2) vs no towers.

    python -m benchmarks.towers [--batch-size 32] [--steps 5] [--model alexnet]

Each variant trains on the same synthetic batch with the paper's SGD, with and without XLA,
in one process; the table reports steady-state images/s after warm-up and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from alexnet_tf.models import build_model, with_keras_groups  # noqa: E402
from benchmarks.peers import keras_train_rate  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="alexnet", choices=["alexnet", "alexnet_cifar"])
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--jit", choices=["both", "on", "off"], default="both")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    towers = build_model(args.model, towers=2)
    size = towers.input_shape[1]
    batch = (
        rng.normal(size=(args.batch_size, size, size, 3)).astype("float32"),
        rng.integers(0, towers.output_shape[-1], args.batch_size),
    )
    variants = {
        "towers: split convolutions (alexnet_tf)": lambda: build_model(args.model, towers=2),
        "towers: keras Conv2D(groups=2)": lambda: with_keras_groups(
            build_model(args.model, towers=2)
        ),
        "no towers (dense conv2/4/5)": lambda: build_model(args.model, towers=1),
    }
    jits = {"both": [False, True], "on": [True], "off": [False]}[args.jit]
    results = []
    for name, make in variants.items():
        for jit in jits:
            ips = keras_train_rate(make(), batch, args.steps, jit=jit, warmup=2)
            results.append({"variant": name, "xla": jit, "images_per_second": round(ips, 2)})
            print(f"{name:42s} xla={'on ' if jit else 'off'} {ips:8.2f} images/s", flush=True)

    best = {
        r["variant"]: max(q["images_per_second"] for q in results if q["variant"] == r["variant"])
        for r in results
    }
    ours, grouped, dense = (best[k] for k in variants)
    print(f"\n{args.model}, batch {args.batch_size}, best of XLA on/off per variant:")
    print(f"  split towers / keras groups = {ours / grouped:.2f}x")
    print(f"  split towers / no towers    = {ours / dense:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
