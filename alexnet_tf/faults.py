"""Kill a real training run at random moments, restart it each time, and prove nothing was lost.

    python -m alexnet_tf.faults [--kills 5] [--workers N] [--workdir DIR] -- TRAIN-ARGS

e.g. ``python -m alexnet_tf.faults -- --dataset cifar10 --data-dir ../shared/data --epochs 3
--steps-per-epoch 20 --checkpoint-steps 5 --batch-size 64``. Trains once uninterrupted
(DIR/reference), then again (DIR/interrupted) with SIGKILL at random moments, restarting the
same command after each kill; the kills aim in turn at a random moment after a random step, at
a checkpoint being written and at the start-up (``--plan`` chooses). With ``--workers N`` both
runs are N workers on 127.0.0.1 and each kill hits one worker at random. Both runs get
``--deterministic``.

Checks that every restart resumed from the newest checkpoint completed before the kill, that
the run ends with the right epochs and steps, a per-step loss history (steps.csv) without gaps
or repeats equal to the reference's, and final weights and optimizer state equal to the
reference's. Prints one line per kill and a verdict; exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from alexnet_tf import checkpoint, cli

RESUMED = re.compile(r"resuming from \S+ at .*\(global step (\d+)\)")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Run:
    """One launch of the training command: one process, or ``workers`` on 127.0.0.1."""

    def __init__(self, args: list[str], workdir: Path, workers: int, logs: Path, tag: str):
        self.logs = [logs / f"{tag}-worker{i}.log" for i in range(workers)]
        cluster = [f"127.0.0.1:{p}" for p in _free_ports(workers)]
        self.procs = []
        for i, log in enumerate(self.logs):
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            cmd = [sys.executable, "-m", "alexnet_tf.train", *args]
            cmd += ["--workdir", str(workdir), "--deterministic"]
            if workers > 1:
                task = {"type": "worker", "index": i}
                env["TF_CONFIG"] = json.dumps({"cluster": {"worker": cluster}, "task": task})
                env["TMPDIR"] = str(logs / f"worker{i}-scratch")  # each worker's scratch dir
                os.makedirs(env["TMPDIR"], exist_ok=True)
                cmd += ["--strategy", "multi_worker"]
            with open(log, "w") as out:
                self.procs.append(
                    subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
                )

    def alive(self) -> list[int]:
        return [i for i, p in enumerate(self.procs) if p.poll() is None]

    def wait(self, timeout: float) -> list[int | None]:
        deadline = time.time() + timeout
        while self.alive() and time.time() < deadline:
            time.sleep(0.05)
        return [p.poll() for p in self.procs]

    def kill(self, i: int) -> None:
        if self.procs[i].poll() is None:
            self.procs[i].kill()  # SIGKILL
            self.procs[i].wait()

    def kill_all(self) -> None:
        for i in range(len(self.procs)):
            self.kill(i)

    def text(self, i: int = 0) -> str:
        return self.logs[i].read_text(errors="replace")


# What each kill aims at, in turn: a random moment after a random step; a checkpoint being
# written; the start-up (loading data, building, restoring); then random steps again.
PLAN = ("step", "write", "startup", "step", "step")


def _last_step(workdir: Path) -> int:
    """The last global step in ``steps.csv`` (0: none), read from its end."""
    try:
        with open(workdir / "steps.csv", "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 512))
            lines = f.read().split(b"\n")[:-1]  # complete lines only
    except OSError:
        return 0
    last = lines[-1].split(b",")[0] if lines else b""
    return int(last) if last.isdigit() else 0


def _newest(workdir: Path) -> int:
    """The global step of the newest complete checkpoint (0: none)."""
    found = checkpoint.latest(workdir)
    return int(found[1].get("global_step", 0)) if found else 0


def _temporary(workdir: Path) -> set[str]:
    """Checkpoint files being written (or left half-written by a kill)."""
    ckdir = workdir / checkpoint.CHECKPOINT_DIR
    return {p.name for p in ckdir.iterdir() if ".tmp." in p.name} if ckdir.is_dir() else set()


def _rows(workdir: Path) -> list[dict]:
    with open(workdir / "steps.csv", newline="") as f:
        return list(csv.DictReader(f))


def _weights(path: Path) -> dict[str, np.ndarray]:
    """Every array in a .keras file's weights (model and optimizer), by name."""
    import h5py

    out = {}

    def keep(name, item):  # returns None: h5py stops visiting at the first other value
        if isinstance(item, h5py.Dataset):
            out[name] = item[()]

    with zipfile.ZipFile(path) as z, z.open("model.weights.h5") as raw:
        with h5py.File(io.BytesIO(raw.read()), "r") as h5:
            h5.visititems(keep)
    return out


