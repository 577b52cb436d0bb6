"""Choosing the compute precision: bfloat16 where the hardware has it, float32 elsewhere."""

from __future__ import annotations

import os

POLICIES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def cpu_has_bf16() -> bool:
    """True when the CPU multiplies bfloat16 natively (Intel AMX or AVX512-BF16)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line.split()
                    return "amx_bf16" in flags or "avx512_bf16" in flags
    except OSError:
        pass
    return False


def gpu_has_bf16(details: dict) -> bool:
    """True for NVIDIA GPUs of compute capability 8.0 (Ampere) or newer."""
    capability = details.get("compute_capability") or (0, 0)
    return tuple(capability) >= (8, 0)


def resolve(name: str = "auto") -> str:
    """The Keras dtype policy for ``name``; ``auto`` picks ``mixed_bfloat16`` on hardware with
    native bfloat16 (AMX/AVX512-BF16 CPUs, Ampere+ GPUs), ``mixed_float16`` on older GPUs and
    ``float32`` otherwise. ``$ALEXNET_PRECISION`` overrides ``auto``.

    Mixed precision keeps float32 master weights, float32 logits and loss, and LRN computed in
    float32 (see :class:`alexnet_tf.layers.LocalResponseNormalization`).
    """
    if name != "auto":
        return name
    name = os.environ.get("ALEXNET_PRECISION", "auto")
    if name != "auto":
        return name
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return "mixed_bfloat16" if gpu_has_bf16(details) else "mixed_float16"
    return "mixed_bfloat16" if cpu_has_bf16() else "float32"
