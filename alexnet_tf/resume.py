"""Resuming a run: the chief's newest checkpoint, checked, loaded and shared with every worker."""

from __future__ import annotations

import dataclasses

from alexnet_tf import callbacks, checkpoint, distribute
from alexnet_tf.errors import TrainingStopped, UsageError


def _shared(strategy, workers: int, value):
    """The chief's ``value`` on every worker (as is with one worker)."""
    return distribute.broadcast_json(strategy, value) if workers > 1 else value


def check_workdir(strategy, root, config, chief: bool, workers: int) -> None:
    """Refuse a workdir of another model or dataset, on every worker, before building anything."""
    error = None
    if chief:
        try:
            checkpoint.check_compatible(root, dataclasses.asdict(config))
        except UsageError as e:
            error = str(e)
    error = _shared(strategy, workers, error)
    if error:
        raise UsageError(error)


def restore(model, strategy, root, config, chief: bool, workers: int) -> tuple[str, dict] | None:
    """Load the chief's newest checkpoint into ``model`` (weights, optimizer state, step) and
    give every worker the same values and state: ``(path, state)``, or ``None`` when fresh.

    Only the chief reads the workdir: other workers receive its variables through the same
    collectives that training uses, so no shared filesystem is needed.
    """
    resumed, error = None, None
    if chief:
        try:
            resumed = checkpoint.restore(model, root)
        except UsageError as e:
            error = str(e)
    shared = _shared(strategy, workers, {"resumed": resumed, "error": error})
    resumed, error = shared["resumed"], shared["error"]
    if error:
        raise UsageError(error)
    if resumed and workers > 1:
        distribute.broadcast_variables(strategy, model.weights + model.optimizer.variables)
    old_lr = resumed[1].get("config", {}).get("lr") if resumed else None
    if old_lr and config.schedule == "plateau" and old_lr != config.lr:
        rate = model.optimizer.learning_rate  # --lr changed (e.g. after a NaN): rescale it
        rate.assign(callbacks.value(rate) * config.lr / old_lr)
    return (resumed[0], resumed[1]) if resumed else None


def diverged(error, root, chief: bool, global_step: int) -> TrainingStopped:
    """The NaN/Inf message; drops the checkpoint of the weights that gave it (step
    ``global_step``: its loss was finite, the next one is not) and names the one kept."""
    where = "the chief keeps its checkpoints"
    if chief:
        checkpoint.discard_from(root, global_step)
        kept = checkpoint.latest(root)
        where = "no checkpoint saved yet"
        if kept:
            state = kept[1]
            at = f", step {state['step']}" if state.get("step") else ""
            where = f"the checkpoint of epoch {state['epochs_completed']}{at} kept"
    return TrainingStopped(
        f"{error} ({where}): run again with a lower --lr to resume from the last checkpoint"
    )
