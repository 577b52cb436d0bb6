"""The peers alexnet_tf is measured against: a naive Keras model and a PyTorch model (PEERS ONLY).

Both are built from the same :class:`alexnet_tf.models.Architecture` as ours, so every
convolution, pooling, LRN and FC layer matches. Nothing here is used by the package; torch is
imported only when installed and is never a dependency of alexnet_tf.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf.models import Architecture
from benchmarks import timing


def naive_keras(arch: Architecture, towers: bool = True) -> keras.Model:
    """The network as a user would write it: ``keras.Sequential``, ``Conv2D(groups=2)`` for the
    towers, ``tf.nn.lrn`` in a ``Lambda``, compiled with Keras' defaults (XLA "auto")."""
    L = keras.layers
    stack = [keras.Input((arch.input_size, arch.input_size, 3))]
    for spec in arch.convs:
        if isinstance(spec.padding, int):
            stack.append(L.ZeroPadding2D(spec.padding))
        stack.append(
            L.Conv2D(
                spec.filters, spec.kernel, spec.stride,
                padding="valid" if isinstance(spec.padding, int) else spec.padding,
                groups=2 if towers and spec.towers else 1, activation="relu",
            )
        )  # fmt: skip
        if spec.lrn:
            stack.append(L.Lambda(lambda x: tf.nn.lrn(x, 2, 2.0, 1e-4, 0.75)))
        if spec.pool:
            stack.append(L.MaxPooling2D(3, 2, padding=arch.pool_padding))
    stack.append(L.Flatten())
    for units in arch.hidden:
        stack += [L.Dense(units, activation="relu"), L.Dropout(0.5)]
    stack.append(L.Dense(arch.num_classes))
    return keras.Sequential(stack)


def keras_train_rate(model, batch, steps: int, *, jit="auto", warmup: int = 1) -> float:
    """Steady-state training images/s of a Keras model on one fixed batch (SGD, momentum 0.9)."""
    model.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit,
    )
    return timing.images_per_second(model, batch, steps, warmup)


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def torch_model(arch: Architecture, towers: bool = True):
    """PEER: the same network in PyTorch (NCHW, ``groups=2`` towers, ``nn.LocalResponseNorm``
    with the paper's constants in PyTorch's alpha/n convention: size 5, alpha 5e-4, k 2)."""
    import torch.nn as nn

    layers, size, channels = [], arch.input_size, 3
    for spec in arch.convs:
        pad = (
            spec.padding
            if isinstance(spec.padding, int)
            else (spec.kernel // 2 if spec.padding == "same" else 0)
        )
        groups = 2 if towers and spec.towers else 1
        layers += [
            nn.Conv2d(channels, spec.filters, spec.kernel, spec.stride, pad, groups=groups),
            nn.ReLU(),
        ]
        size = (size + 2 * pad - spec.kernel) // spec.stride + 1
        channels = spec.filters
        if spec.lrn:
            layers.append(nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0))
        if spec.pool:
            same = arch.pool_padding == "same"
            layers.append(nn.MaxPool2d(3, 2, padding=1 if same else 0))
            size = (size + (2 if same else 0) - 3) // 2 + 1
    layers.append(nn.Flatten())
    features = channels * size * size
    for units in arch.hidden:
        layers += [nn.Linear(features, units), nn.ReLU(), nn.Dropout(0.5)]
        features = units
    layers.append(nn.Linear(features, arch.num_classes))
    return nn.Sequential(*layers)


def torch_train_rate(
    model, batch, steps: int, *, warmup: int = 1, threads: int | None = None
) -> float:
    """PEER: steady-state training images/s of the PyTorch model (SGD, momentum 0.9, wd 5e-4)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    x = torch.from_numpy(np.ascontiguousarray(batch[0].transpose(0, 3, 1, 2)))
    y = torch.from_numpy(batch[1].astype(np.int64))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * len(x) / (time.perf_counter() - start)