def compare(reference: Path, interrupted: Path) -> list[str]:
    """Problems found in ``interrupted`` against the uninterrupted ``reference`` (none: [])."""
    problems = []
    ref, got = (json.loads((d / "metrics.json").read_text()) for d in (reference, interrupted))
    epochs, steps = ref["config"]["epochs"], ref["steps_per_epoch"]
    if got["epochs_completed"] != epochs or [h["epoch"] for h in got["history"]] != list(
        range(1, epochs + 1)
    ):
        problems.append(f"epochs {[h['epoch'] for h in got['history']]}, expected 1..{epochs}")
    if got["global_step"] != epochs * steps:
        problems.append(f"global step {got['global_step']}, expected {epochs * steps}")
    rows, ref_rows = _rows(interrupted), _rows(reference)
    if [int(r["global_step"]) for r in rows] != list(range(1, epochs * steps + 1)):
        problems.append("steps.csv has gaps or repeats")
    elif [r["loss"] for r in rows] != [r["loss"] for r in ref_rows]:
        problems.append("per-step losses differ from the reference")
    timing = {"elapsed_seconds", "images_per_second"}
    strip = lambda h: [{k: v for k, v in e.items() if k not in timing} for e in h]
    if strip(got["history"]) != strip(ref["history"]):
        problems.append("epoch history differs from the reference")
    a, b = _weights(reference / "model.keras"), _weights(interrupted / "model.keras")
    if a.keys() != b.keys():
        problems.append("the final models hold different variables")
    else:
        differ = [k for k in a if not np.array_equal(a[k], b[k])]
        if differ:
            problems.append(f"{len(differ)} of {len(a)} final arrays differ, e.g. {differ[0]}")
    return problems


