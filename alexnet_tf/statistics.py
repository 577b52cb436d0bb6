"""Training-set statistics (§2, §4.1): the mean image and the RGB PCA, computed once and cached."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf

from alexnet_tf.augment import (
    IMAGENET_EIGVAL,
    IMAGENET_EIGVEC,
    Mean,
    center_crop,
    resize_shorter_side,
    to_float,
)
from alexnet_tf.sources import Source

STATS_EXAMPLES = 10_000  # training images used to estimate the mean image / RGB PCA


def _rgb_moments(
    images: Iterable | np.ndarray | tf.data.Dataset,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Pixel count, sum [3] and sum of outer products [3, 3] (float64, [0, 1] scale)."""
    if isinstance(images, tf.data.Dataset):

        @tf.autograph.experimental.do_not_convert  # as data.py's pipeline functions
        def moments(*element):
            x = tf.reshape(tf.cast(to_float(element[0]), tf.float64), [-1, 3])
            return tf.cast(tf.shape(x)[0], tf.float64), tf.reduce_sum(x, 0), tf.matmul(x, x, True)

        zero = (
            tf.constant(0.0, tf.float64),
            tf.zeros([3], tf.float64),
            tf.zeros([3, 3], tf.float64),
        )
        add = tf.autograph.experimental.do_not_convert(
            lambda a, b: tuple(u + v for u, v in zip(a, b, strict=True))
        )
        total = images.map(moments, num_parallel_calls=tf.data.AUTOTUNE).reduce(zero, add)
        return float(total[0]), total[1].numpy(), total[2].numpy()
    if isinstance(images, np.ndarray):
        images = [images]
    n, s, ss = 0.0, np.zeros(3), np.zeros((3, 3))
    for img in images:
        img = np.asarray(img)
        x = img.reshape(-1, 3).astype(np.float64)
        if np.issubdtype(img.dtype, np.integer):
            x /= 255.0
        n, s, ss = n + x.shape[0], s + x.sum(0), ss + x.T @ x
    return n, s, ss


def compute_pca(images: Iterable | np.ndarray | tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """§4.1: PCA of the RGB covariance over all pixels of ``images`` (uint8 or [0, 1] float).

    Accepts an array [N, H, W, 3], an iterable of [H, W, 3] arrays, or a tf.data.Dataset of
    images or (image, label). Returns ``(eigvals [3] descending, eigvecs [3, 3])`` with the
    eigenvectors as columns, both float32.
    """
    n, s, ss = _rgb_moments(images)
    if n < 2:
        raise ValueError("compute_pca needs at least two pixels")
    mu = s / n
    cov = (ss - n * np.outer(mu, mu)) / (n - 1)
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1]
    return eigvals[order].astype(np.float32), eigvecs[:, order].astype(np.float32)


def _save_npz(path: str, **arrays: np.ndarray) -> None:
    """Write an .npz atomically (checkpoint.atomic_write: a crash never leaves half a cache,
    and the file gets the umask's permissions like every other file of the run)."""
    from alexnet_tf.checkpoint import atomic_write

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    atomic_write(path, write)


def _load_npz(path: str, *keys: str) -> tuple[np.ndarray, ...] | None:
    try:
        with np.load(path) as z:
            return tuple(np.asarray(z[k], np.float32) for k in keys)
    except (OSError, KeyError, ValueError, EOFError):
        return None  # missing or unreadable cache: recompute and overwrite


def load_or_compute_pca(
    cache_path: str, images_fn: Callable[[], Iterable]
) -> tuple[np.ndarray, np.ndarray]:
    """Read ``(eigvals, eigvecs)`` from the .npz ``cache_path``, else compute and save them."""
    cached = _load_npz(cache_path, "eigval", "eigvec")
    if cached is not None and cached[0].shape == (3,) and cached[1].shape == (3, 3):
        return cached[0], cached[1]
    eigval, eigvec = compute_pca(images_fn())
    _save_npz(cache_path, eigval=eigval, eigvec=eigvec)
    return eigval, eigvec


def compute_mean_image(
    images: Iterable | np.ndarray | tf.data.Dataset, size: int = 256
) -> np.ndarray:
    """§2: the average [size, size, 3] image in [0, 1] after resize_shorter_side + center_crop."""

    @tf.autograph.experimental.do_not_convert  # as data.py's pipeline functions
    def prep(*element):
        return tf.cast(center_crop(resize_shorter_side(element[0], size), size), tf.float64)

    if isinstance(images, tf.data.Dataset):
        zero = (tf.constant(0.0, tf.float64), tf.zeros([size, size, 3], tf.float64))
        n, total = images.map(prep, num_parallel_calls=tf.data.AUTOTUNE).reduce(
            zero, lambda a, x: (a[0] + 1, a[1] + x)
        )
    else:  # arrays and iterables of arrays (possibly of different sizes)
        n, total = 0, tf.zeros([size, size, 3], tf.float64)
        for image in images:
            n, total = n + 1, total + prep(image)
    if n == 0:
        raise ValueError("compute_mean_image needs at least one image")
    return (total / n).numpy().astype(np.float32)


def load_or_compute_mean_image(
    cache_path: str, images_fn: Callable[[], Iterable], size: int = 256
) -> np.ndarray:
    """Read the mean image from the .npz ``cache_path``, else compute and save it."""
    cached = _load_npz(cache_path, "mean")
    if cached is not None and cached[0].shape == (size, size, 3):
        return cached[0]
    mean = compute_mean_image(images_fn(), size)
    _save_npz(cache_path, mean=mean)
    return mean


def _stats_images(source: Source) -> tf.data.Dataset:
    """Up to STATS_EXAMPLES training images, in a seeded random order where that is cheap."""
    n = min(source.num_train, STATS_EXAMPLES)
    if source.lookup is None:
        return source.train.take(n)
    last = source.num_train - 1
    pick = tf.autograph.experimental.do_not_convert(  # as data.py's pipeline functions
        lambda i: source.lookup(tf.random.experimental.index_shuffle(i, [0, 0], last))
    )
    return tf.data.Dataset.range(n).map(pick, num_parallel_calls=tf.data.AUTOTUNE)


def _cache_path(cache_dir: str, source: Source, what: str) -> str:
    return os.path.join(cache_dir, f"{source.cache_key or source.name}_{what}.npz")


def source_mean(source: Source, mean: str, side: int, cache_dir: str | None) -> Mean:
    """§2: "channel"/"none" pass through; "image" becomes the training-set mean image."""
    if mean != "image":
        return mean
    if cache_dir:
        path = _cache_path(cache_dir, source, f"mean{side}")
        return load_or_compute_mean_image(path, lambda: _stats_images(source), side)
    return compute_mean_image(_stats_images(source), side)


def source_pca(source: Source, cache_dir: str | None) -> tuple[np.ndarray, np.ndarray]:
    """§4.1 RGB PCA: the published values for ImageNet 2012, else estimated from the train split."""
    if source.name == "imagenet2012":
        return np.array(IMAGENET_EIGVAL), np.array(IMAGENET_EIGVEC)
    if cache_dir:
        path = _cache_path(cache_dir, source, "pca")
        return load_or_compute_pca(path, lambda: _stats_images(source))
    return compute_pca(_stats_images(source))
