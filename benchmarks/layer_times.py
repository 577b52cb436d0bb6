"""Where one training step's time goes: every layer's forward + backward alone, vs the ceiling.

    python -m benchmarks.layer_times [--model alexnet] [--precision float32] [--batch-size 32]

Builds the network as its preset trains it (the paper's: LRN, towers, dropout, float32), times
the whole training step (the paper's SGD), then times each layer alone on a random batch of
its input shape: its forward pass and the gradients a training step needs from it (w.r.t. its
weights, and w.r.t. its input except for the first layer, whose input is the data), given a
fixed upstream gradient. Prints milliseconds per step, the share of the whole step, and for
convolutions and dense layers the achieved FLOP/s and its fraction of a large matmul's at the
same precision. The step minus the layers' sum is what the loss, the optimizer update and the
framework add.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from alexnet_tf import flops, models  # noqa: E402
from alexnet_tf.config import PRESETS  # noqa: E402
from alexnet_tf.optim import PaperSGD, SparseCrossentropy  # noqa: E402
from benchmarks import timing  # noqa: E402
from benchmarks.measure import matmul_flops, random_batch  # noqa: E402

PRESET_OF = {"alexnet": "imagenet2012", "alexnet_cifar": "cifar10"}


def build(model_name: str, precision: str, norm: str | None = None) -> keras.Model:
    """The network with its preset's normalisation (or ``norm``) and init (the builder's own
    for models without a preset), at ``precision``."""
    preset = PRESETS[PRESET_OF[model_name]] if model_name in PRESET_OF else {}
    kwargs = {k: preset[k] for k in ("norm", "init") if k in preset}
    kwargs.update({"norm": norm} if norm else {})
    keras.mixed_precision.set_global_policy(precision)
    try:
        return models.build_model(model_name, **kwargs)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def layer_step(layer, batch_size: int, first: bool):
    """``(step, x)``: ``step(x)`` runs ``layer``'s forward pass and the gradients a training step
    takes through it (w.r.t. its weights, and w.r.t. its input unless it is the first layer)
    for a fixed random upstream gradient; it returns the output and those gradients."""
    shape = (batch_size, *layer.input.shape[1:])
    x = tf.cast(tf.random.normal(shape), layer.input.dtype)  # what the layer before hands on
    upstream = tf.cast(tf.random.normal((batch_size, *layer.output.shape[1:])), layer.output.dtype)
    weights = list(layer.trainable_weights)

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
        wrt = weights if first else [*weights, x]
        # y is returned too: a convolution's gradients do not need its output, and TensorFlow
        # would otherwise prune the forward pass from the timed graph.
        return y, tape.gradient(y, wrt, output_gradients=upstream) if wrt else []

    return step, x


def layer_seconds(layer, batch_size: int, first: bool, steps: int, warmup: int = 3) -> float:
    """Median seconds of ``layer``'s forward + the backward a training step runs through it."""
    step, x = layer_step(layer, batch_size, first)
    # eager calls of a tf.function run synchronously on the CPU
    return statistics.median(timing.call_seconds(lambda: step(x), steps, warmup))


def kind(layer) -> str:
    """The row group a layer's time is added to."""
    if isinstance(layer, keras.layers.Conv2D):
        return "convolution"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    return type(layer).__name__


def measure(
    model_name: str,
    precision: str,
    batch_size: int,
    steps: int,
    matmul_size: int = 4096,
    warmup: int = 3,
    norm: str | None = None,
) -> dict:
    """The whole step and every layer of ``model_name``: milliseconds, shares, FLOP/s."""
    dtype = tf.bfloat16 if "bfloat16" in precision else tf.float32
    ceiling = matmul_flops(matmul_size, repeats=3, dtype=dtype)
    model = build(model_name, precision, norm)
    model.compile(PaperSGD(0.01), SparseCrossentropy(), jit_compile=False)
    batch = random_batch(batch_size, model.input_shape[1], model.output_shape[-1])
    step = statistics.median(timing.train_step_seconds(model, batch, steps, warmup))
    costs = {c.name: c.forward_flops for c in flops.layer_costs(model)}
    rows = []
    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    for i, layer in enumerate(layers):
        seconds = layer_seconds(layer, batch_size, i == 0, steps, warmup)
        row = {
            "layer": layer.name,
            "kind": kind(layer),
            "ms": 1e3 * seconds,
            "share": seconds / step,
        }
        if layer.name in costs:  # backward: w.r.t. weights, and w.r.t. the input after layer 1
            achieved = costs[layer.name] * (2 if i == 0 else 3) * batch_size / seconds
            row.update(gflops_per_second=achieved / 1e9, fraction_of_ceiling=achieved / ceiling)
        rows.append(row)
    total = sum(r["ms"] for r in rows)
    return {
        "model": model_name,
        "norm": norm or "the preset's",
        "precision": precision,
        "batch_size": batch_size,
        "ceiling_gflops": ceiling / 1e9,
        "step_ms": 1e3 * step,
        "step_fraction_of_ceiling": flops.training_flops(model) * batch_size / step / ceiling,
        "layers_ms": total,
        "rows": rows,
    }


def table(result: dict) -> str:
    """The measurement as markdown: one row per layer, then per kind, then the remainder."""
    lines = [
        "| layer | ms | share of the step | GFLOP/s | of the ceiling |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        gf = f"{r['gflops_per_second']:.1f}" if "gflops_per_second" in r else ""
        fr = f"{100 * r['fraction_of_ceiling']:.1f}%" if "fraction_of_ceiling" in r else ""
        lines.append(f"| {r['layer']} | {r['ms']:.1f} | {100 * r['share']:.1f}% | {gf} | {fr} |")
    step = result["step_ms"]
    by_kind: dict[str, float] = {}
    for r in result["rows"]:
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0.0) + r["ms"]
    for name, ms in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        lines.append(f"| all {name} | {ms:.1f} | {100 * ms / step:.1f}% | | |")
    rest = step - result["layers_ms"]
    lines.append(f"| step minus the layers (loss, update, framework) | {rest:.1f} | "
                 f"{100 * rest / step:.1f}% | | |")  # fmt: skip
    lines.append(
        f"| **whole training step** | {step:.1f} | 100% | | "
        f"{100 * result['step_fraction_of_ceiling']:.1f}% |"
    )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="alexnet", choices=sorted(models.BUILDERS))
    p.add_argument("--precision", default="float32", help="a Keras dtype policy")
    p.add_argument("--norm", choices=("lrn", "batch", "none"), help="default: the preset's")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3, help="untimed calls before the timed ones")
    p.add_argument("--matmul-size", type=int, default=4096, help="side of the ceiling's matmul")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)
    result = measure(
        args.model,
        args.precision,
        args.batch_size,
        args.steps,
        args.matmul_size,
        args.warmup,
        args.norm,
    )
    print(
        f"{args.model}, {args.precision}, batch {args.batch_size}: matmul ceiling "
        f"{result['ceiling_gflops']:.1f} GFLOP/s, training step {result['step_ms']:.1f} ms"
    )
    print(table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), **result}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
