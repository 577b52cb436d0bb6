"""Image folders (ImageNet's SPLIT/CLASS/*.jpg layout): scanned once, undecodable files skipped."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys

import numpy as np
import tensorflow as tf

from alexnet_tf.errors import DataError
from alexnet_tf.sources import Source, _decode

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
EVAL_SPLITS = ("val", "validation", "test")


def _list_images(class_dir: str) -> tuple[list[str], list[str]]:
    """Image files of one class folder (sorted), and the zero-byte ones left out."""
    ext = lambda name: os.path.splitext(name)[1].lower()
    found = [e for e in os.scandir(class_dir) if e.is_file() and ext(e.name) in IMAGE_EXTENSIONS]
    empty = sorted(e.path for e in found if e.stat().st_size == 0)
    return sorted(e.path for e in found if e.stat().st_size > 0), empty


def folder_files(root: str) -> dict:
    """Scan ROOT/{train,val|validation|test}/CLASS/*: {"train"|"test": (paths, labels, classes)}
    plus "empty": the zero-byte image files left out."""
    if not root or not os.path.isdir(root):
        raise DataError(
            f"image folder {root!r} not found: pass --data-dir ROOT holding train/CLASS/*.jpg "
            "and val/CLASS/*.jpg"
        )
    eval_dir = next((d for d in EVAL_SPLITS if os.path.isdir(os.path.join(root, d))), None)
    if not os.path.isdir(os.path.join(root, "train")) or eval_dir is None:
        raise DataError(
            f"image folder {root} needs split folders train/ and one of val/, validation/, test/ "
            f"(found: {', '.join(sorted(os.listdir(root))[:6]) or 'nothing'})"
        )
    out, classes, empty = {}, None, []
    for split, sub in (("train", "train"), ("test", eval_dir)):
        split_dir = os.path.join(root, sub)
        names = sorted(e.name for e in os.scandir(split_dir) if e.is_dir() and e.name[0] != ".")
        if not names:
            raise DataError(f"{split_dir} has no class folders: expected {split_dir}/CLASS/*.jpg")
        classes = classes or names
        index = {name: i for i, name in enumerate(classes)}
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise DataError(
                f"{split_dir} has class folders not in train/: {', '.join(unknown[:5])}"
            )
        paths, labels = [], []
        for name in names:
            files, zero = _list_images(os.path.join(split_dir, name))
            empty += zero
            if not files:
                raise DataError(
                    f"class folder {os.path.join(split_dir, name)} has no (non-empty) "
                    f"{'/'.join(IMAGE_EXTENSIONS)} images: add some or remove the folder"
                )
            paths += files
            labels += [index[name]] * len(files)
        out[split] = (paths, labels, classes)
    out["empty"] = empty
    return out


@tf.autograph.experimental.do_not_convert  # as data.py's pipeline functions
def _read_image(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return _decode(tf.io.read_file(path)), tf.cast(label, tf.int32)


def _image_dataset(paths: list[str], labels: list[int]) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int32)))
    return ds.map(_read_image, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()


def find_unreadable(paths: list[str]) -> list[str]:
    """Paths that tf.io.decode_image cannot decode (zero-byte, truncated, not an image)."""
    if not paths:
        return []
    table = tf.constant(list(paths))
    probe = tf.autograph.experimental.do_not_convert(
        lambda i: (i, tf.shape(_decode(tf.io.read_file(table[i])))[0])
    )
    ok = tf.data.Dataset.range(len(paths)).map(probe, num_parallel_calls=tf.data.AUTOTUNE)
    good = {int(i) for i, _ in ok.ignore_errors().as_numpy_iterator()}
    return [p for i, p in enumerate(paths) if i not in good]


def count_unreadable(paths: list[str]) -> int:
    """How many of ``paths`` cannot be decoded (zero-byte, truncated, not an image)."""
    return len(find_unreadable(paths))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 (C libraries' messages), not Python's exceptions."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _scan(paths: list[str], cache_dir: str | None) -> set[str]:
    """The undecodable files among ``paths``, decoded once and cached under ``cache_dir``.

    Knowing them before training keeps the training stream a pure function of (seed, epoch,
    step): a file skipped mid-stream would shift every later batch. The cache is keyed by
    every file's path, size and modification time, so a changed file is scanned again.
    """
    h = hashlib.sha1()
    for p in paths:
        st = os.stat(p)
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    cache = os.path.join(cache_dir, f"folder-scan-{h.hexdigest()[:16]}.json") if cache_dir else ""
    try:
        with open(cache) as f:
            return set(json.load(f)["unreadable"])
    except (OSError, ValueError, KeyError):
        pass
    with _quiet_stderr():  # libjpeg prints "Input file read error" and such on fd 2
        bad = find_unreadable(paths)
    if cache_dir:
        from alexnet_tf.checkpoint import write_json  # atomic

        try:
            write_json(cache, {"files": len(paths), "unreadable": bad})
        except OSError:
            pass  # a cache only
    return set(bad)


def _kept(items: list, keep: list[bool]) -> list:
    return [x for x, k in zip(items, keep, strict=True) if k]


def folder_source(
    root: str | None,
    num_examples: int | None = None,
    seed: int = 0,
    cache_dir: str | None = None,
) -> Source:
    """ROOT/train/CLASS/* and ROOT/{val,validation,test}/CLASS/*; labels by sorted class name.

    Zero-byte and undecodable files are left out up front and counted in one warning line.
    """
    files = folder_files(root or "")
    (paths, labels, classes), (t_paths, t_labels, _) = files["train"], files["test"]
    if num_examples and num_examples < len(paths):  # a seeded subset covering all classes
        keep = np.sort(np.random.default_rng(seed).choice(len(paths), num_examples, replace=False))
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]
    bad = _scan(paths + t_paths, cache_dir)
    if bad:
        keep, t_keep = ([p not in bad for p in ps] for ps in (paths, t_paths))
        paths, labels = _kept(paths, keep), _kept(labels, keep)
        t_paths, t_labels = _kept(t_paths, t_keep), _kept(t_labels, t_keep)
    skipped = len(files["empty"]) + len(bad)
    if skipped:
        example = sorted(bad)[0] if bad else files["empty"][0]
        log.warning(
            "skipped %d unreadable image files under %s (%d zero-byte, %d that do not decode, "
            "e.g. %s)",
            skipped, root, len(files["empty"]), len(bad), example,
        )  # fmt: skip
    if not paths or not t_paths:
        raise DataError(f"image folder {root} has no readable images in one of its splits")
    table = tf.constant(paths)
    label_table = tf.constant(np.asarray(labels, np.int32))

    def lookup(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return _read_image(table[i], label_table[i])

    digest = hashlib.sha1(os.path.abspath(root or "").encode()).hexdigest()[:10]
    return Source(
        "folder", "imagenet", _image_dataset(paths, labels), _image_dataset(t_paths, t_labels),
        len(paths), len(t_paths), len(classes), list(classes), lookup=lookup,
        cache_key=f"folder-{digest}-{len(paths)}", skipped=skipped,
    )  # fmt: skip
