"""What each part of the CIFAR-10 recipe's training step costs, against the matmul ceiling.

    python -m benchmarks.step_parts [--precision mixed_bfloat16] [--batch-size 128] [--steps 12]

The CIFAR network as the CIFAR-10 preset trains it (batch norm, dropout, two towers, 3x3/2
pooling), then with one part changed at a time, on one synthetic batch with the paper's SGD.
Prints the median step time, images/s, the achieved training FLOP/s (counted by
``alexnet_tf.flops``) and its fraction of a large matmul's FLOP/s at the same precision: near
100%, the step is bound by arithmetic and only fewer FLOPs make it faster; far below, by
everything else (normalisation, pooling, casts, memory).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from alexnet_tf import flops, models  # noqa: E402
from alexnet_tf.optim import PaperSGD, SparseCrossentropy  # noqa: E402
from benchmarks import timing  # noqa: E402
from benchmarks.measure import matmul_flops, random_batch  # noqa: E402

# name -> (what changes, keyword arguments of models.alexnet, architecture)
WIDE_FC = dataclasses.replace(models.CIFAR, hidden=(4096, 4096))
PARTS = {
    "recipe": ("the CIFAR-10 preset's network (batch norm)", {}, models.CIFAR),
    "no_batch_norm": ("no normalisation", {"norm": "none"}, models.CIFAR),
    "lrn": ("§3.3 LRN in place of batch norm", {"norm": "lrn"}, models.CIFAR),
    "no_dropout": ("no dropout", {"dropout": 0.0}, models.CIFAR),
    "one_tower": ("one tower (dense conv2, conv4, conv5)", {"towers": 1}, models.CIFAR),
    "fc4096": ("§3.5's 4096-wide fc6 and fc7", {}, WIDE_FC),
    "plain_pooling": ("2x2/2 pooling in place of 3x3/2", {"overlapping_pool": False}, models.CIFAR),
    "crops28": ("§4.1's 28x28 crops of the 32x32 images", {"input_size": 28}, models.CIFAR),
}


def step_seconds(model, batch, steps: int, warmup: int = 5) -> float:
    """Median seconds of one training step (the paper's SGD) on ``batch``."""
    model.compile(PaperSGD(0.01), SparseCrossentropy(0.1), jit_compile=False)
    return statistics.median(timing.train_step_seconds(model, batch, steps, warmup))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--precision", default="mixed_bfloat16", help="a Keras dtype policy")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    p.add_argument("--matmul-size", type=int, default=4096, help="side of the ceiling's matmul")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    dtype = tf.bfloat16 if "bfloat16" in args.precision else tf.float32
    ceiling = matmul_flops(args.matmul_size, repeats=3, dtype=dtype)
    print(f"matmul ceiling ({dtype.name}): {ceiling / 1e9:.1f} GFLOP/s", flush=True)
    batch = random_batch(args.batch_size, 32, 10)
    rows = []
    for name in args.parts:
        what, kwargs, arch = PARTS[name]
        keras.mixed_precision.set_global_policy(args.precision)
        model = models.alexnet(arch, init="he", **{"norm": "batch", **kwargs})
        keras.mixed_precision.set_global_policy("float32")
        size = model.input_shape[1]  # the centre of the 32x32 batch for a smaller input
        off = (32 - size) // 2
        seconds = step_seconds(
            model, (batch[0][:, off : off + size, off : off + size], batch[1]), args.steps
        )
        achieved = flops.training_flops(model) * args.batch_size / seconds
        rows.append(
            {
                "part": name,
                "change": what,
                "ms_per_step": 1000 * seconds,
                "images_per_second": args.batch_size / seconds,
                "gflops_per_second": achieved / 1e9,
                "fraction_of_ceiling": achieved / ceiling,
            }
        )
        r = rows[-1]
        print(
            f"{name:14s} {r['ms_per_step']:8.1f} ms {r['images_per_second']:8.1f} images/s "
            f"{r['gflops_per_second']:7.1f} GFLOP/s {100 * r['fraction_of_ceiling']:5.1f}% "
            f"of the ceiling  ({what})",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "ceiling_gflops": ceiling / 1e9, "rows": rows}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
