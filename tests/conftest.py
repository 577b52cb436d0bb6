"""Shared test set-up: quiet TensorFlow, a tiny CIFAR python layout, running the CLIs."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "data"))
from make_fake_cifar import write_cifar_layout  # noqa: E402  (re-exported to the tests)

__all__ = ["REPO", "run_module", "write_cifar_layout", "write_image_folder"]


def pytest_configure(config):
    """Before any test module imports TensorFlow, where tests run (an xdist worker, or a run
    without workers): the package's set-up (oneDNN CPU kernels on, as the CLIs have them; see
    alexnet_tf.cli.import_tensorflow_quietly) holds in this process too. The xdist controller
    runs no test, so it skips TensorFlow's import (7-9 s before the workers start).

    The CPU is split into two logical devices, as ``--devices 2`` does before TensorFlow
    starts, so that tests of two replicas (MirroredStrategy) run in the worker, not in a new
    process that imports TensorFlow again. Everything else runs on the first, as without it."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        from alexnet_tf import distribute

        distribute.split_devices(2)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """An xdist worker ends here, its results sent (at sessionfinish), without Python's
    teardown of TensorFlow, Keras and every test's objects: that took 7 s at the suite's end,
    while the controller waited for the process to exit."""
    if hasattr(config, "workerinput"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def pytest_collection_modifyitems(items):
    """Tests marked ``heavy`` (a training process, a notebook kernel: 14-70 s each) first, so
    that the two workers share them out at the start and finish together, where one would
    otherwise run the last long test while the other waits."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)  # stable


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


def write_image_folder(root: Path, val: str = "val") -> Path:
    """train/{cat,dog} and VAL/{cat,dog} of tiny images, train/cat holding every odd kind:
    grayscale, CMYK, a PNG named .jpg, an upper-case .JPEG, a zero-byte and a corrupt file,
    and a non-image file to ignore. 7 decodable training images (5 cat, 2 dog), 2 in VAL."""
    import io

    import numpy as np
    from PIL import Image

    def encode(image, fmt="JPEG"):
        buf = io.BytesIO()
        image.save(buf, fmt)
        return buf.getvalue()

    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8))
    files = {
        "train/cat/rgb.jpg": encode(rgb),
        "train/cat/gray.jpg": encode(rgb.convert("L")),
        "train/cat/cmyk.jpg": encode(rgb.convert("CMYK")),
        "train/cat/png_inside.jpg": encode(rgb, "PNG"),
        "train/cat/upper.JPEG": encode(rgb),
        "train/cat/empty.jpg": b"",
        "train/cat/corrupt.jpg": b"\xff\xd8\xff\xe0 this is not really a jpeg",
        "train/cat/notes.txt": b"ignored",
        "train/dog/a.png": encode(rgb.resize((16, 12)), "PNG"),
        "train/dog/b.jpg": encode(rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        f"{val}/cat/v.jpeg": encode(rgb),
        f"{val}/dog/w.jpg": encode(rgb),
    }
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def random_cov(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 3x3 RGB covariance with known eigenvalues (0.04, 0.01, 0.0025) and eigenvectors."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    lam = np.array([0.04, 0.01, 0.0025])
    return q @ np.diag(lam) @ q.T, lam, q
