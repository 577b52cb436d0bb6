"""The suite's measurements: matmul ceiling, training, inference, input pipeline, scaling."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf import data, flops
from alexnet_tf.errors import DataError
from alexnet_tf.models import ARCHITECTURES, build_model
from benchmarks import peers, timing


def matmul_flops(n: int = 4096, repeats: int = 10, dtype=tf.float32) -> float:
    """FLOP/s of a large ``tf.matmul``: the machine's practical compute ceiling in TensorFlow."""
    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)

    @tf.function
    def run(x):
        for _ in range(repeats):
            x = tf.matmul(x, a) * tf.cast(1e-3, dtype)  # keep values finite
        return x

    run(a).numpy()  # trace and warm up
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        run(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 * repeats / best


def random_batch(batch_size: int, size: int, classes: int, seed: int = 0):
    """Random ``size`` x ``size`` RGB images and labels in ``[0, classes)``: a step's input."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch_size, size, size, 3)).astype("float32")
    return x, rng.integers(0, classes, batch_size)


def synthetic_batch(model_name: str, batch_size: int, seed: int = 0):
    """A random batch of ``model_name``'s input size and classes."""
    arch = ARCHITECTURES[model_name]
    return random_batch(batch_size, arch.input_size, arch.num_classes, seed)


def ours_train_rate(model_name: str, batch, steps: int, precision="float32", towers=2) -> float:
    """alexnet_tf as the CLI runs it: our builder, PaperSGD, XLA off, the given precision."""
    from alexnet_tf.optim import PaperSGD, SparseCrossentropy

    keras.mixed_precision.set_global_policy(precision)
    model = build_model(model_name, towers=towers)
    keras.mixed_precision.set_global_policy("float32")
    model.compile(PaperSGD(0.01), SparseCrossentropy(), jit_compile=False)
    return timing.images_per_second(model, batch, steps)


def training(model_name: str, batch_size: int, steps: int, bf16: bool, torch_threads: int) -> dict:
    """images/s of ours and of every peer, same network, same batch, one process."""
    arch = ARCHITECTURES[model_name]
    batch = synthetic_batch(model_name, batch_size)
    rows = {}
    rows["alexnet_tf"] = ours_train_rate(model_name, batch, steps)
    if bf16:
        rows["alexnet_tf mixed_bfloat16"] = ours_train_rate(
            model_name, batch, steps, "mixed_bfloat16"
        )
    rows["alexnet_tf no towers"] = ours_train_rate(model_name, batch, steps, towers=1)
    rows["naive Keras, Conv2D(groups=2)"] = peers.keras_train_rate(
        peers.naive_keras(arch), batch, steps
    )
    rows["naive Keras, no towers"] = peers.keras_train_rate(
        peers.naive_keras(arch, False), batch, steps
    )
    if peers.torch_available():
        for towers, label in ((True, "PyTorch, groups=2"), (False, "PyTorch, no towers")):
            model = peers.torch_model(arch, towers)
            rows[label] = peers.torch_train_rate(model, batch, steps, threads=torch_threads)
    return {k: round(v, 2) for k, v in rows.items()}


def inference(model_name: str, repeats: int, batch_size: int = 128, precision="float32") -> dict:
    """Batch-1 latency (ms) and batch-N throughput (images/s), centre crop and 10-crop (§4.1)."""
    keras.mixed_precision.set_global_policy(precision)
    model = build_model(model_name)
    keras.mixed_precision.set_global_policy("float32")
    size = model.input_shape[1]
    fn = tf.function(lambda x: tf.nn.softmax(tf.cast(model(x, training=False), tf.float32)))

    def timed(n_images: int, crops: int, reps: int) -> list[float]:
        x = tf.random.normal((n_images * crops, size, size, 3))
        fn(x).numpy()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn(x).numpy()
            times.append(time.perf_counter() - start)
        return times

    out = {}
    for crops, label in ((1, "centre crop"), (10, "10-crop")):
        out[f"batch-1 latency ms, {label}"] = round(
            1e3 * statistics.median(timed(1, crops, repeats)), 2
        )
        best = min(timed(batch_size, crops, max(2, repeats // 5)))
        out[f"batch-{batch_size} images/s, {label}"] = round(batch_size / best, 2)
    return out


def pipeline_rate(
    dataset: str, data_dir: str | None, image_size: int, batches: int, batch_size=128
) -> dict:
    """images/s out of the full training ``tf.data`` pipeline (augmentation incl. PCA lighting)."""
    try:
        if dataset == "folder":
            source = data.load_source("folder", os.path.join(data_dir or "", "imagenette2-224"))
        else:
            source = data.load_source(dataset, data_dir)
        what = f"{dataset} ({source.num_train} real images)"
    except DataError as e:
        source = data.load_source("synthetic", image_size=image_size, num_classes=10)
        what = f"synthetic stand-in ({str(e)[:60]}...)"
    ds = data.train_pipeline(source, batch_size, image_size=image_size, pca_lighting=True)
    it = iter(ds)
    for _ in range(3):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return {
        "source": what,
        "images_per_second": round(batches * batch_size / (time.perf_counter() - start), 1),
    }


def flop_counts(model_name: str, towers: int = 2) -> dict:
    model = build_model(model_name, towers=towers)
    return {
        "forward_gflop": round(flops.forward_flops(model) / 1e9, 4),
        "training_gflop": round(flops.training_flops(model) / 1e9, 4),
    }


def scaling(model_name: str, batch_size: int, steps: int) -> dict:
    """images/s with 1 and 2 replicas under MirroredStrategy, each in a fresh process."""
    out = {}
    for replicas in (1, 2):
        cmd = [sys.executable, "-m", "benchmarks.scaling", "--replicas", str(replicas),
               "--model", model_name, "--batch-size", str(batch_size),
               "--steps", str(steps)]  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if r.returncode != 0:
            raise RuntimeError(f"scaling run failed: {r.stderr.strip().splitlines()[-1:]}")
        out[f"{replicas} replica{'s' if replicas > 1 else ''}"] = json.loads(
            r.stdout.strip().splitlines()[-1]
        )
    return out
