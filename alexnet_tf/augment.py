"""Pure tensor augmentations and normalisation for AlexNet (paper §2 and §4.1), tf.data-friendly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# §4.1: the published eigen-decomposition of the ImageNet RGB covariance for [0, 1] pixels.
IMAGENET_EIGVAL = (0.2175, 0.0188, 0.0045)
IMAGENET_EIGVEC = (
    (-0.5675, 0.7192, 0.4009),
    (-0.5808, -0.0045, -0.8140),
    (-0.5836, -0.6948, 0.4203),
)

Mean = str | np.ndarray  # "channel" (per-channel), "none", or a mean image [H, W, 3]


def to_float(image: tf.Tensor) -> tf.Tensor:
    """Return ``image`` as float32 in [0, 1] (uint8 is divided by 255, floats pass through)."""
    image = tf.convert_to_tensor(image)
    if image.dtype == tf.uint8:
        return tf.image.convert_image_dtype(image, tf.float32)
    return tf.cast(image, tf.float32)


def resize_shorter_side(image: tf.Tensor, size: int = 256) -> tf.Tensor:
    """Resize (bilinear, antialiased) so the shorter side is ``size``, keeping the aspect ratio."""
    image = to_float(image)
    shape = tf.shape(image)
    h, w = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    scale = size / tf.minimum(h, w)
    new_h = tf.maximum(size, tf.cast(tf.round(h * scale), tf.int32))
    new_w = tf.maximum(size, tf.cast(tf.round(w * scale), tf.int32))
    return tf.image.resize(image, tf.stack([new_h, new_w]), antialias=True)


def _crop(image: tf.Tensor, top: tf.Tensor, left: tf.Tensor, size: int | tf.Tensor) -> tf.Tensor:
    out = image[top : top + size, left : left + size, :]
    if isinstance(size, tf.Tensor):  # a side known only when the graph runs
        return out
    return tf.ensure_shape(out, [size, size, image.shape[-1]])


def center_crop(image: tf.Tensor, size: int | tf.Tensor) -> tf.Tensor:
    """Crop the central ``size`` x ``size`` patch (the image must be at least that large;
    ``size`` may be a scalar tensor, e.g. the shorter side: the central square)."""
    shape = tf.shape(image)
    return _crop(image, (shape[0] - size) // 2, (shape[1] - size) // 2, size)


def random_crop(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """§4.1: a random ``size`` x ``size`` patch, deterministic under ``seed`` ([2] int)."""
    channels = tf.shape(image)[-1]
    out = tf.image.stateless_random_crop(image, tf.stack([size, size, channels]), seed=seed)
    return tf.ensure_shape(out, [size, size, image.shape[-1]])


def random_flip(image: tf.Tensor, seed: tf.Tensor, flip: tf.Tensor | None = None) -> tf.Tensor:
    """§4.1: horizontal reflection with probability 1/2, deterministic under ``seed``; or, given
    ``flip`` (a bool scalar), exactly when it is true (``alternating_flip``)."""
    if flip is None:
        return tf.image.stateless_random_flip_left_right(image, seed=seed)
    return tf.where(flip, tf.reverse(image, axis=[-2]), image)


def alternating_flip(index: tf.Tensor, epoch: tf.Tensor, seed: int) -> tf.Tensor:
    """Whether training example ``index`` is mirrored in ``epoch`` under "alternating flip"
    (Jordan 2024, arXiv:2404.00498; not §4.1): with probability 1/2 in epoch 0 (seeded by
    ``seed`` and the example), then the other way in each following epoch, so every two
    epochs show each image once as it is and once mirrored (random flips repeat a view half
    the time)."""
    key = tf.random.experimental.stateless_fold_in(
        tf.constant([seed, 0xF11B], tf.int64), tf.cast(index, tf.int64)
    )
    first = tf.random.stateless_uniform([], key) < 0.5
    return tf.not_equal(first, tf.equal(tf.cast(epoch, tf.int64) % 2, 1))


def pad_and_random_crop(image: tf.Tensor, pad: int, seed: tf.Tensor) -> tf.Tensor:
    """Zero-pad by ``pad`` on every side, then randomly crop back to the original size."""
    shape = tf.shape(image)
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    out = tf.image.stateless_random_crop(padded, shape, seed=seed)
    return tf.ensure_shape(out, image.shape)


def cutout(image: tf.Tensor, size: int, seed: tf.Tensor) -> tf.Tensor:
    """Zero a ``size`` x ``size`` square centred anywhere in the image, clipped at its edges.

    Not in the paper: DeVries & Taylor 2017 (arXiv:1708.04552), 16x16 on CIFAR-10. Applied
    after normalisation, so the square holds the mean colour.
    """
    h, w = tf.shape(image)[0], tf.shape(image)[1]
    centre = tf.random.stateless_uniform([2], seed, 0, tf.int32.max, tf.int32) % tf.stack([h, w])
    top, left = centre[0] - size // 2, centre[1] - size // 2
    rows = tf.range(h)[:, None]
    cols = tf.range(w)[None, :]
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return image * tf.cast(~inside, image.dtype)[..., None]


def ten_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    """§4.1 test time: [10, size, size, C] patches.

    Order: top-left, top-right, bottom-left, bottom-right, centre, then the horizontal
    reflections of those five patches in the same order.
    """
    shape = tf.shape(image)
    h, w = shape[0], shape[1]
    corners = [(0, 0), (0, w - size), (h - size, 0), (h - size, w - size)]
    crops = [_crop(image, t, left, size) for t, left in corners] + [center_crop(image, size)]
    five = tf.stack(crops)
    return tf.concat([five, tf.reverse(five, axis=[2])], axis=0)


def pca_lighting(
    image: tf.Tensor,
    seed: tf.Tensor,
    eigval: Sequence[float] | np.ndarray = IMAGENET_EIGVAL,
    eigvec: Sequence[Sequence[float]] | np.ndarray = IMAGENET_EIGVEC,
    std: float = 0.1,
) -> tf.Tensor:
    """§4.1: add ``eigvec @ (alpha * eigval)``, alpha ~ N(0, std) per image, to every pixel."""
    image = to_float(image)
    alpha = tf.random.stateless_normal([3], seed=seed, stddev=std)
    delta = tf.linalg.matvec(
        tf.constant(eigvec, tf.float32), alpha * tf.constant(eigval, tf.float32)
    )
    return image + delta


def normalize(
    image: tf.Tensor, mean: Sequence[float] | np.ndarray, std: Sequence[float] | None = None
) -> tf.Tensor:
    """Subtract ``mean`` (per channel [3] or a mean image [H, W, 3]); divide by ``std`` if given."""
    image = to_float(image) - tf.constant(mean, tf.float32)
    if std is not None:
        image = image / tf.constant(std, tf.float32)
    return image


def _is_mean_image(mean: Mean) -> bool:
    return not isinstance(mean, str)


def _standardize(image: tf.Tensor, mean: Mean, channel_mean, channel_std) -> tf.Tensor:
    """§2 mean subtraction: "channel" standardises per channel, "none" leaves [0, 1] pixels."""
    if _is_mean_image(mean):
        return image  # the mean image was subtracted before cropping
    if mean == "channel":
        return normalize(image, channel_mean, channel_std)
    if mean == "none":
        return image
    raise ValueError(f"mean must be 'channel', 'none' or a mean image array, got {mean!r}")


def _sub_mean_image(image: tf.Tensor, mean: Mean) -> tf.Tensor:
    return normalize(image, mean) if _is_mean_image(mean) else to_float(image)


def cifar_train(
    image_uint8: tf.Tensor,
    seed: tf.Tensor,
    *,
    pca=None,
    mean: Mean = "channel",
    crop: int | None = None,
    flip: tf.Tensor | None = None,
) -> tf.Tensor:
    """CIFAR training view: pad 4 + random crop back (or, with ``crop``, §4.1's random
    ``crop`` x ``crop`` patch, no padding) + flip (random, or as ``flip`` says) (+ PCA
    lighting) + normalise."""
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    image = _sub_mean_image(image_uint8, mean)
    if crop:  # §4.1: "extracting random 224x224 patches ... from the 256x256 images"
        image = random_crop(image, crop, s[0])
    else:
        image = pad_and_random_crop(image, 4, s[0])
    image = random_flip(image, s[1], flip)
    if pca is not None:
        image = pca_lighting(image, s[2], pca[0], pca[1])
    return _standardize(image, mean, CIFAR10_MEAN, CIFAR10_STD)


def cifar_eval(
    image_uint8: tf.Tensor, *, mean: Mean = "channel", crop: int | None = None
) -> tf.Tensor:
    """CIFAR evaluation view: the whole 32x32 image (or its centre ``crop`` patch), normalised."""
    image = _sub_mean_image(image_uint8, mean)
    if crop:
        image = center_crop(image, crop)
    return _standardize(image, mean, CIFAR10_MEAN, CIFAR10_STD)


def cifar_ten_crop(
    image_uint8: tf.Tensor, *, mean: Mean = "channel", crop: int | None = None
) -> tf.Tensor:
    """CIFAR ten-crop view [10, S, S, 3]: pad 2 on each side, then ten_crop of 32 (or, with
    ``crop``, §4.1's ten patches exactly: corners and centre of the 32x32 image, mirrored)."""
    image = _sub_mean_image(image_uint8, mean)
    if crop:
        crops = ten_crop(image, crop)
    else:
        crops = ten_crop(tf.pad(image, [[2, 2], [2, 2], [0, 0]]), image.shape[0] or 32)
    return _standardize(crops, mean, CIFAR10_MEAN, CIFAR10_STD)


def _imagenet_base(image_uint8: tf.Tensor, crop: int, resize: int, mean: Mean) -> tf.Tensor:
    """§2: shorter side to 256, the central 256x256 patch, minus the mean image if given."""
    side = max(resize, crop)
    return _sub_mean_image(center_crop(resize_shorter_side(image_uint8, side), side), mean)


def imagenet_train(
    image_uint8: tf.Tensor,
    seed: tf.Tensor,
    *,
    crop: int = 227,
    mean: Mean = "channel",
    pca: tuple | None = None,
    lighting: bool = True,
    resize: int = 256,
    flip: tf.Tensor | None = None,
) -> tf.Tensor:
    """ImageNet training view [crop, crop, 3]: §4.1 random crop + flip + PCA lighting, §2 mean.

    ``pca`` = (eigval, eigvec), None for the published ImageNet values; ``lighting=False`` skips it.
    ``flip``: mirror exactly when true, in place of a random flip.
    """
    s = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    image = random_crop(_imagenet_base(image_uint8, crop, resize, mean), crop, s[0])
    image = random_flip(image, s[1], flip)
    if lighting:
        eigval, eigvec = pca if pca is not None else (IMAGENET_EIGVAL, IMAGENET_EIGVEC)
        image = pca_lighting(image, s[2], eigval, eigvec)
    return _standardize(image, mean, IMAGENET_MEAN, IMAGENET_STD)


def imagenet_eval(
    image_uint8: tf.Tensor, *, crop: int = 227, mean: Mean = "channel", resize: int = 256
) -> tf.Tensor:
    """ImageNet evaluation view: the centre ``crop`` x ``crop`` patch of the 256x256 image."""
    image = center_crop(_imagenet_base(image_uint8, crop, resize, mean), crop)
    return _standardize(image, mean, IMAGENET_MEAN, IMAGENET_STD)


def imagenet_ten_crop(
    image_uint8: tf.Tensor, *, crop: int = 227, mean: Mean = "channel", resize: int = 256
) -> tf.Tensor:
    """§4.1 test time: [10, crop, crop, 3], the ten_crop patches of the 256x256 image."""
    crops = ten_crop(_imagenet_base(image_uint8, crop, resize, mean), crop)
    return _standardize(crops, mean, IMAGENET_MEAN, IMAGENET_STD)
