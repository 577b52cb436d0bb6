"""Dataset sources (CIFAR-10, ImageNet 2012, image folders) as unbatched tf.data splits."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import socket
import threading
import urllib.parse
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from alexnet_tf.errors import DataError

log = logging.getLogger(__name__)

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer"]
CIFAR10_CLASSES += ["dog", "frog", "horse", "ship", "truck"]
CIFAR_DIRNAME = "cifar-10-batches-py"
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR_HOST = "www.cs.toronto.edu"  # where tensorflow-datasets downloads CIFAR-10 from
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
EVAL_SPLITS = ("val", "validation", "test")
IMAGENET_TARS = ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar")


@dataclasses.dataclass
class Source:
    """A dataset: unbatched, finite splits of (image uint8 [H, W, 3], label int32 scalar)."""

    name: str
    kind: str  # "cifar" (32x32 inputs) or "imagenet" (variable size, cropped to 227 by default)
    train: tf.data.Dataset
    test: tf.data.Dataset
    num_train: int
    num_test: int
    num_classes: int
    class_names: list[str]
    # Optional (seed, shuffle_buffer) -> infinite train stream in a seeded order reshuffled every
    # epoch, cheaper than a buffer of decoded images (shuffles file paths or indices instead).
    shuffled_train: Callable[[int, int | None], tf.data.Dataset] | None = dataclasses.field(
        default=None, repr=False
    )
    cache_key: str = ""  # identifies the data for cached statistics (mean image, PCA)


def _online(host: str, port: int = 443, timeout: float = 3.0) -> bool:
    """Cheap reachability probe (DNS + TCP, bounded by ``timeout``) so offline runs fail fast."""
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    if proxy:
        parsed = urllib.parse.urlparse(proxy if "://" in proxy else f"http://{proxy}")
        host, port = parsed.hostname or host, parsed.port or 80
    ok: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo itself has no timeout
    thread.start()
    thread.join(timeout + 1.0)
    return bool(ok)


def _one_line(e: BaseException) -> str:
    text = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {text if len(text) < 160 else text[:157] + '...'}"


def _cifar_candidates(data_dir: str | None) -> list[str]:
    dirs = []
    if data_dir:
        dirs += [os.path.join(data_dir, CIFAR_DIRNAME), data_dir]
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return dirs + [os.path.join(keras_home, "datasets", CIFAR_DIRNAME)]


def read_cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read one python-pickle CIFAR-10 batch: (uint8 [N, 32, 32, 3] NHWC, int32 [N])."""
    fix = "re-extract cifar-10-python.tar.gz"
    if not os.path.isfile(path):
        raise DataError(
            f"CIFAR-10 file {path} is missing: {fix} (expected {', '.join(CIFAR_FILES)})"
        )
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # the dataset authors' format is a pickle
        data, labels = batch[b"data"], batch[b"labels"]
    except Exception as e:  # truncated, corrupt or not a CIFAR batch at all
        raise DataError(
            f"CIFAR-10 file {path} is truncated or corrupt ({_one_line(e)}): {fix}"
        ) from e
    data, labels = np.asarray(data), np.asarray(labels)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise DataError(
            f"CIFAR-10 file {path} has data of shape {data.shape} for {labels.shape[0]} labels, "
            f"expected (N, 3072) rows of 32x32 R,G,B planes: {fix}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"CIFAR-10 file {path} has labels outside 0..9: {fix}")
    if data.dtype != np.uint8 and (data.min() < 0 or data.max() > 255):
        raise DataError(f"CIFAR-10 file {path} has pixel values outside 0..255: {fix}")
    images = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32)


def _tfds_num(builder, split: str, ds: tf.data.Dataset) -> int:
    try:
        return int(builder.info.splits[split].num_examples)
    except Exception:  # not recorded (e.g. under tfds.testing.mock_data)
        n = int(ds.cardinality())
        return n if n >= 0 else int(ds.reduce(0, lambda c, _: c + 1))


