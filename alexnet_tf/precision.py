"""Choosing the compute precision: bfloat16 where it trains faster, float32 elsewhere."""

from __future__ import annotations

import os

POLICIES = ("auto", "float32", "mixed_bfloat16", "mixed_float16")


def cpu_fields() -> dict[str, str]:
    """The first CPU's fields in /proc/cpuinfo ("vendor_id", "model name", "flags", ...);
    empty where there is none."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip() and fields:  # a blank line ends the first CPU
                    break
                key, sep, value = line.partition(":")
                if sep:
                    fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _flags(fields: dict[str, str]) -> set[str]:
    return set(fields.get("flags", "").split())


def onednn_on() -> bool:
    """True when this process's TensorFlow runs its oneDNN CPU kernels (read at its import)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def cpu_has_bf16() -> bool:
    """True when the CPU has bfloat16 instructions (Intel AMX or AVX512-BF16)."""
    flags = _flags(cpu_fields())
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_bf16_is_faster() -> bool:
    """True where bfloat16 trains faster than float32 on this CPU, as measured on the three
    hosts of BENCHMARKS.md: Intel with AMX (bf16 1.4-1.9x float32's rate) and AMD with
    AVX512-BF16 (Zen 4, whose float32 units are 256 bits wide: 262 against 163 images/s).
    Intel's AVX512-BF16 without AMX (Cooper Lake, or a VM that hides AMX) multiplies bf16 no
    faster than float32 and pays for the casts: 126 against 200 images/s, so float32 there.
    """
    fields = cpu_fields()  # one read of /proc/cpuinfo for the flags and the vendor
    flags = _flags(fields)
    if "amx_bf16" in flags:
        return True
    return fields.get("vendor_id") == "AuthenticAMD" and "avx512_bf16" in flags


def gpu_has_bf16(details: dict) -> bool:
    """True for NVIDIA GPUs of compute capability 8.0 (Ampere) or newer."""
    capability = details.get("compute_capability") or (0, 0)
    return tuple(capability) >= (8, 0)


def resolve(name: str = "auto") -> str:
    """The Keras dtype policy for ``name``; ``auto`` picks ``mixed_bfloat16`` where bfloat16
    is the faster (Ampere+ GPUs, CPUs where :func:`cpu_bf16_is_faster`), ``mixed_float16`` on
    older GPUs and ``float32`` otherwise. ``$ALEXNET_PRECISION`` overrides ``auto``.

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
    return "mixed_bfloat16" if cpu_bf16_is_faster() else "float32"
