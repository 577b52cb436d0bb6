"""Bad input: one clear line on stderr and a non-zero exit (or, for single unreadable images in a
folder, a skip with a count), never a traceback, never a lost checkpoint. FAULT_TOLERANCE.md's
table lists every case here. Most run the CLI's ``main`` in-process; one runs a real process."""

import errno
import hashlib
import json
import pickle
import shutil

import numpy as np
import pytest
from conftest import run_module, write_cifar_layout, write_image_folder

from alexnet_tf import cli, evaluate, predict, sources, train
from alexnet_tf.config import TrainConfig

TINY = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8", "--quiet"]


def main(capsys, *args, module=train):
    """Run ``module.main(args)`` in-process: (exit code, stdout, stderr)."""
    try:
        code = module.main([str(a) for a in args])
    except SystemExit as e:  # argparse's errors
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, *fragments):
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def digest(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workdir holding one completed epoch, to prove failures never touch it."""
    root = tmp_path_factory.mktemp("trained")
    data = write_cifar_layout(root / "data")
    config = TrainConfig(data_dir=str(data), epochs=1, steps_per_epoch=1, batch_size=8)
    train.train_and_evaluate(config, str(root / "run"), verbose=False)
    return data, root / "run"


def cifar_copy(tmp_path, data, name, payload: bytes):
    bad = tmp_path / "bad"
    shutil.copytree(data, bad)
    (bad / "cifar-10-batches-py" / name).write_bytes(payload)
    return bad


FLAGS = {
    "unknown dataset": (["--dataset", "imagenet21k"], "unknown dataset"),
    "unknown model": (["--model", "vgg16"], "unknown model"),
    "unknown strategy": (["--strategy", "tpu"], "unknown strategy"),
    "unknown flag": (["--learning-rate", "0.1"], "unrecognized arguments"),
    "negative epochs": (["--epochs", "-3"], "epochs must be positive"),
    "zero batch": (["--batch-size", "0"], "batch size must be positive"),
    "non-numeric batch": (["--batch-size", "many"], "invalid int value"),
    "dropout out of range": (["--dropout", "1.5"], "dropout"),
    "negative checkpoint steps": (["--checkpoint-steps", "-1"], "checkpoint steps"),
    "ema decay of 1": (["--ema", "1"], "ema decay must be in [0, 1)"),
    "negative ema bn batches": (["--ema-bn-batches", "-1"], "ema bn batches must be >= 0"),
    "alternating flips without views": (["--alternating-flip", "--no-augment"], "no-augment"),
    "negative LRN alpha": (["--lrn-alpha=-1e-4"], "LRN alpha must be >= 0"),
    "raw pixels standardised": (["--raw-pixels"], "--raw-pixels needs --mean image or none"),
    "raw pixels whitened": (["--raw-pixels", "--mean", "none", "--whiten"], "do not combine"),
    "ema added to a run without it": (["--ema", "0.9"], "trained without --ema: resume it without"),
    "another activation on resume": (
        ["--activation", "tanh"],
        "trained with --activation relu: resume it with --activation relu",
    ),
    "layer scale without a number": (["--grad-scale", "conv1"], "'conv1' is not LAYER=NUMBER"),
    "negative init scale": (["--init-scale", "conv1=-1"], "init scale of conv1 must be >= 0"),
    "whitened conv1 scaled": (["--whiten", "--init-scale", "conv1=2"], "drop conv1 from --init"),
    "grad scale added on resume": (
        ["--grad-scale", "conv1=0.5"],
        "trained without --grad-scale: resume it without --grad-scale",
    ),
    "another mean on resume": (
        ["--mean", "none", "--raw-pixels"],
        "trained with --mean channel: resume it with --mean channel",
    ),
}


@pytest.mark.parametrize("case", FLAGS)
def test_bad_flags(case, trained, capsys):
    data, work = trained
    before = digest(work)
    flags, fragment = FLAGS[case]
    args = ["--dataset", "cifar10", "--data-dir", data, "--workdir", work, *TINY, *flags]
    one_line_error(*main(capsys, *args)[::2], fragment)
    assert digest(work) == before


DAMAGE = {  # how, and what the one line says
    "truncated": (lambda raw: raw[: len(raw) // 2], "truncated or corrupt"),
    "wrong shape": (
        lambda raw: pickle.dumps({b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 1]}),
        "expected (N, 3072) rows",
    ),
    "labels out of range": (
        lambda raw: pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}),
        "labels outside 0..9",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_cifar_pickles(damage, trained, tmp_path, capsys):
    data, work = trained
    before = digest(work)
    how, says = DAMAGE[damage]
    raw = (data / "cifar-10-batches-py" / "data_batch_3").read_bytes()
    bad = cifar_copy(tmp_path, data, "data_batch_3", how(raw))
    args = ["--dataset", "cifar10", "--data-dir", bad, "--workdir", work, *TINY]
    one_line_error(*main(capsys, *args)[::2], "data_batch_3", says, "re-extract")
    assert digest(work) == before


def test_model_that_does_not_fit_the_data(trained, tmp_path, capsys):
    data, _ = trained
    args = ["--data-dir", data, "--workdir", tmp_path / "w", "--num-classes", "5", *TINY]
    one_line_error(*main(capsys, *args)[::2], "labels would be out of range")
    args = ["--dataset", "synthetic", "--model", "alexnet", "--image-size", "32"]
    one_line_error(*main(capsys, *args, "--workdir", tmp_path / "w2")[::2], "32px inputs")
    args = ["--dataset", "synthetic", "--model", "cnn4", "--grad-scale", "conv1=1,lrn1=2"]
    one_line_error(*main(capsys, *args, "--workdir", tmp_path / "w3")[::2], "no layer 'lrn1'")


def test_missing_and_empty_data(tmp_path, capsys, monkeypatch):
    (tmp_path / "empty").mkdir()
    work = ["--workdir", tmp_path / "w", *TINY]
    code, _, err = main(capsys, "--dataset", "folder", "--data-dir", tmp_path / "empty", *work)
    one_line_error(code, err, "empty", "train")
    code, _, err = main(capsys, "--dataset", "folder", "--data-dir", tmp_path / "nowhere", *work)
    one_line_error(code, err, "nowhere")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # no cached copy either
    monkeypatch.setattr(sources, "_online", lambda *a, **k: False)  # and no network
    code, _, err = main(capsys, "--dataset", "cifar10", "--data-dir", tmp_path / "empty", *work)
    one_line_error(code, err, "cifar-10-batches-py", "cannot reach")


def test_class_folder_without_images(tmp_path, capsys):
    root = write_image_folder(tmp_path / "imgs")
    (root / "train" / "bird").mkdir()
    args = ["--dataset", "folder", "--data-dir", root, "--workdir", tmp_path / "w", *TINY]
    one_line_error(*main(capsys, *args)[::2], "train/bird")


def test_odd_and_unreadable_images_in_a_folder(tmp_path, capfd):
    """Grayscale, CMYK and a PNG named .jpg train; a zero-byte and a corrupt file are skipped
    and counted in one warning line (nothing else on file descriptor 2: libjpeg's complaint
    about the corrupt file is silenced); the run succeeds."""
    root = write_image_folder(tmp_path / "imgs")
    work = tmp_path / "w"
    args = ["--dataset", "folder", "--data-dir", root, "--workdir", work, "--model"]
    args += ["alexnet_cifar", "--image-size", "32", "--batch-size", "4", "--epochs", "1"]
    code, out, err = main(capfd, *args, "--quiet")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "skipped 2 unreadable" in lines[0], err
    assert "1 zero-byte, 1 that do not decode" in lines[0]
    m = json.loads((work / "metrics.json").read_text())
    assert m["skipped_images"] == 2 and m["steps_per_epoch"] == 1  # 7 readable: 1 batch of 4
    assert list(work.glob("folder-scan-*.json"))  # the scan is cached for resumed runs
    # The trained run classifies image files by its classes' names (alexnet_tf.predict).
    assert m["class_names"] == ["cat", "dog"]
    names, probs = predict.classify(work, [root / "val/dog/w.jpg", root / "train/dog/a.png"])
    assert names == ["cat", "dog"] and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_batch_not_divisible_by_replicas(tmp_path):
    """A real process: the CLI splits the CPU in two before TensorFlow starts (the test
    processes are split already: tests/conftest.py), and stderr must stay clean."""
    r = run_module(
        "alexnet_tf.train", "--dataset", "synthetic", "--strategy", "mirrored", "--devices",
        "2", "--batch-size", "7", "--epochs", "1", "--workdir", tmp_path / "w",
    )  # fmt: skip
    one_line_error(r.returncode, r.stderr, "not divisible by the 2 replicas")


def test_unwritable_workdir(trained, tmp_path, capsys):
    data, _ = trained
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    args = ["--data-dir", data, "--workdir", blocker / "run", *TINY]
    one_line_error(*main(capsys, *args)[::2], "not writable")


def test_full_disk_while_saving(trained, tmp_path, capsys, monkeypatch):
    """ENOSPC half-way through writing a checkpoint: one line, the saved ones intact."""
    import keras

    data, trained_work = trained
    work = tmp_path / "run"
    shutil.copytree(trained_work, work)
    before = digest(work / "checkpoints")

    def full_disk(self, path, *a, **k):
        with open(path, "wb") as f:
            f.write(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", full_disk)
    args = ["--data-dir", data, "--workdir", work, *TINY, "--epochs", "2"]
    code, _, err = main(capsys, *args)
    assert code == cli.EXIT_FAILURE
    one_line_error(code, err, "No space left on device", "epoch-0002.keras", "intact")
    assert digest(work / "checkpoints") == before  # no temporary file left either


def test_workdir_of_another_model(trained, capsys):
    data, work = trained
    before = digest(work)
    args = ["--data-dir", data, "--workdir", work, "--model", "alexnet_owt", "--image-size"]
    one_line_error(*main(capsys, *args, "32", *TINY)[::2], "alexnet_cifar run")
    assert digest(work) == before


def test_damaged_newest_checkpoint_falls_back(trained, tmp_path, capsys):
    """A checkpoint damaged on disk (not by a kill: writes are atomic) is skipped with a
    warning and training resumes from the one before it."""
    data, trained_work = trained
    work = tmp_path / "run"
    shutil.copytree(trained_work, work)
    ck = work / "checkpoints"
    (ck / "epoch-0002.keras").write_bytes((ck / "epoch-0001.keras").read_bytes()[:5000])
    state = json.loads((ck / "epoch-0001.json").read_text())
    (ck / "epoch-0002.json").write_text(json.dumps({**state, "epochs_completed": 2}))
    code, out, err = main(capsys, "--data-dir", data, "--workdir", work, *TINY, "--epochs", "3")
    assert code == 0, err
    assert "epoch-0002.keras is damaged" in err and len(err.strip().splitlines()) == 1
    m = json.loads((work / "metrics.json").read_text())
    assert [h["epoch"] for h in m["history"]] == [1, 2, 3] and m["global_step"] == 3


@pytest.mark.parametrize(
    "tf_config, fragment",
    [(None, "needs $TF_CONFIG"), ("{not json", "not usable"), ('{"cluster": {}}', "not usable")],
)
def test_multi_worker_without_a_cluster(tf_config, fragment, tmp_path, capsys, monkeypatch):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    args = ["--dataset", "synthetic", "--strategy", "multi_worker", "--workdir", tmp_path, *TINY]
    one_line_error(*main(capsys, *args)[::2], fragment)


def test_interrupted_says_how_to_resume(capsys):
    def job():
        raise KeyboardInterrupt

    assert cli.run(job) == cli.EXIT_INTERRUPTED
    one_line_error(1, capsys.readouterr().err, "run the same command again to resume")


def test_evaluate_bad_input(trained, tmp_path, capsys):
    data, work = trained
    one_line_error(*main(capsys, "--workdir", tmp_path / "none", module=evaluate)[::2], "exist")
    (tmp_path / "fresh").mkdir()
    code, _, err = main(capsys, "--workdir", tmp_path / "fresh", module=evaluate)
    one_line_error(code, err, "no trained model")
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    args = ["--workdir", work, "--checkpoint", junk, "--data-dir", data]
    one_line_error(*main(capsys, *args, module=evaluate)[::2], "cannot load")
    args = ["--workdir", work, "--data-dir", data, "--ensemble", tmp_path / "none"]
    one_line_error(*main(capsys, *args, module=evaluate)[::2], "ensemble workdir", "not exist")
