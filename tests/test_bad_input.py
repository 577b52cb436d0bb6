"""Bad input: one clear line on stderr, a non-zero exit, no traceback, nothing saved lost."""

import hashlib
import pickle

import pytest
from conftest import run_module, write_cifar_layout

TINY = ["--epochs", "1", "--steps-per-epoch", "1", "--batch-size", "8", "--quiet"]


def _one_line_error(r, *fragments):
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def _digest(folder):
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workdir holding one completed epoch, to prove failures never touch it."""
    root = tmp_path_factory.mktemp("trained")
    data = write_cifar_layout(root / "data")
    work = root / "run"
    r = run_module(
        "alexnet_tf.train", "--dataset", "cifar10", "--data-dir", data, "--workdir", work, *TINY
    )
    assert r.returncode == 0, r.stderr
    return data, work


def _corrupt_copy(tmp_path, data, name, payload: bytes):
    bad = tmp_path / "bad"
    (bad / "cifar-10-batches-py").mkdir(parents=True)
    for f in (data / "cifar-10-batches-py").iterdir():
        (bad / "cifar-10-batches-py" / f.name).write_bytes(f.read_bytes())
    (bad / "cifar-10-batches-py" / name).write_bytes(payload)
    return bad


CASES = {
    "unknown dataset": (["--dataset", "imagenet21k"], ["unknown dataset"]),
    "unknown model": (["--model", "vgg16"], ["unknown model"]),
    "unknown flag": (["--learning-rate", "0.1"], ["unrecognized arguments"]),
    "negative epochs": (["--epochs", "-3"], ["epochs must be positive"]),
    "non-numeric batch": (["--batch-size", "many"], ["invalid int value"]),
    "dropout out of range": (["--dropout", "1.5"], ["dropout"]),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_flags(case, trained):
    data, work = trained
    before = _digest(work)
    flags, fragments = CASES[case]
    args = ["--dataset", "cifar10", "--data-dir", data, "--workdir", work, *TINY]
    r = run_module("alexnet_tf.train", *args, *flags)
    _one_line_error(r, *fragments)
    assert _digest(work) == before


def test_truncated_pickle(trained, tmp_path):
    data, work = trained
    before = _digest(work)
    raw = (data / "cifar-10-batches-py" / "data_batch_3").read_bytes()
    bad = _corrupt_copy(tmp_path, data, "data_batch_3", raw[: len(raw) // 2])
    r = run_module(
        "alexnet_tf.train", "--dataset", "cifar10", "--data-dir", bad, "--workdir", work, *TINY
    )
    _one_line_error(r, "data_batch_3")
    assert _digest(work) == before


def test_pickle_of_wrong_shape(trained, tmp_path):
    data, work = trained
    payload = pickle.dumps({b"data": b"\x00" * 100, b"labels": [0]})
    bad = _corrupt_copy(tmp_path, data, "test_batch", payload)
    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "cifar10",
        "--data-dir",
        bad,
        "--workdir",
        tmp_path / "w",
        *TINY,
    )
    _one_line_error(r, "test_batch")


def test_missing_and_empty_data(tmp_path):
    (tmp_path / "empty").mkdir()
    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "folder",
        "--data-dir",
        tmp_path / "empty",
        "--workdir",
        tmp_path / "w",
        *TINY,
    )
    _one_line_error(r, "empty")
    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "folder",
        "--data-dir",
        tmp_path / "nowhere",
        "--workdir",
        tmp_path / "w",
        *TINY,
    )
    _one_line_error(r, "nowhere")
    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "cifar10",
        "--data-dir",
        tmp_path / "empty",
        "--workdir",
        tmp_path / "w",
        *TINY,
        env={"HOME": str(tmp_path)},
    )
    _one_line_error(r, "cifar-10-batches-py")


def test_batch_not_divisible_by_replicas(tmp_path):
    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "synthetic",
        "--strategy",
        "mirrored",
        "--devices",
        "2",
        "--batch-size",
        "7",
        "--epochs",
        "1",
        "--workdir",
        tmp_path / "w",
    )
    _one_line_error(r, "not divisible by the 2 replicas")


def test_unwritable_workdir(trained, tmp_path):
    data, _ = trained
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "cifar10",
        "--data-dir",
        data,
        "--workdir",
        blocker / "run",
        *TINY,
    )
    _one_line_error(r, "not writable")


def test_workdir_of_another_model(trained):
    data, work = trained
    before = _digest(work)
    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "cifar10",
        "--data-dir",
        data,
        "--workdir",
        work,
        "--model",
        "alexnet_owt",
        "--image-size",
        "32",
        *TINY,
    )
    _one_line_error(r, "alexnet_cifar run")
    assert _digest(work) == before


def test_evaluate_bad_input(trained, tmp_path):
    data, work = trained
    _one_line_error(
        run_module("alexnet_tf.evaluate", "--workdir", tmp_path / "none"), "does not exist"
    )
    (tmp_path / "fresh").mkdir()
    _one_line_error(
        run_module("alexnet_tf.evaluate", "--workdir", tmp_path / "fresh"), "no trained model"
    )
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    r = run_module(
        "alexnet_tf.evaluate", "--workdir", work, "--checkpoint", junk, "--data-dir", data
    )
    _one_line_error(r, "cannot load")
