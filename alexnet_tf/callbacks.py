"""Training-loop hooks: progress bar with images/s, §5's lr/10 rule, the workdir's logs."""

from __future__ import annotations

import csv
import io
import sys
import time
from pathlib import Path

import numpy as np

from alexnet_tf import checkpoint, optim


class ImagesPerSecond:
    """Progress bar with loss, accuracy, images/s and ETA; measures steady-state throughput.

    In a terminal the bar redraws in place; in a log it prints a line every 10% of an epoch.
    The first step of each run (graph tracing) is excluded from the measured rate, unless it
    is the only step (a smoke run): then its rate, tracing included, is what is reported.
    """

    def __init__(self, batch_size: int, steps: int, epochs: int, verbose=True, stream=None):
        self.batch_size, self.steps, self.epochs, self.verbose = batch_size, steps, epochs, verbose
        self.stream = stream or sys.stdout
        self.images, self.seconds = 0, 0.0
        self.epoch_images, self.epoch_seconds = 0, 0.0
        self._first_batch = True
        self._warmup_rate = 0.0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else self._warmup_rate

    @property
    def epoch_rate(self) -> float:
        return self.epoch_images / self.epoch_seconds if self.epoch_seconds else self._warmup_rate

    def epoch_begin(self, epoch: int, first_step: int = 0) -> None:
        """Epoch ``epoch`` (0-based) starts, or resumes after ``first_step`` steps."""
        self.epoch_images, self.epoch_seconds = 0, 0.0
        self._epoch = f"epoch {epoch + 1}/{self.epochs}"
        self._tty = self.stream.isatty()
        self._next_line = first_step / self.steps + 0.1
        self._t = self._epoch_start = time.perf_counter()
        self._first_step = first_step

    def batch_end(self, step: int, logs: dict) -> None:
        """Step ``step`` (0-based, within the epoch) is done; ``logs`` holds running means."""
        now = time.perf_counter()
        if self._first_batch:
            self._first_batch = False
            self._warmup_rate = self.batch_size / max(now - self._t, 1e-9)
        else:
            self.epoch_images += self.batch_size
            self.epoch_seconds += now - self._t
            self.images += self.batch_size
            self.seconds += now - self._t
        self._t = now
        done = (step + 1) / self.steps
        if self.verbose and (self._tty or done >= self._next_line or step + 1 == self.steps):
            self._next_line = done + 0.1
            self._render(step + 1, logs, now)

    def _render(self, step: int, logs: dict, now: float) -> None:
        elapsed = now - self._epoch_start
        eta = elapsed / max(step - self._first_step, 1) * (self.steps - step)
        width = 20
        fill = int(width * step / self.steps)
        line = (
            f"{self._epoch} [{'=' * fill}{'.' * (width - fill)}] {step}/{self.steps}"
            f" loss {float(logs.get('loss', np.nan)):.4f}"
            + (f" top1 {float(logs['top1']):.4f}" if "top1" in logs else "")
            + f" {self.epoch_rate:7.1f} images/s {_clock(elapsed)} elapsed, ETA {_clock(eta)}"
        )
        end = "\n" if (not self._tty or step == self.steps) else ""
        print(("\r" if self._tty else "") + line, end=end, file=self.stream, flush=True)


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class PlateauRule:
    """§5: divide the learning rate by 10 when the validation error stops improving.

    At most ``max_reductions`` times (the paper reduced it three times). Its state travels in
    the checkpoint so a resumed run keeps counting where it stopped.
    """

    def __init__(
        self, patience: int = 3, max_reductions: int = optim.MAX_LR_REDUCTIONS, state=None
    ):
        self.patience, self.max_reductions = patience, max_reductions
        self.state = {"best": None, "wait": 0, "reductions": 0, **(state or {})}

    def step(self, error: float, optimizer, verbose: bool = True) -> None:
        """Record one epoch's validation error; divide ``optimizer``'s rate when it plateaus."""
        s = self.state
        if s["best"] is None or error < s["best"] - 1e-4:
            s["best"], s["wait"] = error, 0
            return
        s["wait"] += 1
        if s["wait"] >= self.patience and s["reductions"] < self.max_reductions:
            new = value(optimizer.learning_rate) / optim.LR_DIVISOR
            optimizer.learning_rate.assign(new)
            s["wait"], s["reductions"] = 0, s["reductions"] + 1
            if verbose:
                print(f"validation error stopped improving: learning rate divided by 10 to {new:g}")


