"""Evaluate a trained model: ``python -m alexnet_tf.evaluate --workdir DIR [--ten-crop]``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from alexnet_tf import cli


def evaluate(model, dataset, *, ten_crop: bool = False) -> dict:
    """Top-1 and top-5 error of ``model`` over ``dataset``.

    With ``ten_crop`` each element holds ``[B, 10, S, S, 3]`` crops and the prediction is the
    average of the ten softmax outputs (§4.1: "averaging the predictions made by the
    network's softmax layer on the ten patches").
    """
    import tensorflow as tf

    num_classes = int(model.output_shape[-1])
    k = min(5, num_classes)

    @tf.function
    def step(x, y):
        if ten_crop:
            crops = tf.reshape(x, [-1, *x.shape[2:]])
            probs = tf.nn.softmax(tf.cast(model(crops, training=False), tf.float32))
            probs = tf.reduce_mean(tf.reshape(probs, [tf.shape(x)[0], -1, num_classes]), axis=1)
        else:
            probs = tf.nn.softmax(tf.cast(model(x, training=False), tf.float32))
        y = tf.cast(tf.reshape(y, [-1]), tf.int32)
        top1 = tf.reduce_sum(tf.cast(tf.math.in_top_k(y, probs, 1), tf.int64))
        topk = tf.reduce_sum(tf.cast(tf.math.in_top_k(y, probs, k), tf.int64))
        return top1, topk, tf.size(y, out_type=tf.int64)

    correct1 = correctk = total = 0
    start = time.perf_counter()
    for x, y in dataset:
        c1, ck, n = step(x, y)
        correct1, correctk, total = correct1 + int(c1), correctk + int(ck), total + int(n)
    seconds = time.perf_counter() - start
    if total == 0:
        from alexnet_tf.errors import DataError

        raise DataError("the evaluation split is empty")
    return {
        "top1_error": 1.0 - correct1 / total,
        "top5_error": 1.0 - correctk / total,
        "images": total,
        "ten_crop": ten_crop,
        "images_per_second": round(total / seconds, 2),
    }


def load_trained(workdir: Path, checkpoint_path: str | None = None):
    """The final ``model.keras`` of ``workdir`` (or the newest epoch checkpoint) and its config."""
    import keras

    from alexnet_tf import checkpoint, layers, optim  # noqa: F401  (registers custom objects)
    from alexnet_tf.errors import UsageError

    latest = checkpoint.latest(workdir)
    config = latest[1].get("config", {}) if latest else {}
    if checkpoint_path is None:
        final = workdir / "model.keras"
        if final.exists():
            checkpoint_path = str(final)
        elif latest:
            checkpoint_path = str(latest[0])
        else:
            raise UsageError(
                f"no trained model in {workdir}: run alexnet_tf.train --workdir {workdir}"
            )
    try:
        model = keras.models.load_model(checkpoint_path, compile=False)
    except Exception as e:  # corrupt or foreign file
        raise UsageError(f"cannot load {checkpoint_path}: {str(e).splitlines()[0]}") from None
    return model, config


def build_parser():
    p = cli.Parser(
        prog="python -m alexnet_tf.evaluate", description="Top-1/top-5 error of a trained AlexNet."
    )
    p.add_argument("--workdir", required=True, help="a training workdir")
    p.add_argument("--dataset", help="default: the one it was trained on")
    p.add_argument("--data-dir")
    p.add_argument("--checkpoint", help="a .keras file (default: WORKDIR/model.keras)")
    p.add_argument("--ten-crop", action="store_true", help="§4.1: average softmax over 10 crops")
    p.add_argument("--batch-size", type=int, default=100)
    return p


def run_evaluation(args) -> dict:
    from alexnet_tf import checkpoint, data
    from alexnet_tf.errors import UsageError

    workdir = Path(args.workdir)
    if not workdir.is_dir():
        raise UsageError(f"workdir {workdir} does not exist")
    if args.batch_size <= 0:
        raise UsageError(f"batch size must be positive, got {args.batch_size}")
    model, config = load_trained(workdir, args.checkpoint)
    dataset = args.dataset or config.get("dataset")
    if dataset is None:
        raise UsageError("--dataset is required: the workdir does not say what it was trained on")
    image_size = int(model.input_shape[1])
    source = data.load_source(
        dataset,
        args.data_dir or config.get("data_dir"),
        image_size=image_size,
        num_classes=int(model.output_shape[-1]),
        num_examples=config.get("num_examples"),
        seed=config.get("seed", 0),
    )
    ds = data.eval_pipeline(
        source,
        args.batch_size,
        image_size=image_size,
        ten_crop=args.ten_crop,
        mean=config.get("mean", "channel"),
        cache_dir=str(workdir),
    )
    result = {
        "dataset": dataset,
        "model": model.name,
        **evaluate(model, ds, ten_crop=args.ten_crop),
    }
    out = workdir / ("eval_ten_crop.json" if args.ten_crop else "eval.json")
    checkpoint.write_json(out, result)
    print(
        f"{'10-crop' if args.ten_crop else 'centre crop'} on {result['images']} {dataset} images: "
        f"top-1 error {result['top1_error']:.4f}, top-5 error {result['top5_error']:.4f} ({out})"
    )
    return result


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run(lambda: run_evaluation(args))


if __name__ == "__main__":
    sys.exit(main())
