"""SIGKILL at random moments and resume exactly (a short alexnet_tf.faults run, --deterministic)."""

import pytest
from conftest import REPO, write_cifar_layout

from alexnet_tf import faults

TRAIN = ["--dataset", "cifar10", "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "8"]
TRAIN += ["--lr", "0.002"]


@pytest.mark.heavy
def test_killed_twice_at_random_then_resumed_equals_uninterrupted(tmp_path, capsys, monkeypatch):
    """The kill-at-random script, short: a kill after a random step and one mid checkpoint
    write; the run ends with 2 epochs, 6 steps, no gap or repeat in steps.csv, and final weights
    and optimizer state bit-identical to an uninterrupted run. Every launch is a new process
    with --deterministic (faults adds it), so this is also the check that two processes of the
    same command end bit-identical, weights and per-step losses."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    data = write_cifar_layout(tmp_path / "data")
    args = ["--kills", "2", "--seed", "3", "--workdir", str(tmp_path / "f"), "--timeout", "240"]
    code = faults.main([*args, "--", *TRAIN, "--data-dir", str(data), "--checkpoint-steps", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("SIGKILLed") == 2 and "(write)" in out and out.strip().endswith("PASS"), out
    assert "2 epochs, 6 steps" in out and "identical" in out
