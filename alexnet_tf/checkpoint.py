"""Atomic per-epoch checkpoints in a workdir, and finding the one to resume from."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

from alexnet_tf.errors import UsageError

CHECKPOINT_DIR = "checkpoints"
_EPOCH = re.compile(r"^epoch-(\d{4,})\.json$")


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers see the old or the new file.

    A kill or a full disk mid-write leaves at most a stray temporary file, never a truncated
    ``path``; an existing ``path`` is untouched until the new one is complete.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_json(path: str | os.PathLike, obj) -> None:
    """Atomically write ``obj`` as indented JSON."""

    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")

    atomic_write(path, write)


def prepare_workdir(workdir: str | os.PathLike) -> Path:
    """Create ``workdir`` (and its checkpoint folder) and prove it is writable."""
    root = Path(workdir)
    try:
        (root / CHECKPOINT_DIR).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as e:
        raise UsageError(f"workdir {root} is not writable: {e.strerror or e}") from None
    return root


def save_epoch(workdir: str | os.PathLike, epoch: int, model, state: dict, keep: int = 3) -> Path:
    """Save ``model`` (weights and optimizer state) and ``state`` as completed epoch ``epoch``.

    The model is written first and the JSON second, so an epoch counts as saved only when
    both exist. Older epochs beyond ``keep`` are removed after the new one is complete.
    """
    ckdir = Path(workdir) / CHECKPOINT_DIR
    model_path = ckdir / f"epoch-{epoch:04d}.keras"
    atomic_write(model_path, lambda tmp: model.save(tmp))
    write_json(ckdir / f"epoch-{epoch:04d}.json", {**state, "epochs_completed": epoch})
    for old in completed_epochs(workdir)[:-keep]:
        for suffix in (".keras", ".json"):
            with contextlib.suppress(FileNotFoundError):
                (ckdir / f"epoch-{old:04d}{suffix}").unlink()
    return model_path


def completed_epochs(workdir: str | os.PathLike) -> list[int]:
    """Epochs with both a model and a state file, ascending."""
    ckdir = Path(workdir) / CHECKPOINT_DIR
    if not ckdir.is_dir():
        return []
    epochs = []
    for name in os.listdir(ckdir):
        m = _EPOCH.match(name)
        if m and (ckdir / f"epoch-{m.group(1)}.keras").exists():
            epochs.append(int(m.group(1)))
    return sorted(epochs)


def latest(workdir: str | os.PathLike) -> tuple[Path, dict] | None:
    """The newest complete checkpoint ``(model_path, state)``, or ``None`` for a fresh workdir."""
    for epoch in reversed(completed_epochs(workdir)):
        base = Path(workdir) / CHECKPOINT_DIR / f"epoch-{epoch:04d}"
        try:
            with open(f"{base}.json") as f:
                return Path(f"{base}.keras"), json.load(f)
        except (OSError, ValueError):
            continue  # unreadable state: fall back to the previous epoch
    return None
