"""Patch-whitening conv1 (airbench; Jordan 2024): its filters from the PCA of training patches."""

from __future__ import annotations

import numpy as np

EPS = 5e-4  # airbench's: added to each eigenvalue before its inverse square root
BATCHES = 4  # training batches whose patches estimate the covariance (512 images at batch 128)
MAX_VALUES = 30_000_000  # patches x patch size kept for the estimate (~240 MB in float64)


def patches(images: np.ndarray, kernel: int, max_values: int = MAX_VALUES) -> np.ndarray:
    """The ``kernel`` x ``kernel`` patches of ``images`` (N, H, W, C), each flattened in a
    convolution kernel's (row, column, channel) order: (P, kernel * kernel * C).

    Every position when they fit in ``max_values`` numbers, else a regular grid of positions.
    """
    n, h, w, ch = images.shape
    if kernel > min(h, w):
        raise ValueError(f"{kernel}x{kernel} patches do not fit {h}x{w} images")
    views = np.lib.stride_tricks.sliding_window_view(images, (kernel, kernel), axis=(1, 2))
    size = kernel * kernel * ch
    step = max(
        1, int(np.ceil(np.sqrt(n * (h - kernel + 1) * (w - kernel + 1) * size / max_values)))
    )
    views = views[:, ::step, ::step]  # (N, H', W', C, kernel, kernel)
    return views.transpose(0, 1, 2, 4, 5, 3).reshape(-1, size)


def whitening_filters(
    images: np.ndarray, kernel: int, filters: int, eps: float = EPS
) -> tuple[np.ndarray, np.ndarray]:
    """Filters that whiten ``images``' patches, and the biases that centre them.

    The covariance's top ``filters // 2`` eigenvectors (at most one per patch dimension), each
    scaled by 1 / sqrt(eigenvalue + eps), and each followed by its negative: a ReLU after
    keeps both halves of every direction. Eigenvectors 0, 2, 4, ... come first and 1, 3, 5, ...
    second, so that with §3.2's two towers each tower's conv2 sees both signs of half the
    directions, low and high frequencies alike. Returns ``(kernel, kernel, C, 2k)`` weights
    and ``(2k,)`` biases (minus each filter's response to the mean patch); ``2k`` can be
    fewer than ``filters`` when the patches have fewer than ``filters // 2`` dimensions.
    """
    x = patches(np.asarray(images, np.float64), kernel)
    mean = x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(x, rowvar=False))  # ascending eigenvalues
    k = min(filters // 2, x.shape[1])
    top = np.argsort(values)[::-1][:k]
    scaled = vectors[:, top] / np.sqrt(np.maximum(values[top], 0.0) + eps)
    order = sorted(range(k), key=lambda i: (i % 2, i))
    columns = np.stack([s * scaled[:, i] for i in order for s in (1.0, -1.0)], axis=1)
    weights = columns.reshape(kernel, kernel, images.shape[-1], 2 * k)
    return weights.astype(np.float32), (-mean @ columns).astype(np.float32)


def whiten_conv1(model, batches, eps: float = EPS) -> int:
    """Set ``model``'s conv1 to whiten the patches of ``batches`` (``(images, labels)``, as
    conv1 sees them in training): :func:`whitening_filters` in its first filters, the rest
    kept as initialised. Returns how many filters it set."""
    images = np.concatenate([np.asarray(x, np.float32) for x, _ in batches])
    layer = model.get_layer("conv1")
    kernel, filters = layer.kernel.shape[0], layer.kernel.shape[-1]
    weights, biases = whitening_filters(images, kernel, filters, eps)
    n = weights.shape[-1]
    current = np.array(layer.kernel.numpy())
    current[..., :n] = weights
    layer.kernel.assign(current)
    if layer.use_bias:
        bias = np.array(layer.bias.numpy())
        bias[:n] = biases
        layer.bias.assign(bias)
    return n
