"""What every chapter shares: FAST mode, where the data, runs and figures are, sample images.

A chapter starts with ``s = chapter.settings()``. ``ALEXNET_FAST=1`` (what CI sets) picks tiny
synthetic settings that run in seconds and prove only that the chapter works; without it the
chapter trains (or reads back) the real runs on ``../shared/data`` and saves its figures.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np

from alexnet_tf import experiments, plots


@dataclasses.dataclass
class Settings:
    fast: bool
    data_dir: str | None  # holds cifar-10-batches-py/ and imagenette2-224/ (full mode)
    runs: Path  # one workdir per experiment variant
    main_run: Path  # the default CIFAR-10 command's workdir (chapter 7)
    figures: Path | None  # PNGs for chapters/RESULTS.md; None in FAST mode

    def run(self, name: str, epochs: int | None = None, fast_epochs: int = 1) -> dict:
        """Train (or read back) experiment variant ``name``: its metrics and history
        (``epochs`` overrides the variant's budget; FAST mode trains ``fast_epochs``)."""
        return experiments.run(
            name,
            self.runs,
            self.data_dir,
            epochs=fast_epochs if self.fast else epochs,
            fast=self.fast,
            verbose=not self.fast,
        )

    def save(self, fig, name: str) -> None:
        """Keep ``fig`` as ``figures/NAME.png`` (full mode only: FAST figures mean nothing)."""
        plots.save(fig, None if self.figures is None else self.figures / f"{name}.png")


def settings() -> Settings:
    """The chapter settings from the environment (ALEXNET_FAST, ALEXNET_DATA_DIR, ...)."""
    fast = os.environ.get("ALEXNET_FAST", "0") not in ("", "0")
    here = Path.cwd()
    data_dir = os.environ.get("ALEXNET_DATA_DIR", str(here / ".." / ".." / "shared" / "data"))
    if fast:  # tiny runs in a scratch dir (or $ALEXNET_FAST_RUNS, which CI shares among chapters)
        scratch = Path(tempfile.mkdtemp(prefix="alexnet-fast-"))
        runs = Path(os.environ.get("ALEXNET_FAST_RUNS", scratch / "runs"))
        return Settings(True, None, runs, scratch / "main", None)
    runs = Path(os.environ.get("ALEXNET_RUNS", here / ".." / "runs" / "ablations"))
    main = Path(os.environ.get("ALEXNET_MAIN_RUN", here / ".." / "runs" / "cifar10-default"))
    return Settings(False, data_dir, runs, main, here / "figures")


def cifar_images(s: Settings, n: int, split: str = "train", seed: int = 0):
    """``n`` images (uint8 NHWC), labels and class names: real CIFAR-10, or synthetic if FAST."""
    from alexnet_tf import data

    name = "synthetic" if s.fast else "cifar10"
    source = data.load_source(name, s.data_dir, image_size=32, num_examples=max(n, 64), seed=seed)
    ds = source.train if split == "train" else source.test
    images, labels = [], []
    for x, y in ds.take(n).as_numpy_iterator():
        images.append(x)
        labels.append(int(y))
    return np.stack(images), np.array(labels), list(source.class_names)
