"""Atomic checkpoints (per epoch and every N steps) in a workdir, and finding the one to resume."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from alexnet_tf.errors import UsageError

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^(epoch|step)-(\d{4,})\.json$")
KEEP_EPOCHS = 3  # completed epochs kept; mid-epoch checkpoints older than the newest epoch go
KEEP_STEPS = 2  # mid-epoch checkpoints kept (the newest, and one to fall back on)
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers see the old or the new file.

    A kill or a full disk mid-write leaves at most a stray temporary file (removed by
    :func:`clean_stale`), never a truncated ``path``; an existing ``path`` is untouched until
    the new one is complete and flushed to disk.
    """
    path = Path(path)
    # .NAME.RANDOM.tmp.SUFFIX: hidden, recognisable, and still ending .keras for Keras.
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}"
    )
    os.close(fd)
    try:
        try:
            write(tmp)
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would stick to the file
        except OSError as e:  # e.g. a full disk: say which file could not be written
            if e.filename or not e.errno:
                raise
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        os.replace(tmp, path)
        with contextlib.suppress(OSError):  # make the rename itself durable
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
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


def _base(workdir, epochs_completed: int, step: int, global_step: int) -> Path:
    name = f"epoch-{epochs_completed:04d}" if step == 0 else f"step-{global_step:08d}"
    return Path(workdir) / CHECKPOINT_DIR / name


def save(workdir: str | os.PathLike, model, state: dict) -> Path:
    """Save ``model`` (weights and optimizer state) and ``state`` as a checkpoint.

    ``state["epochs_completed"]`` and ``state["step"]`` (steps done in the next epoch, 0 at an
    epoch's end) say where training stands; ``state["global_step"]`` names mid-epoch
    checkpoints. The model is written first and the JSON second, each atomically, so a
    checkpoint counts only once both exist. Older ones are pruned after the new one is complete.
    """
    epochs, step = state["epochs_completed"], state.get("step", 0)
    base = _base(workdir, epochs, step, state.get("global_step", 0))
    atomic_write(f"{base}.keras", lambda tmp: model.save(tmp))
    write_json(f"{base}.json", state)
    _prune(workdir)
    return Path(f"{base}.keras")


def publish(path: str | os.PathLike, model, saved: Path | None) -> None:
    """Write ``model`` to ``path`` (a run's final ``model.keras``), atomically: a byte copy of
    ``saved``, the checkpoint it was last saved as while unchanged since, or else
    ``model.save``. (The paper's AlexNet, 488 MB with its optimizer state: 2.3 s to serialise
    again on 2 cores, 0.7 s to copy.)"""
    if saved is None:
        atomic_write(path, lambda tmp: model.save(tmp))
    else:
        atomic_write(path, lambda tmp: shutil.copyfile(saved, tmp))


def save_epoch(workdir: str | os.PathLike, epoch: int, model, state: dict) -> Path:
    """Save completed epoch ``epoch`` (see :func:`save`)."""
    return save(workdir, model, {**state, "epochs_completed": epoch, "step": 0})


def checkpoints(workdir: str | os.PathLike) -> list[tuple[tuple[int, int], Path, dict | None]]:
    """Complete checkpoints, oldest first: ``((epochs_completed, step), base path, state)``.

    ``state`` is ``None`` where the JSON does not parse (such a checkpoint is not resumed from).
    """
    ckdir = Path(workdir) / CHECKPOINT_DIR
    if not ckdir.is_dir():
        return []
    found = []
    for name in os.listdir(ckdir):
        m = _NAME.match(name)
        base = ckdir / name[: -len(".json")]
        if not m or not Path(f"{base}.keras").exists():
            continue
        try:
            with open(f"{base}.json") as f:
                state = json.load(f)
            key = (int(state["epochs_completed"]), int(state.get("step", 0)))
        except (OSError, ValueError, KeyError, TypeError):
            state, key = None, (int(m.group(2)), 0) if m.group(1) == "epoch" else (-1, 0)
        found.append((key, base, state))
    return sorted(found, key=lambda c: (c[0], c[1].name.startswith("epoch")))


def completed_epochs(workdir: str | os.PathLike) -> list[int]:
    """Epochs with both a model and a state file, ascending."""
    return [key[0] for key, base, _ in checkpoints(workdir) if base.name.startswith("epoch")]


def candidates(workdir: str | os.PathLike) -> list[tuple[Path, dict]]:
    """Checkpoints to resume from, newest first: ``(model_path, state)``."""
    return [
        (Path(f"{base}.keras"), state)
        for _, base, state in reversed(checkpoints(workdir))
        if state is not None
    ]


def latest(workdir: str | os.PathLike) -> tuple[Path, dict] | None:
    """The newest complete checkpoint ``(model_path, state)``, or ``None`` for a fresh workdir."""
    found = candidates(workdir)
    return found[0] if found else None


