"""Shared test set-up: quiet TensorFlow, a CIFAR python layout written by the tests."""

import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = Path(__file__).resolve().parents[1]


def write_cifar_layout(root: Path, per_batch: int = 16, test: int = 16, seed: int = 0) -> Path:
    """A tiny ``cifar-10-batches-py/`` in the dataset authors' pickle format."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        n = test if name == "test_batch" else per_batch
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        names10 = [
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck",
        ]
        pickle.dump(
            {b"label_names": [n.encode() for n in names10], b"num_cases_per_batch": per_batch}, f
        )
    return root


@pytest.fixture
def cifar_dir(tmp_path):
    return write_cifar_layout(tmp_path / "data")


def run_module(module: str, *args, env=None, timeout=300):
    """Run ``python -m module args`` in a fresh process (the real CLI), capture its output."""
    import subprocess

    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )
