"""Evaluate a trained model: ``python -m alexnet_tf.evaluate --workdir DIR [--ten-crop]``."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from alexnet_tf import cli


def evaluate(model, dataset, *, ten_crop: bool = False, flip: bool = False) -> dict:
    """Top-1 and top-5 error of ``model`` over ``dataset``.

    With ``ten_crop`` each element holds ``[B, 10, S, S, 3]`` crops and the prediction is the
    average of the ten softmax outputs (§4.1: "averaging the predictions made by the
    network's softmax layer on the ten patches"). With ``flip`` it is the average over each
    image and its mirror image (the cheap half of §4.1's test-time averaging).
    """
    import tensorflow as tf

    from alexnet_tf import distribute

    num_classes = int(model.output_shape[-1])
    k = min(5, num_classes)

    def batch_counts(x, y):
        probs = probabilities(model, x, ten_crop=ten_crop, flip=flip)
        y = tf.cast(tf.reshape(y, [-1]), tf.int32)
        top1 = tf.reduce_sum(tf.cast(tf.math.in_top_k(y, probs, 1), tf.int64))
        topk = tf.reduce_sum(tf.cast(tf.math.in_top_k(y, probs, k), tf.int64))
        return top1, topk, tf.size(y, out_type=tf.int64)

    # No AutoGraph, as data.py's pipeline functions: nothing to convert.
    step = distribute.per_run_function(batch_counts, autograph=False)

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
        "flip": flip,
        "images_per_second": round(total / seconds, 2),
    }


def probabilities(model, x, *, ten_crop: bool = False, flip: bool = False):
    """Softmax [B, classes] (float32) of ``model`` on a batch of evaluation views: ``x`` is
    [B, S, S, 3], or with ``ten_crop`` [B, 10, S, S, 3] whose ten softmax outputs are averaged
    (§4.1); ``flip`` averages each view with its mirror image."""
    import tensorflow as tf

    def softmax(v):
        return tf.nn.softmax(tf.cast(model(v, training=False), tf.float32))

    if ten_crop:
        probs = softmax(tf.reshape(x, [-1, *x.shape[2:]]))
        return tf.reduce_mean(tf.reshape(probs, [tf.shape(x)[0], -1, probs.shape[-1]]), axis=1)
    probs = softmax(x)
    return (probs + softmax(tf.reverse(x, axis=[2]))) / 2 if flip else probs


def load_trained(workdir: Path, checkpoint_path: str | None = None):
    """The final ``model.keras`` of ``workdir`` (or the newest epoch checkpoint) and its config."""
    import keras

    from alexnet_tf import checkpoint  # the custom objects: registered by `import alexnet_tf`
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


def run_source(model, config: dict, data_dir=None, *, dataset=None):
    """The data a run trained and tested on, as it loaded them for ``model`` (its input size
    and classes), from its saved ``config`` (``data_dir``, ``dataset``: if not the run's)."""
    from alexnet_tf import data

    return data.load_source(
        dataset or config["dataset"], data_dir or config.get("data_dir"),
        image_size=int(model.input_shape[1]), num_classes=int(model.output_shape[-1]),
        num_examples=config.get("num_examples"), seed=config.get("seed", 0),
    )  # fmt: skip


def test_view(workdir, model, config: dict, data_dir=None, *, dataset=None, batch_size=500,
              ten_crop=False):  # fmt: skip
    """Run ``workdir``'s test images as its evaluation sees them at ``model``'s input size:
    the source (``.test``, ``.num_test``) and its batches, the centre crop or §4.1's ten
    patches, less the run's mean (``config``: the run's; ``data_dir``, ``dataset``: if not
    where and what it trained on)."""
    from alexnet_tf import data

    side = int(model.input_shape[1])
    source = run_source(model, config, data_dir, dataset=dataset)
    view = data.eval_pipeline(
        source, batch_size, image_size=side, ten_crop=ten_crop,
        mean=config.get("mean", "channel"), cache_dir=str(workdir),
    )  # fmt: skip
    return source, view


def at_input_size(model, size: int | None):
    """``model`` rebuilt for ``size`` x ``size`` inputs with the same weights (``model``
    itself where ``size`` is None or already its input's).

    A CIFAR-10 model trained on §4.1's 28x28 crops can so be tested on the whole 32x32 image:
    both reach conv5's pooling as 4x4 maps, so fc6 sees inputs of the same shape.
    """
    from alexnet_tf.errors import UsageError

    if size is None or size == model.input_shape[1]:
        return model
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], size, size, shape[-1]]
    try:
        copy = model.__class__.from_config(config)
        copy.set_weights(model.get_weights())
    except ValueError:
        raise UsageError(
            f"{model.name} cannot take {size}x{size} images: its fully connected layers were "
            f"built for the feature maps of {model.input_shape[1]}x{model.input_shape[2]} inputs"
        ) from None
    return copy


def build_parser():
    p = cli.Parser(
        prog="python -m alexnet_tf.evaluate", description="Top-1/top-5 error of a trained AlexNet."
    )
    p.add_argument("--workdir", required=True, help="a training workdir")
    p.add_argument("--dataset", help="default: the one it was trained on")
    p.add_argument("--data-dir")
    p.add_argument("--checkpoint", help="a .keras file (default: WORKDIR/model.keras)")
    p.add_argument("--ten-crop", action="store_true", help="§4.1: average softmax over 10 crops")
    p.add_argument("--flip", action="store_true", help="average over each image and its mirror")
    p.add_argument(
        "--exact-prefix",
        action="store_true",
        help="CIFAR-10 from ../shared/data: the 1,017 bit-exact original test images against "
        "the same rows of the JPEG-rebuilt copy",
    )
    p.add_argument(
        "--image-size",
        type=int,
        help="test at this input size with the same weights (default: the size it trained at)",
    )
    p.add_argument(
        "--ensemble",
        nargs="+",
        metavar="WORKDIR",
        default=[],
        help="§6: average the softmax of these runs' models with --workdir's (written to "
        "WORKDIR/eval*_ensembleN.json, N models)",
    )
    p.add_argument("--batch-size", type=int, default=100)
    return p


def exact_prefix(
    model, data_dir: str | None, batch_size: int, mean: str = "channel", cache_dir=None
) -> dict:
    """Accuracy on the bit-exact original test images and on the same rows of the rebuilt copy:
    what the copy's JPEG loss costs (only ../shared/data has the exact images).

    ``mean="image"``: §2's mean image of the training set, read from (or computed into)
    ``cache_dir``, the run's workdir, as the run's own evaluation does."""
    import numpy as np
    import tensorflow as tf

    from alexnet_tf import augment, data, sources, statistics
    from alexnet_tf.errors import UsageError

    exact, labels, rows = sources.cifar10_exact_prefix(data_dir)
    if mean == "image":
        train = data.load_source("cifar10", data_dir)
        mean = statistics.source_mean(train, "image", 32, str(cache_dir) if cache_dir else None)
    # read_cifar_batch says in one line if test_batch is missing, wherever it looked first.
    folders = [d for d in sources._cifar_candidates(data_dir) if os.path.isdir(d)]
    test_batch = os.path.join(folders[0] if folders else data_dir or ".", "test_batch")
    rebuilt, rebuilt_labels = sources.read_cifar_batch(test_batch)
    if not np.array_equal(rebuilt_labels[rows], labels):
        raise UsageError("the exact-prefix labels differ from test_batch's: not the same images")
    out = {"images": int(len(labels))}
    size = model.input_shape[1]
    crop = size if size < exact.shape[1] else None  # a model trained on §4.1's crops

    def view(x, y):
        return augment.cifar_eval(x, mean=mean, crop=crop), y

    for name, images in (("exact", exact), ("rebuilt", rebuilt[rows])):
        ds = tf.data.Dataset.from_tensor_slices((images, labels)).map(view).batch(batch_size)
        out[name] = evaluate(model, ds)
    out["agreement_note"] = "same rows, same labels; only the pixels differ (JPEG loss)"
    return out


def run_evaluation(args) -> dict:
    from alexnet_tf import checkpoint, ensemble
    from alexnet_tf.errors import UsageError

    workdir = Path(args.workdir)
    if not workdir.is_dir():
        raise UsageError(f"workdir {workdir} does not exist")
    if args.batch_size <= 0:
        raise UsageError(f"batch size must be positive, got {args.batch_size}")
    model, config = load_trained(workdir, args.checkpoint)
    if args.image_size is not None and args.image_size <= 0:
        raise UsageError(f"image size must be positive, got {args.image_size}")
    model = at_input_size(model, args.image_size)
    ensemble_suffix, extra = "", {}
    if args.ensemble:  # §6
        model = ensemble.with_members(model, config, args.ensemble, args.image_size)
        ensemble_suffix, extra = f"_ensemble{len(args.ensemble) + 1}", {"ensemble": args.ensemble}
    dataset = args.dataset or config.get("dataset")
    if dataset is None:
        raise UsageError("--dataset is required: the workdir does not say what it was trained on")
    if args.exact_prefix:
        if dataset != "cifar10":
            raise UsageError("--exact-prefix is for models trained on cifar10")
        result = exact_prefix(
            model,
            args.data_dir or config.get("data_dir"),
            args.batch_size,
            config.get("mean", "channel"),
            cache_dir=workdir,
        )
        result.update(extra)
        out = workdir / f"eval_exact_prefix{ensemble_suffix}.json"
        checkpoint.write_json(out, result)
        e, r = result["exact"]["top1_error"], result["rebuilt"]["top1_error"]
        print(
            f"first {result['images']} test images: top-1 error {e:.4f} on the exact originals, "
            f"{r:.4f} on the rebuilt copy ({out})"
        )
        return result
    image_size = int(model.input_shape[1])
    _, ds = test_view(
        workdir, model, config, data_dir=args.data_dir, dataset=dataset,
        batch_size=args.batch_size, ten_crop=args.ten_crop,
    )  # fmt: skip
    result = {
        "dataset": dataset,
        "model": model.name,
        **extra,
        **evaluate(model, ds, ten_crop=args.ten_crop, flip=args.flip),
    }
    suffix = ("_ten_crop" if args.ten_crop else "") + ("_flip" if args.flip else "")
    suffix += (f"_size{image_size}" if args.image_size else "") + ensemble_suffix
    out = workdir / f"eval{suffix}.json"
    checkpoint.write_json(out, result)
    print(
        f"{'10-crop' if args.ten_crop else 'centre crop'}{' + flip' if args.flip else ''}"
        f"{f' of {len(args.ensemble) + 1} models averaged' if args.ensemble else ''} on "
        f"{result['images']} {dataset} images: "
        f"top-1 error {result['top1_error']:.4f}, top-5 error {result['top5_error']:.4f} ({out})"
    )
    return result


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run(lambda: run_evaluation(args))


if __name__ == "__main__":
    sys.exit(main())