def _prune(workdir) -> None:
    """Keep KEEP_EPOCHS epochs and the KEEP_STEPS newest mid-epoch checkpoints after them."""
    found = checkpoints(workdir)
    epochs = [c for c in found if c[1].name.startswith("epoch")]
    newest_epoch = epochs[-1][0] if epochs else (-1, 0)
    steps = [c for c in found if c[1].name.startswith("step")]
    stale = epochs[:-KEEP_EPOCHS] + [c for c in steps if c[0] <= newest_epoch]
    stale += [c for c in steps if c[0] > newest_epoch][:-KEEP_STEPS]
    for _, base, _ in stale:
        for suffix in (".json", ".keras"):  # the state first: a half-pruned one is incomplete
            with contextlib.suppress(FileNotFoundError):
                Path(f"{base}{suffix}").unlink()


def clean_stale(workdir: str | os.PathLike) -> list[str]:
    """Remove what a killed run left behind: temporary files and models without their state.

    Call only while no other process writes to ``workdir``. Returns the names removed.
    """
    ckdir = Path(workdir) / CHECKPOINT_DIR
    removed = []
    for folder in (Path(workdir), ckdir):
        if not folder.is_dir():
            continue
        for p in folder.iterdir():
            orphan = (
                p.suffix == ".keras" and folder == ckdir and not p.with_suffix(".json").exists()
            )
            temporary = p.name.startswith(".") and (".tmp." in p.name or "write-test" in p.name)
            if (temporary and p.is_file()) or orphan:
                with contextlib.suppress(OSError):
                    p.unlink()
                    removed.append(p.name)
    return removed


def discard_from(workdir: str | os.PathLike, global_step: int) -> None:
    """Remove the checkpoints of ``global_step`` and later: their weights led to a NaN loss."""
    for _, base, state in checkpoints(workdir):
        if state is not None and state.get("global_step", 0) >= global_step:
            for suffix in (".json", ".keras"):
                with contextlib.suppress(FileNotFoundError):
                    Path(f"{base}{suffix}").unlink()


# What the saved weights compute, or the inputs they were trained on: a change would load
# without a word (LRN, pooling and the activations have no weights; nor has input_scale).
SAME_ON_RESUME = (
    *("activation", "norm", "lrn_alpha", "pooling", "towers", "mean", "raw_pixels"),
    *("init_scale", "grad_scale"),
)


def _flag(key: str, value) -> str:
    flag = "--" + key.replace("_", "-")
    if isinstance(value, bool):
        return f"{'with' if value else 'without'} {flag}"
    if isinstance(value, dict):
        scales = ",".join(f"{k}={v:g}" for k, v in value.items())
        return f"with {flag} {scales}" if value else f"without {flag}"
    return f"with {flag} {value}"


def check_compatible(workdir: str | os.PathLike, config: dict) -> None:
    """UsageError (one line, nothing touched) if ``workdir`` holds another model or dataset,
    a network or input of another kind (SAME_ON_RESUME), or a run whose optimizer state has
    (or lacks) the average of --ema or conv1 (--whiten)."""
    for _, state in candidates(workdir)[:1]:
        saved = state.get("config", {})
        for key in ("model", "dataset"):
            if saved.get(key) not in (None, config[key]):
                raise UsageError(
                    f"workdir {workdir} holds a {saved[key]} run, not {config[key]}: "
                    "use another --workdir"
                )
        for key in SAME_ON_RESUME:  # older runs may not record a key: nothing to compare
            if key in saved and saved[key] != config.get(key):
                was = _flag(key, saved[key])
                raise UsageError(
                    f"workdir {workdir} holds a run trained {was}: resume it {was}, "
                    "or use another --workdir"
                )
        # Keras would skip the whole optimizer state (momentum, step count) without a word.
        if bool(saved.get("ema")) != bool(config.get("ema")):
            was = f"with --ema {saved['ema']:g}" if saved.get("ema") else "without --ema"
            again = "with an --ema decay" if saved.get("ema") else "without --ema"
            raise UsageError(
                f"workdir {workdir} holds a run trained {was}: resume it {again}, "
                "or use another --workdir"
            )
        if bool(saved.get("whiten")) != bool(config.get("whiten")):  # conv1's momentum, too
            was = "with" if saved.get("whiten") else "without"
            raise UsageError(
                f"workdir {workdir} holds a run trained {was} --whiten: resume it {was} "
                "--whiten, or use another --workdir"
            )


def restore(model, workdir: str | os.PathLike) -> tuple[str, dict] | None:
    """Load the newest usable checkpoint of ``workdir`` into ``model`` (weights, optimizer
    state and step count); ``(path, state)``, or ``None`` for a fresh workdir.

    One that cannot be read at all (damaged on disk; a kill cannot do that, writes are atomic)
    is skipped with a warning for the one before it; one that does not fit ``model`` is a
    UsageError.
    """
    import logging
    import zipfile

    for path, state in candidates(workdir):
        try:
            with zipfile.ZipFile(path) as z:
                damaged = z.testzip()
        except (OSError, zipfile.BadZipFile) as e:
            damaged = str(e)
        if damaged:
            logging.getLogger(__name__).warning(
                "checkpoint %s is damaged (%s): resuming from the one before it", path, damaged
            )
            continue
        try:
            model.load_weights(path)
        except (ValueError, KeyError) as e:
            raise UsageError(f"cannot resume from {path}: {str(e).splitlines()[0]}") from None
        return str(path), state
    return None
