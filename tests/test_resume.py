"""Exact resume: the training stream is a pure function of (seed, epoch, step); step checkpoints."""

import dataclasses
import json

import numpy as np
import pytest

from alexnet_tf import checkpoint, data


def batches(ds, n):
    return [(x.numpy(), y.numpy()) for x, y in ds.take(n)]


@pytest.fixture(scope="module")
def src():
    return data.load_source("synthetic", image_size=32, num_examples=24, seed=1)


@pytest.mark.parametrize("random_access", [True, False])
def test_stream_restarts_at_any_epoch_and_step(src, random_access):
    """Starting at (epoch, step) yields exactly what the uninterrupted stream yields there."""
    source = src if random_access else dataclasses.replace(src, lookup=None)
    kw = dict(image_size=32, seed=3, steps_per_epoch=2)  # 3 full batches of 8, capped at 2
    full = batches(data.train_pipeline(source, 8, **kw), 6)  # epochs 0, 1, 2
    for epoch, step in ((0, 1), (1, 0), (1, 1), (2, 1)):
        later = batches(data.train_pipeline(source, 8, start=(epoch, step), **kw), 1)
        np.testing.assert_array_equal(later[0][0], full[2 * epoch + step][0])
        np.testing.assert_array_equal(later[0][1], full[2 * epoch + step][1])
    # Each epoch is a fresh permutation: no example twice within one, new order in the next.
    labels = [y for _, y in full]
    assert not all(np.array_equal(a, b) for a, b in zip(labels[:2], labels[2:4], strict=True))


def test_shards_are_slices_of_the_global_batch(src):
    """Input pipeline i of n (one per worker) holds slice i of every global batch."""
    kw = dict(image_size=32, seed=0, start=(1, 1), steps_per_epoch=3)
    whole = batches(data.train_pipeline(src, 8, **kw), 2)
    parts = [batches(data.train_pipeline(src, 8, shard=(i, 2), **kw), 2) for i in range(2)]
    for step in range(2):
        x = np.concatenate([parts[0][step][0], parts[1][step][0]])
        np.testing.assert_array_equal(x, whole[step][0])
    halves = batches(data.train_pipeline(src, 8, replica_batch_size=4, **kw), 2)
    np.testing.assert_array_equal(halves[1][0], whole[0][0][4:])  # two replicas' batches


def _fake(tmp_path, name, state):
    ck = tmp_path / checkpoint.CHECKPOINT_DIR
    ck.mkdir(exist_ok=True)
    (ck / f"{name}.keras").write_bytes(b"x")
    (ck / f"{name}.json").write_text(json.dumps(state))


def test_step_checkpoints_order_and_pruning(tmp_path):
    class Model:
        def save(self, path):
            with open(path, "wb") as f:
                f.write(b"model")

    checkpoint.prepare_workdir(tmp_path)
    state = lambda e, s: {"epochs_completed": e, "step": s, "global_step": 10 * e + s}
    for e, s in ((0, 4), (0, 8), (1, 0), (1, 4), (1, 8)):
        checkpoint.save(tmp_path, Model(), state(e, s))
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    # Epoch 1 made the step checkpoints of epoch 0 obsolete; two mid-epoch ones are kept.
    assert names == [f"{n}.{x}" for n in ("epoch-0001", "step-00000014", "step-00000018")
                     for x in ("json", "keras")]  # fmt: skip
    path, st = checkpoint.latest(tmp_path)
    assert path.name == "step-00000018.keras" and (st["epochs_completed"], st["step"]) == (1, 8)
    checkpoint.save(tmp_path, Model(), state(2, 0))
    assert checkpoint.latest(tmp_path)[0].name == "epoch-0002.keras"
    assert not list((tmp_path / "checkpoints").glob("step-*"))


def test_clean_stale_removes_what_a_kill_leaves(tmp_path):
    _fake(tmp_path, "epoch-0001", {"epochs_completed": 1})
    ck = tmp_path / "checkpoints"
    (ck / ".step-00000012.keras.abc123.tmp.keras").write_bytes(b"half")  # killed mid-write
    (ck / "step-00000012.keras").write_bytes(b"x")  # killed before its state was written
    (tmp_path / ".metrics.json.xyz.tmp.json").write_text("{")
    removed = checkpoint.clean_stale(tmp_path)
    assert sorted(removed) == sorted(
        [
            ".step-00000012.keras.abc123.tmp.keras",
            "step-00000012.keras",
            ".metrics.json.xyz.tmp.json",
        ]
    )
    assert sorted(p.name for p in ck.iterdir()) == ["epoch-0001.json", "epoch-0001.keras"]