STEP_FIELDS = ("global_step", "epoch", "step", "loss", "top1_error")


class RunLog:
    """The workdir's logs: ``steps.csv`` (one row per step), ``history.csv`` (one per epoch)
    and TensorBoard scalars. Only the chief writes them; ``enabled=False`` makes a no-op.

    ``steps.csv`` is cut back to the resumed checkpoint's step when a run resumes, so the steps
    a killed run did after its last checkpoint (and will redo) appear once, not twice.
    """

    def __init__(self, root: Path, resume_step: int, enabled: bool = True):
        self.root, self.enabled = Path(root), enabled
        self._steps = None
        if not enabled:
            return
        path = self.root / "steps.csv"
        rows = _read_rows(path)
        kept = [r for r in rows if int(r["global_step"]) <= resume_step]
        if len(kept) != len(rows) or not path.exists():
            checkpoint.atomic_write(path, lambda tmp: _write_rows(tmp, STEP_FIELDS, kept))
        self._steps = open(path, "a", newline="")  # noqa: SIM115  (closed in close())
        self._writer = csv.DictWriter(self._steps, STEP_FIELDS)
        import tensorflow as tf

        self._tb = {
            name: tf.summary.create_file_writer(str(self.root / "tensorboard" / name))
            for name in ("train", "validation")
        }

    def step(self, **row) -> None:
        if self._steps is not None:
            self._writer.writerow(row)
            self._steps.flush()  # a small write per step: progress is visible as it happens

    def flush(self) -> None:
        """Before a checkpoint: every step it covers is in ``steps.csv``."""
        if self._steps is not None:
            self._steps.flush()

    def epoch(self, history: list[dict]) -> None:
        """Rewrite ``history.csv`` from ``history`` and add the last epoch to TensorBoard."""
        if not self.enabled:
            return
        fields = list(dict.fromkeys(k for h in history for k in h))
        checkpoint.atomic_write(
            self.root / "history.csv", lambda tmp: _write_rows(tmp, fields, history)
        )
        last = history[-1]
        for name, prefix in (("train", ""), ("validation", "val_")):
            with self._tb[name].as_default(step=int(last["epoch"])):
                import tensorflow as tf

                for key in ("loss", "top1_error", "top5_error", "lr"):
                    if prefix + key in last:
                        tf.summary.scalar(f"epoch_{key}", last[prefix + key])
            self._tb[name].flush()

    def close(self) -> None:
        if self._steps is not None:
            self._steps.close()
            self._steps = None


def _read_rows(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return [r for r in csv.DictReader(f) if r.get("global_step", "").isdigit()]
    except OSError:
        return []


def _write_rows(path, fields, rows) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    Path(path).write_text(buf.getvalue())


def value(v) -> float:
    """A scalar variable or tensor's value (also a MirroredVariable's, under any strategy)."""
    import keras

    return float(keras.ops.convert_to_numpy(v))


def num(v) -> float:
    """A log value as a plain float, rounded to 6 decimals for readable JSON."""
    return round(float(np.asarray(v)), 6)


def epochs_within(budget_seconds: float, elapsed_seconds: float, done: int, most: int) -> int:
    """How many epochs a run can finish in ``budget_seconds`` at its pace so far (``done``
    epochs in ``elapsed_seconds``, evaluations included): never fewer than ``done``, never more
    than ``most``."""
    if done <= 0 or elapsed_seconds <= 0:
        return most
    return max(done, min(most, int(budget_seconds * done / elapsed_seconds)))


def time_to_accuracy(history: list[dict], targets=(0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)) -> dict:
    """Wall-clock seconds (evaluation included) until test top-1 accuracy first reached each
    target: ``{"0.90": 3120.5, ...}``; targets never reached are left out."""
    out = {}
    for target in targets:
        for row in history:
            if row.get("val_top1_error") is not None and 1 - row["val_top1_error"] >= target:
                out[f"{target:.2f}"] = row["elapsed_seconds"]
                break
    return out