def _to_int32(image: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return image, tf.cast(label, tf.int32)


def _tfds_cifar(data_dir: str | None) -> tuple[tf.data.Dataset, tf.data.Dataset, int, int]:
    import tensorflow_datasets as tfds

    builder = tfds.builder("cifar10", data_dir=data_dir)
    if not builder.is_prepared():
        if not _online(CIFAR_HOST):
            raise ConnectionError(f"cannot reach {CIFAR_HOST}")
        builder.download_and_prepare()
    train, test = (
        builder.as_dataset(split=s, as_supervised=True, shuffle_files=False).map(_to_int32)
        for s in ("train", "test")
    )
    return train, test, _tfds_num(builder, "train", train), _tfds_num(builder, "test", test)


def cifar10_source(data_dir: str | None, num_examples: int | None = None) -> Source:
    """CIFAR-10 from a local cifar-10-batches-py/ (data dir, Keras cache), else via tfds."""
    searched = _cifar_candidates(data_dir)
    has_files = lambda d: any(os.path.exists(os.path.join(d, f)) for f in CIFAR_FILES)
    folder = next((d for d in searched if os.path.isdir(d) and has_files(d)), None)
    if folder is not None:  # a missing or damaged file in it is an error, not a reason to download
        parts = [read_cifar_batch(os.path.join(folder, f)) for f in CIFAR_FILES]
        x_train, y_train = (np.concatenate(a) for a in zip(*parts[:5], strict=True))
        x_test, y_test = parts[5]
        if num_examples:
            x_train, y_train = x_train[:num_examples], y_train[:num_examples]
        train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
        test = tf.data.Dataset.from_tensor_slices((x_test, y_test))
        num_train, num_test = len(y_train), len(y_test)
    else:
        try:
            train, test, num_train, num_test = _tfds_cifar(data_dir)
        except Exception as e:
            raise DataError(
                f"CIFAR-10 not found: put the dataset authors' {CIFAR_DIRNAME}/ (from "
                f"cifar-10-python.tar.gz) under --data-dir DIR (searched: {', '.join(searched)}), "
                f"or go online so tensorflow-datasets can download it ({_one_line(e)})"
            ) from e
        if num_examples:
            train, num_train = train.take(num_examples), min(num_examples, num_train)
    return Source(
        "cifar10", "cifar", train, test, num_train, num_test, 10, list(CIFAR10_CLASSES),
        cache_key=f"cifar10-{num_train}",
    )  # fmt: skip


def _decode(contents: tf.Tensor) -> tf.Tensor:
    # decode_image sniffs the format and converts grayscale / CMYK to RGB.
    image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    return tf.ensure_shape(image, [None, None, 3])


def imagenet2012_source(data_dir: str | None, num_examples: int | None = None) -> Source:
    """ILSVRC-2012 through tensorflow-datasets, prepared from the manually downloaded tars."""
    tfds_root = os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")
    manual = os.path.join(data_dir or os.path.expanduser(tfds_root), "downloads", "manual")
    manual = data_dir if data_dir and not os.path.isdir(manual) else manual
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder("imagenet2012", data_dir=data_dir)
        if not builder.is_prepared():  # check first: tfds would create folders and print a lot
            missing = [t for t in IMAGENET_TARS if not os.path.isfile(os.path.join(manual, t))]
            if missing:
                raise FileNotFoundError(f"missing {', '.join(missing)}")
            config = tfds.download.DownloadConfig(manual_dir=manual)
            builder.download_and_prepare(download_config=config)

        def split(name: str, **kw) -> tf.data.Dataset:
            skip = {"image": tfds.decode.SkipDecoding()}  # decode after shuffling: smaller buffer
            return builder.as_dataset(split=name, as_supervised=True, decoders=skip, **kw)

        decode = lambda x, y: (_decode(x), tf.cast(y, tf.int32))
        train, test = split("train"), split("validation")
        num_train = _tfds_num(builder, "train", train)
        num_test = _tfds_num(builder, "validation", test)
        class_names = list(builder.info.features["label"].names)
    except Exception as e:
        raise DataError(
            "ImageNet 2012 not prepared: put ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar "
            f"in {manual}; tensorflow-datasets then prepares them once ({_one_line(e)})"
        ) from e
    if num_examples:
        train, num_train = train.take(num_examples), min(num_examples, num_train)

    def shuffled(seed: int, buffer: int | None) -> tf.data.Dataset:
        read = tfds.ReadConfig(shuffle_seed=seed, shuffle_reshuffle_each_iteration=True)
        ds = train if num_examples else split("train", shuffle_files=True, read_config=read)
        ds = ds.shuffle(buffer or 10_000, seed=seed, reshuffle_each_iteration=True).repeat()
        return ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE)

    auto = tf.data.AUTOTUNE
    return Source(
        "imagenet2012", "imagenet", train.map(decode, num_parallel_calls=auto),
        test.map(decode, num_parallel_calls=auto), num_train, num_test, len(class_names),
        class_names, shuffled_train=shuffled, cache_key=f"imagenet2012-{num_train}",
    )  # fmt: skip