def main(argv=None) -> int:
    p = cli.Parser(prog="python -m alexnet_tf.faults", description=__doc__.split("\n")[0])
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--workdir", help="default: a new temporary folder")
    p.add_argument("--seed", type=int, default=0, help="seeds the kill moments")
    p.add_argument(
        "--plan", default=",".join(PLAN),
        help=f"what the kills aim at, in turn: step, write, startup (default {','.join(PLAN)})",
    )  # fmt: skip
    p.add_argument("--timeout", type=float, default=1800, help="seconds allowed per launch")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then alexnet_tf.train flags")
    a = p.parse_args(argv)
    args = a.train_args[1:] if a.train_args[:1] == ["--"] else a.train_args
    args = [x for x in args if x != "--quiet"]  # the resume lines are what is checked
    plan = a.plan.split(",")
    if not set(plan) <= set(PLAN):
        p.error(f"--plan takes step, write and startup, got {a.plan!r}")
    root = Path(a.workdir or tempfile.mkdtemp(prefix="alexnet-faults-"))
    logs = root / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    reference, interrupted = root / "reference", root / "interrupted"
    rng = random.Random(a.seed)
    say = lambda *x: print(*x, flush=True)

    t0 = time.time()
    run = Run(args, reference, a.workers, logs, "reference")
    while run.alive() and not _last_step(reference) and time.time() - t0 < a.timeout:
        time.sleep(0.05)
    startup = time.time() - t0
    codes = run.wait(a.timeout)
    if codes != [0] * a.workers:
        run.kill_all()
        say(f"FAIL: the reference run exited with {codes}; see {run.logs[0]}")
        return 1
    total_time = time.time() - t0
    total = json.loads((reference / "metrics.json").read_text())["global_step"]
    say(f"reference: {total} steps in {total_time:.1f} s (first step after {startup:.1f} s)")

    kills, problems, expect, step_time = [], [], None, (total_time - startup) / total
    for attempt in range(1, 3 * a.kills + 1):
        if len(kills) == a.kills:
            break
        done = _last_step(interrupted)
        mode = plan[len(kills) % len(plan)] if done < total else "startup"
        target = done + rng.randint(1, max(1, (total - done) // (a.kills - len(kills))))
        delay = rng.uniform(0.2, 0.9) * startup
        stale = _temporary(interrupted)  # left by the last kill, removed when the run starts
        run, start = Run(args, interrupted, a.workers, logs, f"launch{attempt}"), time.time()
        while len(run.alive()) == a.workers and time.time() - start < a.timeout:
            if mode == "startup" and time.time() - start >= delay:
                break
            if mode == "write" and _temporary(interrupted) - stale:
                break
            if mode == "step" and _last_step(interrupted) >= target:
                time.sleep(rng.uniform(0, step_time))  # anywhere in the next step
                break
            time.sleep(0.005)
        if len(run.alive()) < a.workers:  # finished (or failed) before the kill
            run.wait(a.timeout)
            break
        victim = rng.randrange(a.workers)
        run.kill(victim)
        at = time.time() - start
        others = run.wait(60) if a.workers > 1 else []  # None: still waiting
        run.kill_all()
        resumed = RESUMED.search(run.text())  # absent when killed before it was printed
        resumed = int(resumed.group(1)) if resumed else None if expect else 0  # 0: afresh
        if resumed is not None and resumed != (expect or 0):
            problems.append(f"launch {attempt} resumed at step {resumed}, not {expect}")
        what = "mid checkpoint write" if _temporary(interrupted) - stale else "running"
        expect, done = _newest(interrupted), _last_step(interrupted)
        left = [c for i, c in enumerate(others) if i != victim]
        gone = f"; the other workers exited with {left}" if a.workers > 1 else ""
        kills.append(expect)
        how = {None: "killed before resuming", 0: "started at step 0"}.get(
            resumed, f"resumed at step {resumed}"
        )
        say(
            f"kill {len(kills)} ({mode}): worker {victim} SIGKILLed {at:.1f} s after launch "
            f"{attempt} ({what}; {how}); last step logged {done}, newest checkpoint at step "
            f"{expect}{gone}"
        )
    final = Run(args, interrupted, a.workers, logs, "final")
    codes = final.wait(a.timeout)
    final.kill_all()
    resumed = RESUMED.search(final.text())
    if codes != [0] * a.workers:
        problems.append(f"the final launch exited with {codes} (see {final.logs[0]})")
    elif expect is not None and (int(resumed.group(1)) if resumed else 0) != expect:
        problems.append(f"the final launch did not resume at step {expect}")
    if len(kills) < a.kills:
        problems.append(f"only {len(kills)} of {a.kills} kills landed before the run finished")
    damaged = [x for x in logs.glob("launch*.log") if "damaged" in x.read_text(errors="replace")]
    if damaged:
        problems.append(f"a checkpoint was found damaged after a kill ({damaged[0]})")
    if not problems:
        problems = compare(reference, interrupted)
    m = json.loads((interrupted / "metrics.json").read_text()) if not codes[0] else {}
    say(
        f"interrupted run: {len(kills)} kills, {m.get('epochs_completed')} epochs, "
        f"{m.get('global_step')} steps; steps.csv, history and final weights compared with "
        f"the reference: {'identical' if not problems else 'DIFFERENT'}"
    )
    for problem in problems:
        say(f"FAIL: {problem}")
    say("PASS" if not problems else f"FAIL (logs in {logs})")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
