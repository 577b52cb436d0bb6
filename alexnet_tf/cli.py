"""Command-line plumbing shared by train and evaluate: one-line errors, never a traceback."""

from __future__ import annotations

import argparse
import os
import sys

# Quiet TensorFlow's C++ start-up logging before it is imported anywhere.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_USAGE = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr (exit 2), not usage + error."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def import_tensorflow_quietly():
    """Import TensorFlow and find its devices with stderr silenced at the file-descriptor level.

    TensorFlow 2.21 prints C++ start-up lines (oneDNN, CUDA probing) to fd 2 whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says; a CLI whose errors are one line on stderr cannot let them
    through. Errors raised here still surface: only the C++ chatter is dropped.

    It also turns on TensorFlow's oneDNN CPU kernels unless ``$TF_ENABLE_ONEDNN_OPTS`` says
    otherwise: TensorFlow does so itself only on CPUs with AVX512 features, and on an AVX2
    host (AMD Zen 3) its default kernels train the CIFAR-10 preset 2.3x slower (BENCHMARKS.md).
    """
    came_first = "tensorflow" in sys.modules  # then the variable below is read already
    chosen = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    if not chosen:  # read once, when TensorFlow loads
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "1"
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*shuffle=True.*")
    logging.getLogger("absl").setLevel(logging.ERROR)  # tensorflow-datasets' notices
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    from alexnet_tf.precision import onednn_on

    advice = onednn_advice(came_first, chosen, onednn_on())
    if advice:
        warnings.warn(advice, stacklevel=3)
    return tf


def onednn_advice(tensorflow_came_first: bool, chosen: str | None, onednn_on: bool):
    """What to tell a user whose TensorFlow, imported before alexnet_tf, left oneDNN off."""
    if tensorflow_came_first and not chosen and not onednn_on:
        return (
            "TensorFlow was imported before alexnet_tf, with its oneDNN CPU kernels off on this "
            "CPU (training is ~2x slower): import alexnet_tf first, or set TF_ENABLE_ONEDNN_OPTS=1"
        )
    return None


def _warnings_as_lines() -> None:
    """The package's warnings (e.g. images skipped) as one ``warning: ...`` line on stderr."""
    import logging

    class Stderr(logging.StreamHandler):  # whatever sys.stderr is now (tests swap it)
        stream = property(lambda self: sys.stderr, lambda self, value: None)

    logger = logging.getLogger("alexnet_tf")
    if not logger.handlers:
        handler = Stderr()
        handler.setFormatter(logging.Formatter("warning: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def fail(message: str, code: int = EXIT_FAILURE) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def run(job) -> int:
    """Run ``job()``; turn known failures into one line on stderr and an exit code."""
    from alexnet_tf.errors import TrainingStopped, UsageError

    import_tensorflow_quietly()
    _warnings_as_lines()
    try:
        job()
    except UsageError as e:
        return fail(str(e), EXIT_USAGE)
    except TrainingStopped as e:
        return fail(str(e), EXIT_FAILURE)
    except KeyboardInterrupt:
        return fail("interrupted: run the same command again to resume", EXIT_INTERRUPTED)
    except MemoryError:
        return fail("out of memory: lower --batch-size", EXIT_FAILURE)
    except OSError as e:
        where = f" ({e.filename})" if getattr(e, "filename", None) else ""
        return fail(f"{e.strerror or e}{where}; checkpoints already saved are intact")
    except Exception as e:  # TensorFlow errors (corrupt data mid-stream, device failures)
        import tensorflow as tf

        if isinstance(e, tf.errors.OpError):
            first = (e.message or str(e)).strip().splitlines()[0]
            return fail(f"{type(e).__name__}: {first}; checkpoints already saved are intact")
        raise
    return 0
