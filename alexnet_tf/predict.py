"""Classify image files with a trained model: ``python -m alexnet_tf.predict --workdir W IMG``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from alexnet_tf import cli


def class_names(metrics: dict, config: dict, num_classes: int) -> list[str]:
    """The trained classes' names: the run's metrics.json's (recorded by train), else the
    dataset's own (CIFAR-10's ten, an image folder's train/ subfolders), else ``class_0``, ..."""
    from alexnet_tf import sources
    from alexnet_tf.errors import UsageError
    from alexnet_tf.folders import folder_files

    names = metrics.get("class_names")
    if names is None and config.get("dataset") == "cifar10":
        names = sources.CIFAR10_CLASSES
    if names is None and config.get("dataset") == "folder" and config.get("data_dir"):
        try:
            names = folder_files(config["data_dir"])["train"][2]
        except UsageError:  # the folder moved: numbered classes still say something
            names = None
    if names is None or len(names) != num_classes:
        names = [f"class_{i}" for i in range(num_classes)]
    return list(names)


def read_image(path: str):
    """uint8 [H, W, 3] from a JPEG, PNG, GIF or BMP file (grayscale and RGBA become RGB);
    UsageError for a missing file, DataError for one TensorFlow cannot decode."""
    import tensorflow as tf

    from alexnet_tf import sources
    from alexnet_tf.errors import DataError, UsageError

    if not Path(path).is_file():
        raise UsageError(f"no image file {path}")
    try:
        image = sources._decode(tf.io.read_file(path))  # as the training pipeline decodes
    except tf.errors.OpError:
        raise DataError(
            f"{path} is not an image TensorFlow can decode (JPEG, PNG, GIF, BMP)"
        ) from None
    return image


def as_cifar(image):
    """A photo as CIFAR-10 holds one: its central square, resized (antialiased) to 32x32.
    (Graph ops: the prediction pipeline maps it over the files.)"""
    import tensorflow as tf

    from alexnet_tf import augment

    side = tf.reduce_min(tf.shape(image)[:2])
    square = augment.center_crop(image, side)

    def resized():
        out = tf.image.resize(tf.cast(square, tf.float32), [32, 32], antialias=True)
        return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)

    return tf.ensure_shape(tf.cond(side == 32, lambda: square, resized), [32, 32, 3])


def classify(workdir, paths, **options):
    """(class names, softmax [N, classes]) of the trained model in ``workdir`` on the image
    files ``paths``; ``options`` as ``classify_batches``'."""
    import numpy as np

    names, batches = classify_batches(workdir, paths, **options)
    return names, np.concatenate(list(batches))


