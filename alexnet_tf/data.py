"""Public data API: load a dataset Source and build seeded, augmented tf.data pipelines."""

from __future__ import annotations

import os
from collections.abc import Callable

import tensorflow as tf

from alexnet_tf import augment, statistics
from alexnet_tf.errors import UsageError
from alexnet_tf.folders import count_unreadable, find_unreadable, folder_files, folder_source
from alexnet_tf.sources import Source, cifar10_source, imagenet2012_source, synthetic_source

__all__ = [
    "DATASETS",
    "MEANS",
    "Source",
    "count_unreadable",
    "eval_pipeline",
    "find_unreadable",
    "folder_files",
    "load_source",
    "resolve_data_dir",
    "synthetic_source",
    "train_pipeline",
]

DATASETS = ("cifar10", "imagenet2012", "folder", "synthetic")
MEANS = ("channel", "image", "none")
AUTOTUNE = tf.data.AUTOTUNE


def resolve_data_dir(data_dir: str | None) -> str | None:
    """``data_dir`` if given, else $ALEXNET_DATA_DIR, else None (user-expanded)."""
    path = data_dir or os.environ.get("ALEXNET_DATA_DIR") or None
    return os.path.expanduser(path) if path else None


def load_source(
    dataset: str,
    data_dir: str | None = None,
    *,
    image_size: int | None = None,
    num_classes: int | None = None,
    num_examples: int | None = None,
    seed: int = 0,
    cache_dir: str | None = None,
) -> Source:
    """Open ``dataset`` (one of DATASETS); DataError, with a one-line fix, if data is missing.

    ``image_size`` and ``num_classes`` shape the synthetic data only (real datasets report their
    own). ``num_examples`` sets the synthetic train size (test: a quarter) and caps the train
    split of real datasets (a seeded random subset for folders). ``cache_dir`` keeps the list
    of a folder's undecodable files, so a resumed run does not decode every image again.
    """
    data_dir = resolve_data_dir(data_dir)
    if dataset == "cifar10":
        return cifar10_source(data_dir, num_examples)
    if dataset == "imagenet2012":
        return imagenet2012_source(data_dir, num_examples)
    if dataset == "folder":
        return folder_source(data_dir, num_examples, seed, cache_dir)
    if dataset == "synthetic":
        return synthetic_source(image_size, num_classes, num_examples, seed)
    raise UsageError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")


def _check(batch_size: int, image_size: int, mean: str) -> None:
    if batch_size < 1:
        raise UsageError(f"batch size must be positive, got {batch_size}")
    if image_size < 1:
        raise UsageError(f"image size must be positive, got {image_size}")
    if mean not in MEANS:
        raise UsageError(f"unknown mean {mean!r}: choose one of {', '.join(MEANS)}")


def _side(source: Source, image_size: int) -> int:
    """Size of the square image the crops come from: 32 for CIFAR, 256 (§2) for ImageNet."""
    if source.kind == "cifar":
        return source.train.element_spec[0].shape[0] or 32
    return max(256, image_size)


def _cifar_crop(source: Source, image_size: int) -> int | None:
    """§4.1 on CIFAR: a model smaller than the images takes crops of them (28 of 32 is 224 of
    256), not a resized image; larger models get the image resized (``_fit``)."""
    small = source.kind == "cifar" and image_size < _side(source, image_size)
    return image_size if small else None


def _fit(images: tf.Tensor, image_size: int) -> tf.Tensor:
    """Resize CIFAR-kind outputs when the model wants another input size than the data has."""
    if images.shape[-2] == image_size:
        return images
    return tf.image.resize(images, [image_size, image_size])


