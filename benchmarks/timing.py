"""Timing a compiled Keras model's training step: the one loop every Keras rate here uses."""

from __future__ import annotations

import time


def train_step_seconds(model, batch, steps: int, warmup: int = 1) -> list[float]:
    """Seconds of each of ``steps`` training steps of compiled ``model`` on one fixed batch,
    after ``warmup`` untimed steps (tracing, oneDNN's first-call kernel choice)."""
    x, y = batch
    for _ in range(warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    return times


def images_per_second(model, batch, steps: int, warmup: int = 1) -> float:
    """Steady-state training images/s of compiled ``model`` on ``batch``."""
    return steps * len(batch[0]) / sum(train_step_seconds(model, batch, steps, warmup))
