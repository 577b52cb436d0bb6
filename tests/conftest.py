"""Shared test set-up: quiet TensorFlow, a tiny CIFAR python layout, running the CLIs."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data"))
from make_fake_cifar import write_cifar_layout  # noqa: E402  (re-exported to the tests)

__all__ = ["REPO", "run_module", "write_cifar_layout"]


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