def _augmenter(
    source: Source,
    image_size: int,
    mean_v,
    pca,
    pca_lighting: bool,
    augment_: bool = True,
    cutout: int = 0,
) -> Callable:
    """(image, label, per-example seed[, flip]) -> (float32 view, int32 label): §4.1's training
    view (then a ``cutout`` square, if > 0), or with ``augment_=False`` the evaluation view."""

    crop = _cifar_crop(source, image_size)

    def augment_one(image, label, ex_seed, flip=None):
        if not augment_:
            if source.kind == "cifar":
                out = _fit(augment.cifar_eval(image, mean=mean_v, crop=crop), image_size)
            else:
                out = augment.imagenet_eval(image, crop=image_size, mean=mean_v)
        elif source.kind == "cifar":
            view = augment.cifar_train(image, ex_seed, pca=pca, mean=mean_v, crop=crop, flip=flip)
            out = _fit(view, image_size)
        else:
            out = augment.imagenet_train(
                image, ex_seed, crop=image_size, mean=mean_v, pca=pca, lighting=pca_lighting,
                flip=flip,
            )  # fmt: skip
        if cutout and augment_:
            out = augment.cutout(out, cutout, fold_in(ex_seed, 0xC07))
        return out, tf.cast(label, tf.int32)

    return augment_one


def fold_in(key: tf.Tensor, data) -> tf.Tensor:
    """A new [2] int64 stateless seed from ``key`` and an integer (epoch, position, ...)."""
    return tf.random.experimental.stateless_fold_in(key, tf.cast(data, tf.int64))


def _epoch_key(seed: int, epoch: tf.Tensor) -> tf.Tensor:
    """[2] int64: the key of epoch ``epoch``'s order; examples' seeds are folded from it."""
    return fold_in(tf.constant([seed, 0x5EED], tf.int64), epoch)