def _list_images(class_dir: str) -> tuple[list[str], int]:
    """Image files of one class folder (sorted) and how many zero-byte ones were left out."""
    ext = lambda name: os.path.splitext(name)[1].lower()
    found = [e for e in os.scandir(class_dir) if e.is_file() and ext(e.name) in IMAGE_EXTENSIONS]
    files = sorted(e.path for e in found if e.stat().st_size > 0)
    return files, len(found) - len(files)


def folder_files(root: str) -> dict[str, tuple[list[str], list[int], list[str]]]:
    """Scan ROOT/{train,val|validation|test}/CLASS/*: {"train"|"test": (paths, labels, classes)}."""
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
    out, classes, skipped = {}, None, 0
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
            files, empty = _list_images(os.path.join(split_dir, name))
            skipped += empty
            if not files:
                raise DataError(
                    f"class folder {os.path.join(split_dir, name)} has no (non-empty) "
                    f"{'/'.join(IMAGE_EXTENSIONS)} images: add some or remove the folder"
                )
            paths += files
            labels += [index[name]] * len(files)
        out[split] = (paths, labels, classes)
    if skipped:
        log.warning("skipped %d zero-byte image files under %s", skipped, root)
    return out


def _read_image(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    return _decode(tf.io.read_file(path)), tf.cast(label, tf.int32)


def _image_dataset(paths: list[str], labels: list[int]) -> tf.data.Dataset:
    ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int32)))
    return ds.map(_read_image, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors(log_warning=True)


def find_unreadable(paths: list[str]) -> list[str]:
    """Paths that tf.io.decode_image cannot decode (these are skipped by the folder source)."""
    if not paths:
        return []
    table = tf.constant(list(paths))
    probe = lambda i: (i, tf.shape(_decode(tf.io.read_file(table[i])))[0])
    ok = tf.data.Dataset.range(len(paths)).map(probe, num_parallel_calls=tf.data.AUTOTUNE)
    good = {int(i) for i, _ in ok.ignore_errors().as_numpy_iterator()}
    return [p for i, p in enumerate(paths) if i not in good]


def count_unreadable(paths: list[str]) -> int:
    """How many of ``paths`` cannot be decoded (zero-byte, truncated, not an image)."""
    return len(find_unreadable(paths))


def folder_source(root: str | None, num_examples: int | None = None, seed: int = 0) -> Source:
    """ROOT/train/CLASS/* and ROOT/{val,validation,test}/CLASS/*; labels by sorted class name."""
    files = folder_files(root or "")
    (paths, labels, classes), (t_paths, t_labels, _) = files["train"], files["test"]
    if num_examples and num_examples < len(paths):  # a seeded subset covering all classes
        keep = np.sort(np.random.default_rng(seed).choice(len(paths), num_examples, replace=False))
        paths, labels = [paths[i] for i in keep], [labels[i] for i in keep]

    def shuffled(seed: int, buffer: int | None) -> tf.data.Dataset:
        del buffer  # the full list of paths is shuffled: no decoded-image buffer needed
        ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int32)))
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True).repeat()
        return ds.map(_read_image, num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()

    digest = hashlib.sha1(os.path.abspath(root or "").encode()).hexdigest()[:10]
    return Source(
        "folder", "imagenet", _image_dataset(paths, labels), _image_dataset(t_paths, t_labels),
        len(paths), len(t_paths), len(classes), list(classes), shuffled_train=shuffled,
        cache_key=f"folder-{digest}-{len(paths)}",
    )  # fmt: skip
