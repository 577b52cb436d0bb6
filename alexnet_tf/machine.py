"""What a run ran on: CPU, cores, GPUs, bfloat16, oneDNN (time-to-accuracy depends on it)."""

from __future__ import annotations

import os
import platform

from alexnet_tf.precision import cpu_fields, cpu_has_bf16, onednn_on


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo ("unknown" where there is none)."""
    return cpu_fields().get("model name") or platform.processor() or "unknown"


def describe() -> dict:
    """The machine in a few fields, recorded in metrics.json and benchmarks.json."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "bf16_hardware": cpu_has_bf16(),
        "onednn": onednn_on(),  # TensorFlow's oneDNN CPU kernels
        "gpus": [
            tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus
        ],
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
    }