def train_pipeline(
    source: Source,
    batch_size: int,
    *,
    image_size: int,
    seed: int = 0,
    pca_lighting: bool = False,
    mean: str = "channel",
    cache_dir: str | None = None,
    augmentation: bool = True,
    cutout: int = 0,
    alternating_flip: bool = False,
    shuffle_buffer: int | None = None,
    steps_per_epoch: int | None = None,
    start: tuple[int, int] = (0, 0),
    shard: tuple[int, int] = (0, 1),
    replica_batch_size: int | None = None,
) -> tf.data.Dataset:
    """Infinite augmented training batches (float32 [b, S, S, 3], int32 [b]), a pure function of
    (seed, epoch, step).

    Epoch e visits the training set in a permutation seeded by (seed, e) and stops after
    ``steps_per_epoch`` global batches of ``batch_size`` (default: all full batches); each
    example's augmentation seed is folded from (seed, e, its position in the epoch). So every
    epoch is shuffled and augmented anew, and ``start=(epoch, step)`` yields exactly the batches
    an uninterrupted stream yields from there: the steps before it are skipped on indices,
    nothing skipped is read, decoded or augmented. ``shard=(i, n)`` makes this input pipeline
    ``i`` of ``n`` (one per worker): it gets slice ``i`` of every global batch, in batches of
    ``replica_batch_size`` (default ``batch_size // n``) for its local replicas.
    ``alternating_flip``: augment.alternating_flip's flips in place of random ones.
    """
    _check(batch_size, image_size, mean)
    index, shards = shard
    if batch_size % shards or not 0 <= index < shards:
        raise UsageError(f"batch size {batch_size} does not split into {shards} input pipelines")
    per_shard = batch_size // shards
    out_batch = replica_batch_size or per_shard
    if per_shard % out_batch:
        raise UsageError(f"a pipeline's {per_shard} examples do not split into {out_batch}s")
    steps = min(source.num_train // batch_size, steps_per_epoch or source.num_train)
    if steps < 1:
        raise UsageError(f"batch size {batch_size} exceeds the {source.num_train} training images")
    if alternating_flip and source.lookup is None:  # it follows each image by its index
        raise UsageError(f"alternating flips need random access to {source.name}'s images")
    side = _side(source, image_size)
    mean_v = statistics.source_mean(source, mean, side, cache_dir)
    pca = statistics.source_pca(source, cache_dir) if pca_lighting else None
    augment_one = _augmenter(source, image_size, mean_v, pca, pca_lighting, augmentation, cutout)
    epoch0, step0 = start
    if source.lookup is not None:
        last = source.num_train - 1

        # The pipelines' functions are traced as written, not through AutoGraph: they have no
        # Python control flow on tensors, and converting them cost ~1 s of every run's start.
        @tf.autograph.experimental.do_not_convert
        def example(q: tf.Tensor):
            # q counts this pipeline's examples; (epoch, step, k) -> position in the epoch.
            t, k = q // per_shard, q % per_shard
            epoch, step = t // steps, t % steps
            pos = step * batch_size + index * per_shard + k
            key = _epoch_key(seed, epoch)
            i = tf.random.experimental.index_shuffle(pos, key, last)
            image, label = source.lookup(i)
            flip = augment.alternating_flip(i, epoch, seed) if alternating_flip else None
            return augment_one(image, label, fold_in(key, pos), flip)

        q0 = (epoch0 * steps + step0) * per_shard
        ds = tf.data.Dataset.counter(q0).map(example, num_parallel_calls=AUTOTUNE)
    else:  # no random access: seeded permutations of windows of records, skipping raw records
        raw = source.raw_train if source.raw_train is not None else source.train
        default = (
            10_000 if source.raw_train is not None else 50_000 if source.kind == "cifar" else 1_000
        )
        window = shuffle_buffer or max(1, min(source.num_train, default))
        decode = source.decode or (lambda x, y: (x, y))

        def epoch_stream(epoch: tf.Tensor) -> tf.data.Dataset:
            key = _epoch_key(seed, epoch)
            skip = tf.where(epoch == epoch0, tf.constant(step0 * batch_size, tf.int64), 0)

            def permute(w, records):  # stateless: Dataset.shuffle takes no per-epoch tensor seed
                noise = tf.random.stateless_uniform(tf.shape(records[0])[:1], fold_in(key, w))
                return tuple(tf.gather(r, tf.argsort(noise)) for r in records)

            ds = raw.batch(window).enumerate().map(permute).unbatch()
            ds = ds.take(steps * batch_size).skip(skip).enumerate(skip)
            mine = lambda pos, _: (pos % batch_size) // per_shard == index
            return ds.filter(mine).map(lambda pos, x: (key, pos, x))

        @tf.autograph.experimental.do_not_convert
        def example(key, pos, x):
            image, label = decode(*x)
            return augment_one(image, label, fold_in(key, pos))

        epochs = tf.data.Dataset.counter(epoch0)
        ds = epochs.flat_map(epoch_stream).map(example, num_parallel_calls=AUTOTUNE)
    return ds.batch(out_batch, drop_remainder=True).prefetch(AUTOTUNE)


def eval_pipeline(
    source: Source,
    batch_size: int,
    *,
    image_size: int,
    ten_crop: bool = False,
    mean: str = "channel",
    cache_dir: str | None = None,
) -> tf.data.Dataset:
    """One pass over ``source.test``, remainder kept: centre crop (float32 [B, S, S, 3], int32 [B])
    or, with ``ten_crop`` (§4.1), float32 [B, 10, S, S, 3]."""
    _check(batch_size, image_size, mean)
    mean_v = statistics.source_mean(source, mean, _side(source, image_size), cache_dir)

    crop = _cifar_crop(source, image_size)

    @tf.autograph.experimental.do_not_convert  # as the training pipeline's
    def view(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        if source.kind == "cifar":
            fn = augment.cifar_ten_crop if ten_crop else augment.cifar_eval
            out = _fit(fn(image, mean=mean_v, crop=crop), image_size)
        else:
            fn = augment.imagenet_ten_crop if ten_crop else augment.imagenet_eval
            out = fn(image, crop=image_size, mean=mean_v)
        return out, tf.cast(label, tf.int32)

    ds = source.test.map(view, num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).prefetch(AUTOTUNE)
