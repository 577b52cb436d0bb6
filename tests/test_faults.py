"""SIGKILL at random moments and resume exactly (a short alexnet_tf.faults run, --deterministic)."""

import pytest
from conftest import REPO, write_cifar_layout

from alexnet_tf import faults

TRAIN = ["--dataset", "cifar10", "--epochs", "2", "--steps-per-epoch", "3", "--batch-size", "8"]
TRAIN += ["--lr", "0.002"]
# Figure 1's network with the default recipe's batch norm (moving statistics to resume): the
# CIFAR AlexNet's 60 MB checkpoints cost each launch ~0.5 s a write and the test ~9 s, and
# cnn4's (~90 ms a write) still hold the kill poll (5 ms) 16 times over.
TRAIN += ["--model", "cnn4", "--norm", "batch"]


@pytest.mark.heavy
def test_killed_mid_checkpoint_write_then_resumed_equals_uninterrupted(
    tmp_path, capsys, monkeypatch
):
    """The kill-at-random script, short: one kill while a checkpoint is being written (the
    multi-worker test kills a worker between steps); the run ends with 2 epochs, 6 steps, no gap
    or repeat in steps.csv, and final weights and optimizer state bit-identical to an
    uninterrupted run. Every launch is a new process with --deterministic (faults adds it), so
    this is also the check that two processes of the same command end bit-identical, weights
    and per-step losses."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    data = write_cifar_layout(tmp_path / "data")
    args = ["--kills", "1", "--plan", "write", "--seed", "3", "--workdir", str(tmp_path / "f")]
    args += ["--timeout", "240"]
    code = faults.main([*args, "--", *TRAIN, "--data-dir", str(data), "--checkpoint-steps", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.count("SIGKILLed") == 1 and "kill 1 (write)" in out, out
    assert "mid checkpoint write" in out and out.strip().endswith("PASS"), out
    assert "2 epochs, 6 steps" in out and "identical" in out


def test_a_plan_of_unknown_kills_is_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        faults.main(["--plan", "write,reboot", "--", "--dataset", "synthetic"])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and "--plan takes step, write and startup" in err[0]
