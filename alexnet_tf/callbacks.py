"""Training callbacks: a progress bar with images/s, per-epoch checkpoints, §5's lr/10 rule."""

from __future__ import annotations

import sys
import time

import keras
import numpy as np

from alexnet_tf import checkpoint, optim


class ImagesPerSecond(keras.callbacks.Callback):
    """Progress bar with loss, accuracy, images/s and ETA; measures steady-state throughput.

    In a terminal the bar redraws in place; in a log it prints a line every 10% of an epoch.
    The first batch of each ``fit`` (graph tracing) is excluded from the measured rate.
    """

    def __init__(self, batch_size: int, steps: int, verbose: bool = True, stream=None):
        super().__init__()
        self.batch_size, self.steps, self.verbose = batch_size, steps, verbose
        self.stream = stream or sys.stdout
        self.images, self.seconds = 0, 0.0
        self._first_batch = True

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_images, self.epoch_seconds = 0, 0.0
        self._epoch = f"epoch {epoch + 1}/{self.params.get('epochs', '?')}"
        self._tty = self.stream.isatty()
        self._next_line = 0.0
        self._t = self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        if self._first_batch:
            self._first_batch = False
        else:
            self.epoch_images += self.batch_size
            self.epoch_seconds += now - self._t
            self.images += self.batch_size
            self.seconds += now - self._t
        self._t = now
        done = (batch + 1) / self.steps
        if self.verbose and (self._tty or done >= self._next_line or batch + 1 == self.steps):
            self._next_line = done + 0.1
            self._render(batch + 1, logs or {}, now)

    def _render(self, step: int, logs: dict, now: float) -> None:
        rate = self.epoch_images / self.epoch_seconds if self.epoch_seconds else 0.0
        elapsed = now - self._epoch_start
        eta = elapsed / step * (self.steps - step)
        width = 20
        fill = int(width * step / self.steps)
        line = (
            f"{self._epoch} [{'=' * fill}{'.' * (width - fill)}] {step}/{self.steps}"
            f" loss {float(logs.get('loss', np.nan)):.4f}"
            + (f" top1 {float(logs['top1']):.4f}" if "top1" in logs else "")
            + f" {rate:7.1f} images/s {_clock(elapsed)} elapsed, ETA {_clock(eta)}"
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

    def step(self, error: float, optimizer) -> None:
        """Record one epoch's validation error; divide ``optimizer``'s rate when it plateaus."""
        s = self.state
        if s["best"] is None or error < s["best"] - 1e-4:
            s["best"], s["wait"] = error, 0
            return
        s["wait"] += 1
        if s["wait"] >= self.patience and s["reductions"] < self.max_reductions:
            new = float(np.asarray(optimizer.learning_rate)) / optim.LR_DIVISOR
            optimizer.learning_rate.assign(new)
            s["wait"], s["reductions"] = 0, s["reductions"] + 1
            print(f"validation error stopped improving: learning rate divided by 10 to {new:g}")


class EpochCheckpoint(keras.callbacks.Callback):
    """Adds error rates, lr and time to the logs, keeps the history, checkpoints each epoch."""

    def __init__(
        self, workdir, history, speed: ImagesPerSecond, plateau=None, elapsed=0.0, extra=None
    ):
        super().__init__()
        self.workdir, self.history, self.speed, self.plateau = workdir, history, speed, plateau
        self.extra = extra or {}
        self.diverged_at = None
        self._start = time.perf_counter() - elapsed

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._start

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if not np.isfinite(float(logs.get("loss", 0.0))):
            # TerminateOnNaN stopped the epoch: keep the last good checkpoint as the newest.
            self.diverged_at = epoch + 1
            return
        for prefix in ("", "val_"):
            for k in ("top1", "top5"):
                if prefix + k in logs:
                    logs[f"{prefix}{k}_error"] = 1.0 - float(logs[prefix + k])
        logs["lr"] = float(np.asarray(self.model.optimizer.learning_rate))
        logs["elapsed_seconds"] = round(self.elapsed, 2)
        logs["images_per_second"] = round(
            self.speed.epoch_images / max(self.speed.epoch_seconds, 1e-9), 2
        )
        if self.plateau is not None and "val_top1_error" in logs:
            self.plateau.step(logs["val_top1_error"], self.model.optimizer)
        self.history.append({"epoch": epoch + 1, **{k: _num(v) for k, v in logs.items()}})
        state = {"history": self.history, "elapsed_seconds": self.elapsed, **self.extra}
        if self.plateau is not None:
            state["plateau"] = self.plateau.state
        checkpoint.save_epoch(self.workdir, epoch + 1, self.model, state)


def _num(v):
    v = float(np.asarray(v))
    return round(v, 6)