def classify_batches(
    workdir, paths, *, batch_size=64, ten_crop=False, flip=False, data_dir=None, checkpoint=None
):
    """(class names, an iterator of softmax [n, classes] for each ``batch_size`` files in
    turn) of the trained model in ``workdir``, through the evaluation view its training run
    used (data.eval_pipeline: the centre crop, or §4.1's ten patches; its mean subtraction).

    The workdir and every file's existence are checked first; a file is decoded when its
    batch comes, so memory holds one batch of photos, not all of them.
    """
    import numpy as np
    import tensorflow as tf

    from alexnet_tf import data, distribute
    from alexnet_tf.errors import UsageError
    from alexnet_tf.evaluate import load_trained, probabilities, run_source
    from alexnet_tf.sources import Source, synthetic_kind

    workdir = Path(workdir)
    if not workdir.is_dir():
        raise UsageError(f"workdir {workdir} does not exist")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be positive, got {batch_size}")
    if missing := [p for p in paths if not Path(p).is_file()]:
        raise UsageError(f"no image file {missing[0]}")
    model, config = load_trained(workdir, checkpoint)
    path = workdir / "metrics.json"
    metrics = json.loads(path.read_text()) if path.exists() else {}
    config = {**config, **metrics.get("config", {})}  # a finished run's (checkpoints pruned)
    size, num_classes = int(model.input_shape[1]), int(model.output_shape[-1])
    dataset = config.get("dataset")  # the kind of images data.load_source gave the run
    kind = {"cifar10": "cifar", "synthetic": synthetic_kind(size)}.get(dataset, "imagenet")
    spec = tf.TensorSpec([None, None, 3], tf.uint8)
    mean, train = config.get("mean", "channel"), None
    if mean == "image":  # §2's mean image of the training set, from the run's cache file
        train = run_source(model, config, data_dir)

    # One traced function for every batch (the last one's size too), not the model run eagerly.
    softmax = distribute.per_run_function(
        lambda x: probabilities(model, x, ten_crop=ten_crop, flip=flip),
        autograph=False, reduce_retracing=True,
    )  # fmt: skip

    # One pipeline for every chunk of files (each pass reads the chunk of the moment): building
    # it took longer than classifying 64 images with the CIFAR network.
    chunk_images = []
    files = tf.data.Dataset.from_generator(
        lambda: ((i, 0) for i in chunk_images), output_signature=(spec, tf.TensorSpec([], tf.int32))
    )
    if kind == "cifar":
        files = files.map(lambda x, y: (as_cifar(x), y))
    # num_test bounds a chunk (at most batch_size files); num_train is unused at test time
    mine = Source("files", kind, files, files, 1, batch_size, num_classes, [])
    if train is not None:
        mine.name, mine.cache_key, mine.train = train.name, train.cache_key, train.train
    ds = data.eval_pipeline(
        mine, batch_size, image_size=size, ten_crop=ten_crop, mean=mean, cache_dir=str(workdir)
    )

    def batch_probabilities(chunk) -> np.ndarray:
        chunk_images[:] = [read_image(str(p)) for p in chunk]  # errors here: one line each
        return np.concatenate([softmax(x).numpy() for x, _ in ds])

    chunks = (paths[i : i + batch_size] for i in range(0, len(paths), batch_size))
    return class_names(metrics, config, num_classes), map(batch_probabilities, chunks)


def build_parser():
    p = cli.Parser(
        prog="python -m alexnet_tf.predict",
        description="The top classes of a trained AlexNet for each image file.",
    )
    p.add_argument("images", nargs="+", help="JPEG, PNG, GIF or BMP files")
    p.add_argument("--workdir", required=True, help="a training workdir")
    p.add_argument("--checkpoint", help="a .keras file (default: WORKDIR/model.keras)")
    p.add_argument("--data-dir", help="with --mean image runs: where the training set is")
    p.add_argument("--top", type=int, default=5, help="classes shown per image (default 5)")
    p.add_argument("--ten-crop", action="store_true", help="§4.1: average softmax over 10 crops")
    p.add_argument("--flip", action="store_true", help="average over each image and its mirror")
    p.add_argument("--batch-size", type=int, default=64, help="files decoded at a time (64)")
    return p


def run_prediction(args) -> list[list[tuple[str, float]]]:
    from alexnet_tf.errors import UsageError

    if args.top < 1:
        raise UsageError(f"--top must be positive, got {args.top}")
    names, batches = classify_batches(
        args.workdir, args.images, batch_size=args.batch_size, ten_crop=args.ten_crop,
        flip=args.flip, data_dir=args.data_dir, checkpoint=args.checkpoint,
    )  # fmt: skip
    out, paths = [], iter(args.images)
    for probs in batches:  # printed as each batch is classified
        for p, path in zip(probs, paths, strict=False):  # probs first: no path is skipped
            top = [(names[k], float(p[k])) for k in p.argsort()[::-1][: args.top]]
            print(f"{path}: " + ", ".join(f"{name} {q:.3f}" for name, q in top), flush=True)
            out.append(top)
    return out


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run(lambda: run_prediction(args))


if __name__ == "__main__":
    sys.exit(main())
