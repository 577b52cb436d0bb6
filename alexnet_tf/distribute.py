"""Device set-up and the choice of ``tf.distribute`` strategy (§3.2: the paper used two GPUs)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings

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


def cluster_spec() -> tuple[dict, str, int]:
    """``(cluster, task type, task index)`` from ``$TF_CONFIG``; UsageError saying what is wrong."""
    raw = os.environ.get("TF_CONFIG", "")
    example = (
        'TF_CONFIG=\'{"cluster": {"worker": ["host0:port", "host1:port"]}, '
        '"task": {"type": "worker", "index": 0}}\''
    )
    if not raw.strip():
        raise UsageError(
            f"--strategy multi_worker needs $TF_CONFIG on every worker, e.g. {example}"
        )
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
        workers = list(cluster.get("chief", [])) + list(cluster["worker"])
        if kind not in cluster or not 0 <= index < len(cluster[kind]):
            raise ValueError(f"task {kind} {index} is not in the cluster")
    except (ValueError, KeyError, TypeError) as e:
        raise UsageError(f"$TF_CONFIG is not usable ({e}): expected {example}") from None
    if not workers or any(not isinstance(w, str) or ":" not in w for w in workers):
        raise UsageError(f"$TF_CONFIG lists workers without host:port: {workers}")
    return cluster, kind, index


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the workdir: always, except for MultiWorkerMirroredStrategy's
    workers other than the chief (task ``chief`` 0, else ``worker`` 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: 0)():
        return True
    kind, index = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return kind == "chief" or (not has_chief and kind == "worker" and index == 0)


def scratch_dir(workdir: str) -> str:
    """Where a worker other than the chief writes (caches, its final model): a temporary
    folder named after the task and ``workdir``, so the chief alone writes ``workdir``."""
    _, kind, index = cluster_spec()
    digest = hashlib.sha1(os.path.abspath(workdir).encode()).hexdigest()[:8]
    return os.path.join(tempfile.gettempdir(), f"alexnet_tf-{kind}{index}-{digest}")


def num_workers(strategy: tf.distribute.Strategy) -> int:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(strategy.extended, "_in_multi_worker_mode", lambda: 0)():
        return 1
    spec = resolver.cluster_spec().as_dict()
    return sum(len(spec.get(k, [])) for k in ("chief", "worker"))


def make_strategy(name: str = "auto", devices: int | None = None) -> tf.distribute.Strategy:
    """``auto``: MirroredStrategy over all GPUs (or ``devices`` logical ones), else one device.

    ``multi_worker``: MultiWorkerMirroredStrategy over the cluster in ``$TF_CONFIG`` (all of
    each worker's GPUs, or its CPU), gradients all-reduced across workers by ring collectives.
    """
    if name == "multi_worker":
        if devices:
            raise UsageError("--devices does not apply to --strategy multi_worker")
        cluster_spec()  # a clear error before TensorFlow tries to reach the cluster
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING
        )
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
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


def broadcast(strategy: tf.distribute.Strategy, values: list) -> list:
    """The chief's ``values`` (tensors) on every worker; the others pass same-shaped tensors.

    An all-reduce of the chief's values and zeros from every other replica: exact (x + 0 = x),
    and it needs nothing but the collectives that training uses. Replica 0 is the chief's
    first device (MultiWorkerMirroredStrategy numbers the chief's replicas first).
    """

    def replica_fn(*vs):
        ctx = tf.distribute.get_replica_context()
        first = ctx.replica_id_in_sync_group == 0
        own = [tf.where(first, v, tf.zeros_like(v)) for v in vs]
        out = list(own)
        # One all-reduce per dtype (it packs tensors of one dtype together), in an order that
        # is the same on every worker: collectives pair up by the order they are issued in.
        for dtype in sorted({v.dtype for v in vs}, key=lambda d: d.name):
            which = [i for i, v in enumerate(vs) if v.dtype == dtype]
            for i, r in zip(which, ctx.all_reduce("sum", [own[i] for i in which]), strict=True):
                out[i] = r
        return out

    run = per_run_function(lambda *vs: strategy.run(replica_fn, args=vs))
    return [strategy.experimental_local_results(o)[0] for o in run(*values)]


def broadcast_variables(strategy: tf.distribute.Strategy, variables: list) -> None:
    """Overwrite every worker's ``variables`` with the chief's (after the chief resumed)."""
    values = broadcast(strategy, [tf.convert_to_tensor(v) for v in variables])
    for var, value in zip(variables, values, strict=True):
        var.assign(value)


def broadcast_json(strategy: tf.distribute.Strategy, obj):
    """The chief's JSON-able ``obj`` on every worker (others pass anything), as bytes."""
    raw = json.dumps(obj).encode()
    (size,) = broadcast(strategy, [tf.constant(len(raw), tf.int64)])
    padded = raw[: int(size)].ljust(int(size), b" ")
    (data,) = broadcast(strategy, [tf.constant(list(padded), tf.int32)])
    return json.loads(bytes(data.numpy().astype("uint8")).decode())


def distribute_by_data(strategy: tf.distribute.Strategy, dataset: tf.data.Dataset):
    """``dataset``'s batches shared among the replicas and workers, sharded by data (each
    worker reads them all and keeps its share), for a graph loop over them."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def per_run_function(fn, **kwargs):
    """``tf.function(fn, **kwargs)`` for one run's model (or one ``evaluate`` call), traced
    anew by each. TensorFlow warns when a function retraces 5 times in 10 calls, keyed by the
    Python code, which every run's function shares: a notebook's sixth run would set it off
    while nothing retraces in vain (tensorflow/tensorflow#42441, closed as intended). So these
    functions are exempt from that warning."""
    function = tf.function(fn, **kwargs)
    # TensorFlow's own switch, which it sets on functions restored from a SavedModel. It is
    # private: tests/test_evaluate.py fails if it stops working.
    function._omit_frequent_tracing_warning = True
    return function


@contextlib.contextmanager
def graph_loop_warnings_off():
    """Silence tf.data's note on options in graph mode, which a graph loop over a distributed
    dataset prints on every trace."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*preserve tf.data options.*")
        yield
