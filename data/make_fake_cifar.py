"""Write a tiny CIFAR-10 in the dataset authors' python layout (for tests and smoke runs).

    python data/make_fake_cifar.py OUT_DIR [--per-batch 16] [--test 16]

Creates ``OUT_DIR/cifar-10-batches-py/`` with ``data_batch_1..5``, ``test_batch`` and
``batches.meta``: pickles of ``{b"data": (N, 3072) uint8 channel-first rows, b"labels": [...]}``
exactly as in ``cifar-10-python.tar.gz``, filled with random pixels and labels.
"""

from __future__ import annotations

import argparse
import pickle
from pathlib import Path

import numpy as np

LABEL_NAMES = [
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


def write_cifar_layout(root: Path, per_batch: int = 16, test: int = 16, seed: int = 0) -> Path:
    """Write the layout under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = test if name == "test_batch" else per_batch
        batch = {
            b"batch_label": name.encode(),
            b"labels": [int(v) for v in rng.integers(0, 10, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            b"filenames": [f"{name}_{i}.png".encode() for i in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    meta = {b"label_names": [n.encode() for n in LABEL_NAMES], b"num_cases_per_batch": per_batch}
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump(meta, f)
    return Path(root)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--per-batch", type=int, default=16)
    p.add_argument("--test", type=int, default=16)
    a = p.parse_args()
    print(write_cifar_layout(a.out, a.per_batch, a.test) / "cifar-10-batches-py")
