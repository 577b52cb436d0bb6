"""Public data API: load a dataset Source and build seeded, augmented tf.data pipelines."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from alexnet_tf import augment
from alexnet_tf.errors import UsageError
from alexnet_tf.sources import (
    Source,
    cifar10_source,
    count_unreadable,
    find_unreadable,
    folder_files,
    folder_source,
    imagenet2012_source,
)

__all__ = [
    "DATASETS",
    "MEANS",
    "STATS_EXAMPLES",
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
STATS_EXAMPLES = 10_000  # training images used to estimate the mean image / RGB PCA
AUTOTUNE = tf.data.AUTOTUNE


def resolve_data_dir(data_dir: str | None) -> str | None:
    """``data_dir`` if given, else $ALEXNET_DATA_DIR, else None (user-expanded)."""
    path = data_dir or os.environ.get("ALEXNET_DATA_DIR") or None
    return os.path.expanduser(path) if path else None


def synthetic_source(
    image_size: int | None = None,
    num_classes: int | None = None,
    num_examples: int | None = None,
    seed: int = 0,
) -> Source:
    """Deterministic random images generated from (seed, index); each class has its own tint."""
    kind = "cifar" if image_size is None or image_size <= 64 else "imagenet"
    side = 32 if kind == "cifar" else max(256, image_size or 0)
    classes = num_classes or (10 if kind == "cifar" else 1000)
    num_train = num_examples or 1024
    num_test = max(1, num_examples // 4) if num_examples else 256

    def make(split_id: int) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
        base = tf.constant([seed, split_id], tf.int64)
        tint_key = tf.constant([seed, 7919], tf.int64)

        def example(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            s = tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(base, i), 2
            )
            label = tf.random.stateless_uniform([], s[0], 0, classes, dtype=tf.int32)
            tint_seed = tf.random.experimental.stateless_fold_in(tint_key, tf.cast(label, tf.int64))
            tint = tf.random.stateless_uniform([3], tint_seed)
            noise = tf.random.stateless_uniform([side, side, 3], s[1])
            image = tf.image.convert_image_dtype(0.5 * tint + 0.5 * noise, tf.uint8, saturate=True)
            return image, label

        return example

    def split(n: int, split_id: int) -> tf.data.Dataset:
        return tf.data.Dataset.range(n).map(make(split_id), num_parallel_calls=tf.data.AUTOTUNE)

    def shuffled(seed_: int, buffer: int | None) -> tf.data.Dataset:
        del buffer  # indices are shuffled in full, images generated afterwards
        ds = tf.data.Dataset.range(num_train).shuffle(num_train, seed_, True).repeat()
        return ds.map(make(0), num_parallel_calls=tf.data.AUTOTUNE)

    return Source(
        "synthetic", kind, split(num_train, 0), split(num_test, 1), num_train, num_test, classes,
        [f"class_{i:04d}" for i in range(classes)], shuffled_train=shuffled,
        cache_key=f"synthetic-{kind}{side}-{seed}-{num_train}-{classes}",
    )  # fmt: skip


def load_source(
    dataset: str,
    data_dir: str | None = None,
    *,
    image_size: int | None = None,
    num_classes: int | None = None,
    num_examples: int | None = None,
    seed: int = 0,
) -> Source:
    """Open ``dataset`` (one of DATASETS); DataError, with a one-line fix, if data is missing.

    ``image_size`` and ``num_classes`` shape the synthetic data only (real datasets report their
    own). ``num_examples`` sets the synthetic train size (test: a quarter) and caps the train
    split of real datasets (a seeded random subset for folders).
    """
    data_dir = resolve_data_dir(data_dir)
    if dataset == "cifar10":
        return cifar10_source(data_dir, num_examples)
    if dataset == "imagenet2012":
        return imagenet2012_source(data_dir, num_examples)
    if dataset == "folder":
        return folder_source(data_dir, num_examples, seed)
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


def _stats_images(source: Source) -> tf.data.Dataset:
    """Up to STATS_EXAMPLES training images, in a seeded random order where that is cheap."""
    n = min(source.num_train, STATS_EXAMPLES)
    ds = source.shuffled_train(0, None) if source.shuffled_train else source.train
    return ds.take(n)


def _cache_path(cache_dir: str, source: Source, what: str) -> str:
    return os.path.join(cache_dir, f"{source.cache_key or source.name}_{what}.npz")


def _resolve_mean(source: Source, mean: str, side: int, cache_dir: str | None) -> augment.Mean:
    """§2: "channel"/"none" pass through; "image" becomes the training-set mean image."""
    if mean != "image":
        return mean
    if cache_dir:
        path = _cache_path(cache_dir, source, f"mean{side}")
        return augment.load_or_compute_mean_image(path, lambda: _stats_images(source), side)
    return augment.compute_mean_image(_stats_images(source), side)


def _resolve_pca(source: Source, cache_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """§4.1 RGB PCA: the published values for ImageNet 2012, else estimated from the train split."""
    if source.name == "imagenet2012":
        return np.array(augment.IMAGENET_EIGVAL), np.array(augment.IMAGENET_EIGVEC)
    if cache_dir:
        path = _cache_path(cache_dir, source, "pca")
        return augment.load_or_compute_pca(path, lambda: _stats_images(source))
    return augment.compute_pca(_stats_images(source))


def _fit(images: tf.Tensor, image_size: int) -> tf.Tensor:
    """Resize CIFAR-kind outputs when the model wants another input size than the data has."""
    if images.shape[-2] == image_size:
        return images
    return tf.image.resize(images, [image_size, image_size])


def train_pipeline(
    source: Source,
    batch_size: int,
    *,
    image_size: int,
    seed: int = 0,
    pca_lighting: bool = False,
    mean: str = "channel",
    cache_dir: str | None = None,
    shuffle_buffer: int | None = None,
) -> tf.data.Dataset:
    """Infinite, seeded, augmented training batches (float32 [B, S, S, 3], int32 [B]).

    Shuffled and reshuffled every epoch; each example's augmentation seed is (seed, running
    index), so the stream is reproducible under ``seed`` and differs between epochs.
    """
    _check(batch_size, image_size, mean)
    side = _side(source, image_size)
    mean_v = _resolve_mean(source, mean, side, cache_dir)
    pca = _resolve_pca(source, cache_dir) if pca_lighting else None
    if source.shuffled_train is not None:
        ds = source.shuffled_train(seed, shuffle_buffer)
    else:
        default = 50_000 if source.kind == "cifar" else 1_000
        buffer = shuffle_buffer or max(1, min(source.num_train, default))
        ds = source.train.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    key = tf.constant(seed, tf.int64)

    def augment_one(index: tf.Tensor, example: tuple) -> tuple[tf.Tensor, tf.Tensor]:
        image, label = example
        ex_seed = tf.stack([key, index])  # per-example stateless seed
        if source.kind == "cifar":
            out = _fit(augment.cifar_train(image, ex_seed, pca=pca, mean=mean_v), image_size)
        else:
            out = augment.imagenet_train(
                image, ex_seed, crop=image_size, mean=mean_v, pca=pca, lighting=pca_lighting
            )
        return out, tf.cast(label, tf.int32)

    ds = ds.enumerate().map(augment_one, num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(AUTOTUNE)


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
    mean_v = _resolve_mean(source, mean, _side(source, image_size), cache_dir)

    def view(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        if source.kind == "cifar":
            fn = augment.cifar_ten_crop if ten_crop else augment.cifar_eval
            out = _fit(fn(image, mean=mean_v), image_size)
        else:
            fn = augment.imagenet_ten_crop if ten_crop else augment.imagenet_eval
            out = fn(image, crop=image_size, mean=mean_v)
        return out, tf.cast(label, tf.int32)

    ds = source.test.map(view, num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).prefetch(AUTOTUNE)
