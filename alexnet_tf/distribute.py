"""Device set-up and the choice of ``tf.distribute`` strategy (§3.2: the paper used two GPUs)."""

from __future__ import annotations

import os

import tensorflow as tf

from alexnet_tf.errors import UsageError


def split_devices(n: int) -> list[str]:
    """``n`` devices for MirroredStrategy: real GPUs when there are ``n``, else logical ones.

    With fewer GPUs, the first GPU (or, without one, the CPU) is split into ``n`` logical
    devices, so ``MirroredStrategy`` runs ``n`` replicas on any machine, as the paper's towers
    ran on two GPUs. Splitting must happen before TensorFlow initialises its devices. Each
    logical GPU gets ``$ALEXNET_GPU_MEMORY_MB`` (default 16384) MiB.
    """
    gpus = tf.config.list_physical_devices("GPU")
    if len(gpus) >= n:
        return [d.name for d in tf.config.list_logical_devices("GPU")][:n]
    kind, physical = (
        ("GPU", gpus[0]) if gpus else ("CPU", tf.config.list_physical_devices("CPU")[0])
    )
    limit = int(os.environ.get("ALEXNET_GPU_MEMORY_MB", "16384")) if gpus else None
    try:
        tf.config.set_logical_device_configuration(
            physical, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)] * n
        )
    except RuntimeError:  # devices already initialised: use what exists if it is enough
        pass
    names = [d.name for d in tf.config.list_logical_devices(kind)]
    if len(names) < n:
        raise UsageError(
            f"--devices {n}: only {len(names)} {kind} devices exist "
            "(split them before TensorFlow starts)"
        )
    return names[:n]


def make_strategy(name: str = "auto", devices: int | None = None) -> tf.distribute.Strategy:
    """``auto``: MirroredStrategy over all GPUs (or ``devices`` logical ones), else one device."""
    if devices and devices > 1:
        names = split_devices(devices)
    else:
        gpus = tf.config.list_logical_devices("GPU")
        names = [d.name for d in gpus] if gpus else [tf.config.list_logical_devices("CPU")[0].name]
    if name == "one_device" or (name == "auto" and len(names) == 1):
        return tf.distribute.OneDeviceStrategy(names[0])
    cross = None if any("GPU" in n for n in names) else tf.distribute.ReductionToOneDevice()
    return tf.distribute.MirroredStrategy(devices=names, cross_device_ops=cross)


def check_batch_size(batch_size: int, strategy: tf.distribute.Strategy) -> int:
    """The per-replica batch; the global batch must split evenly across the replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UsageError(
            f"batch size {batch_size} is not divisible by the {replicas} replicas: "
            f"use a multiple of {replicas}"
        )
    return batch_size // replicas
