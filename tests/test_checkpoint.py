"""Checkpoint writes are atomic and resume finds the newest complete epoch."""

import json
import os

import pytest

from alexnet_tf import checkpoint
from alexnet_tf.errors import UsageError


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "ckpt.keras"
    target.write_bytes(b"good")

    def broken(tmp):
        with open(tmp, "wb") as f:
            f.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        checkpoint.atomic_write(target, broken)
    assert target.read_bytes() == b"good"
    assert os.listdir(tmp_path) == ["ckpt.keras"]  # no temporary file left behind


def test_latest_skips_incomplete_epochs(tmp_path):
    ck = tmp_path / checkpoint.CHECKPOINT_DIR
    ck.mkdir()
    for epoch in (1, 2):
        (ck / f"epoch-{epoch:04d}.keras").write_bytes(b"x")
        (ck / f"epoch-{epoch:04d}.json").write_text(json.dumps({"epochs_completed": epoch}))
    (ck / "epoch-0003.keras").write_bytes(b"x")  # killed before its state was written
    (ck / "epoch-0004.json").write_text("{}")  # model missing
    assert checkpoint.completed_epochs(tmp_path) == [1, 2]
    path, state = checkpoint.latest(tmp_path)
    assert path.name == "epoch-0002.keras" and state["epochs_completed"] == 2
    (ck / "epoch-0002.json").write_text("{trunc")  # unreadable: fall back one epoch
    assert checkpoint.latest(tmp_path)[1]["epochs_completed"] == 1
    assert checkpoint.latest(tmp_path / "fresh") is None


def test_prepare_workdir_rejects_unwritable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UsageError, match="not writable"):
        checkpoint.prepare_workdir(blocker / "run")
    assert (checkpoint.prepare_workdir(tmp_path / "run") / checkpoint.CHECKPOINT_DIR).is_dir()


def test_resume_refuses_another_network_or_input_scale(tmp_path):
    """The fields of SAME_ON_RESUME have no weights of their own: a resume that changed one
    would load silently, so it is refused, naming the flag as the run was trained."""
    ck = tmp_path / checkpoint.CHECKPOINT_DIR
    ck.mkdir()
    saved = {"model": "cnn4", "dataset": "cifar10", "mean": "image", "raw_pixels": True}
    (ck / "epoch-0001.keras").write_bytes(b"x")
    (ck / "epoch-0001.json").write_text(json.dumps({"epochs_completed": 1, "config": saved}))
    checkpoint.check_compatible(tmp_path, dict(saved))  # the same run: resumes
    with pytest.raises(UsageError, match="trained with --raw-pixels: resume it with --raw-pix"):
        checkpoint.check_compatible(tmp_path, {**saved, "raw_pixels": False})
    with pytest.raises(UsageError, match="trained with --mean image: resume it with --mean im"):
        checkpoint.check_compatible(tmp_path, {**saved, "mean": "none"})
    (ck / "epoch-0001.json").write_text(
        json.dumps({"epochs_completed": 1, "config": {**saved, "lrn_alpha": 0.0}})
    )
    with pytest.raises(UsageError, match="trained with --lrn-alpha 0.0: resume it with --lrn-alp"):
        checkpoint.check_compatible(tmp_path, {**saved, "lrn_alpha": 1e-4})
    # a run saved before a field existed is not compared on it
    old = {k: v for k, v in saved.items() if k != "raw_pixels"}
    (ck / "epoch-0001.json").write_text(json.dumps({"epochs_completed": 1, "config": old}))
    checkpoint.check_compatible(tmp_path, {**saved, "raw_pixels": False})
