"""The benchmark suite: ``python -m benchmarks.run [--data-dir ../shared/data] [--quick]``.

Measures in one process, on one machine: the fp32 matmul ceiling; training images/s of the
paper's network and the CIFAR-10 network at batch 32 and 128 for alexnet_tf and its peers (a
naive Keras model, PyTorch when installed); FLOPs and the fraction of the ceiling reached;
inference latency and throughput (centre and 10-crop); the input pipelines; and 1 vs 2
replicas under MirroredStrategy. Writes ``OUT/benchmarks.json`` and ``OUT/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from alexnet_tf.machine import describe  # noqa: E402


def machine() -> dict:
    info = describe()
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def ratios(rows: dict) -> dict:
    ours = rows["alexnet_tf"]
    out = {
        "alexnet_tf / naive Keras groups=2": ours / rows["naive Keras, Conv2D(groups=2)"],
        "alexnet_tf towers / alexnet_tf no towers": ours / rows["alexnet_tf no towers"],
    }
    if "PyTorch, groups=2" in rows:
        out["alexnet_tf / PyTorch groups=2"] = ours / rows["PyTorch, groups=2"]
        out["alexnet_tf / PyTorch no towers"] = ours / rows["PyTorch, no towers"]
    if "alexnet_tf mixed_bfloat16" in rows:
        out["alexnet_tf bf16 / alexnet_tf fp32"] = rows["alexnet_tf mixed_bfloat16"] / ours
    return {k: round(v, 2) for k, v in out.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("ALEXNET_DATA_DIR"))
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--steps", type=int, default=3, help="timed training steps per measurement")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the suite, not speed")
    args = p.parse_args(argv)

    from benchmarks import measure, report

    models = ["alexnet_cifar"] if args.quick else ["alexnet", "alexnet_cifar"]
    batches = [4] if args.quick else [32, 128]
    steps = 1 if args.quick else args.steps
    t0 = time.perf_counter()
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    res = {
        "machine": machine(),
        "command": " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])]),
    }
    log("machine:", res["machine"])
    res["matmul_gflops"] = {
        "float32": round(measure.matmul_flops(512 if args.quick else 4096) / 1e9, 1)
    }
    if res["machine"]["bf16_hardware"]:
        import tensorflow as tf

        res["matmul_gflops"]["bfloat16"] = round(
            measure.matmul_flops(512 if args.quick else 4096, dtype=tf.bfloat16) / 1e9, 1
        )
    log("matmul GFLOP/s:", res["matmul_gflops"])
    res["training"], res["flops"] = {}, {}
    for name in models:
        res["flops"][name] = measure.flop_counts(name)
        res["flops"][name + " no towers"] = measure.flop_counts(name, towers=1)
        for bs in batches:
            rows = measure.training(
                name, bs, steps, res["machine"]["bf16_hardware"], torch_threads=os.cpu_count()
            )
            key = f"{name} batch {bs}"
            res["training"][key] = {"images_per_second": rows, "ratios": ratios(rows)}
            log(key, rows, ratios(rows))
    res["inference"] = {
        name: measure.inference(name, 3 if args.quick else 20, 4 if args.quick else 128)
        for name in models
    }
    log("inference:", res["inference"])
    n = 2 if args.quick else 40
    res["pipeline"] = {
        "cifar10 (python layout)": measure.pipeline_rate(
            "cifar10", args.data_dir, 32, n, batches[-1]
        ),
        "folder (Imagenette JPEG)": measure.pipeline_rate(
            "folder", args.data_dir, 227, max(2, n // 4), batches[-1]
        ),
    }
    log("pipeline:", res["pipeline"])
    res["scaling"] = measure.scaling("alexnet_cifar", batches[-1], steps if args.quick else 10)
    log("scaling:", res["scaling"])
    res["seconds"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "benchmarks.md").write_text(report.markdown(res))
    print(report.markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
