"""Timing a call after untimed warm-up calls: the one loop every timed step here uses."""

from __future__ import annotations

import time


def call_seconds(fn, steps: int, warmup: int = 1) -> list[float]:
    """Seconds of each of ``steps`` calls of ``fn()``, after ``warmup`` untimed calls
    (tracing, oneDNN's first-call kernel choice)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def train_step_seconds(model, batch, steps: int, warmup: int = 1) -> list[float]:
    """Seconds of each of ``steps`` training steps of compiled ``model`` on one fixed batch."""
    x, y = batch
    return call_seconds(lambda: model.train_on_batch(x, y), steps, warmup)


def images_per_second(model, batch, steps: int, warmup: int = 1) -> float:
    """Steady-state training images/s of compiled ``model`` on ``batch``."""
    return steps * len(batch[0]) / sum(train_step_seconds(model, batch, steps, warmup))
