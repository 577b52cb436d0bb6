"""One MirroredStrategy throughput measurement in a fresh process (devices split before start).

    python -m benchmarks.scaling --replicas 2 [--model alexnet_cifar] [--batch-size 128]

Prints one JSON line: replicas, devices, images_per_second. Run by ``benchmarks.run``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicas", type=int, default=2)
    p.add_argument("--model", default="alexnet_cifar")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args(argv)

    from alexnet_tf import distribute
    from alexnet_tf.cli import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    import keras

    strategy = distribute.make_strategy(
        "mirrored" if args.replicas > 1 else "one_device", args.replicas
    )
    from alexnet_tf.models import build_model
    from alexnet_tf.optim import PaperSGD, SparseCrossentropy
    from benchmarks.measure import synthetic_batch

    x, y = synthetic_batch(args.model, args.batch_size)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat()
    with strategy.scope():
        model = build_model(args.model)
        model.compile(PaperSGD(0.01), SparseCrossentropy(), jit_compile=False)
    # One fit: the clock starts inside it, after the warm-up steps (tracing). A second fit
    # call would also time its own setup of a new distributed iterator.
    warmup, marks = 2, {}
    clock = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: marks.setdefault(batch, time.perf_counter())
    )
    model.fit(ds, steps_per_epoch=warmup + args.steps, epochs=1, verbose=0, callbacks=[clock])
    rate = args.steps * args.batch_size / (time.perf_counter() - marks[warmup - 1])
    devices = list(strategy.extended.worker_devices)
    print(
        json.dumps(
            {
                "replicas": strategy.num_replicas_in_sync,
                "devices": devices,
                "images_per_second": round(rate, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
