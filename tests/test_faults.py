"""SIGKILL at random moments and resume exactly (a short alexnet_tf.faults run); --deterministic."""

import subprocess
import sys

import numpy as np
from conftest import REPO, write_cifar_layout

from alexnet_tf import faults

TRAIN = ["--dataset", "cifar10", "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "8"]
TRAIN += ["--lr", "0.002"]


def test_killed_twice_at_random_then_resumed_equals_uninterrupted(tmp_path, capsys, monkeypatch):
    """The kill-at-random script, short: a kill after a random step and one mid checkpoint
    write; the run ends with 2 epochs, 6 steps, no gap or repeat in steps.csv, and final weights
    and optimizer state bit-identical to an uninterrupted run."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    data = write_cifar_layout(tmp_path / "data")
    args = ["--kills", "2", "--seed", "3", "--workdir", str(tmp_path / "f"), "--timeout", "240"]
    code = faults.main([*args, "--", *TRAIN, "--data-dir", str(data), "--checkpoint-steps", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("SIGKILLed") == 2 and "(write)" in out and out.strip().endswith("PASS"), out
    assert "2 epochs, 6 steps" in out and "identical" in out


def test_deterministic_runs_give_identical_weights(tmp_path):
    """Two CPU processes with --deterministic (seeds plus op determinism) end bit-identical."""
    data = write_cifar_layout(tmp_path / "data")
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alexnet_tf.train",
                *TRAIN,
                "--data-dir",
                str(data),
                "--deterministic",
                "--quiet",
                "--workdir",
                str(tmp_path / f"run{i}"),
            ],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        errors = [p.communicate(timeout=240)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0, 0], errors
    a, b = (faults._weights(tmp_path / f"run{i}" / "model.keras") for i in range(2))
    assert a.keys() == b.keys() and len(a) > 20
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    losses = [(tmp_path / f"run{i}" / "steps.csv").read_text() for i in range(2)]
    assert losses[0] == losses[1]
