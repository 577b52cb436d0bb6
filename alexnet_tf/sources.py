"""Dataset sources (CIFAR-10, ImageNet 2012, synthetic) as unbatched tf.data splits."""

from __future__ import annotations

import dataclasses
import os
import pickle
import socket
import threading
import urllib.parse
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from alexnet_tf.errors import DataError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer"]
CIFAR10_CLASSES += ["dog", "frog", "horse", "ship", "truck"]
CIFAR_DIRNAME = "cifar-10-batches-py"
CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
CIFAR_HOST = "www.cs.toronto.edu"  # where tensorflow-datasets downloads CIFAR-10 from
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
    # Random access to the training split, int64 index -> (image, label): the training stream
    # is then a pure function of (seed, epoch, step), so a resumed run sees exactly the batches
    # an uninterrupted one would (data.train_pipeline).
    lookup: Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]] | None = dataclasses.field(
        default=None, repr=False
    )
    # Without random access (ImageNet through tensorflow-datasets): the training records before
    # decoding and their decoder, so records skipped on resume are read but never decoded.
    raw_train: tf.data.Dataset | None = dataclasses.field(default=None, repr=False)
    decode: Callable | None = dataclasses.field(default=None, repr=False)
    cache_key: str = ""  # identifies the data for cached statistics (mean image, PCA)
    skipped: int = 0  # unreadable files left out (image folders)


def array_lookup(images: np.ndarray, labels: np.ndarray) -> Callable:
    """Random access into in-memory arrays (CIFAR-10: 150 MB of uint8)."""
    images_t, labels_t = tf.constant(images), tf.constant(labels.astype(np.int32))
    return lambda i: (tf.gather(images_t, i), tf.gather(labels_t, i))


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


def _tfds_cifar(data_dir: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10 through tensorflow-datasets, read into arrays (x_train, y_train, x_test, y_test)."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("cifar10", data_dir=data_dir)
    if not builder.is_prepared():
        if not _online(CIFAR_HOST):
            raise ConnectionError(f"cannot reach {CIFAR_HOST}")
        builder.download_and_prepare()
    arrays = []
    for split in ("train", "test"):  # into memory (180 MB), for random access
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        batches = list(tfds.as_numpy(ds.batch(10_000)))
        arrays += [np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])]
    return arrays[0], arrays[1].astype(np.int32), arrays[2], arrays[3].astype(np.int32)


def cifar10_source(data_dir: str | None, num_examples: int | None = None) -> Source:
    """CIFAR-10 from a local cifar-10-batches-py/ (data dir, Keras cache), else via tfds."""
    searched = _cifar_candidates(data_dir)
    has_files = lambda d: any(os.path.exists(os.path.join(d, f)) for f in CIFAR_FILES)
    folder = next((d for d in searched if os.path.isdir(d) and has_files(d)), None)
    if folder is not None:  # a missing or damaged file in it is an error, not a reason to download
        parts = [read_cifar_batch(os.path.join(folder, f)) for f in CIFAR_FILES]
        x_train, y_train = (np.concatenate(a) for a in zip(*parts[:5], strict=True))
        x_test, y_test = parts[5]
    else:
        try:
            x_train, y_train, x_test, y_test = _tfds_cifar(data_dir)
        except Exception as e:
            raise DataError(
                f"CIFAR-10 not found: put the dataset authors' {CIFAR_DIRNAME}/ (from "
                f"cifar-10-python.tar.gz) under --data-dir DIR (searched: {', '.join(searched)}), "
                f"or go online so tensorflow-datasets can download it ({_one_line(e)})"
            ) from e
    if num_examples:
        x_train, y_train = x_train[:num_examples], y_train[:num_examples]
    train = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    test = tf.data.Dataset.from_tensor_slices((x_test, y_test))
    return Source(
        "cifar10", "cifar", train, test, len(y_train), len(y_test), 10, list(CIFAR10_CLASSES),
        lookup=array_lookup(x_train, y_train), cache_key=f"cifar10-{len(y_train)}",
    )  # fmt: skip


EXACT_PREFIX = os.path.join("cifar-10-test-exact-prefix", "test_batch_first1017_exact.npz")


def cifar10_exact_prefix(data_dir: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bit-exact original pixels of the first test images, if ``data_dir`` has them (the
    shared copy's CIFAR-10 was rebuilt from JPEGs): (uint8 NHWC, int32 labels, test rows)."""
    path = os.path.join(data_dir or ".", EXACT_PREFIX)
    if not os.path.isfile(path):
        raise DataError(f"no exact-prefix file at {path}: it comes with ../shared/data only")
    try:
        with np.load(path) as z:
            data, labels, index = z["data"], z["labels"], z["index"]
    except Exception as e:
        raise DataError(f"{path} is unreadable ({_one_line(e)})") from e
    images = data.astype(np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int32), index.astype(np.int64)


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

        def split(name: str) -> tf.data.Dataset:
            skip = {"image": tfds.decode.SkipDecoding()}  # decode after shuffling: smaller buffer
            return builder.as_dataset(split=name, as_supervised=True, decoders=skip)

        decode = tf.autograph.experimental.do_not_convert(
            lambda x, y: (_decode(x), tf.cast(y, tf.int32))
        )  # as data.py's pipeline functions
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
    auto = tf.data.AUTOTUNE
    return Source(
        "imagenet2012", "imagenet", train.map(decode, num_parallel_calls=auto),
        test.map(decode, num_parallel_calls=auto), num_train, num_test, len(class_names),
        class_names, raw_train=train, decode=decode, cache_key=f"imagenet2012-{num_train}",
    )  # fmt: skip


def synthetic_kind(image_size: int | None) -> str:
    """Synthetic data up to 64 pixels is CIFAR-like (32x32 images), larger ImageNet-like."""
    return "cifar" if image_size is None or image_size <= 64 else "imagenet"


def synthetic_source(
    image_size: int | None = None,
    num_classes: int | None = None,
    num_examples: int | None = None,
    seed: int = 0,
) -> Source:
    """Deterministic random images generated from (seed, index); each class has its own tint."""
    kind = synthetic_kind(image_size)
    side = 32 if kind == "cifar" else max(256, image_size or 0)
    classes = num_classes or (10 if kind == "cifar" else 1000)
    num_train = num_examples or 1024
    num_test = max(1, num_examples // 4) if num_examples else 256

    def make(split_id: int) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
        base = tf.constant([seed, split_id], tf.int64)
        tint_key = tf.constant([seed, 7919], tf.int64)

        @tf.autograph.experimental.do_not_convert  # as data.py's pipeline functions
        def example(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            s = tf.random.experimental.stateless_split(
                tf.random.experimental.stateless_fold_in(base, i), 2
            )
            label = tf.random.stateless_uniform([], s[0], 0, classes, dtype=tf.int32)
            tint_seed = tf.random.experimental.stateless_fold_in(tint_key, tf.cast(label, tf.int64))
            tint = tf.random.stateless_uniform([3], tint_seed)
            noise = tf.random.stateless_uniform([side, side, 3], s[1])
            image = tf.image.convert_image_dtype(0.5 * tint + 0.5 * noise, tf.uint8, saturate=True)
            return image, label

        return example

    def split(n: int, split_id: int) -> tf.data.Dataset:
        return tf.data.Dataset.range(n).map(make(split_id), num_parallel_calls=tf.data.AUTOTUNE)

    return Source(
        "synthetic", kind, split(num_train, 0), split(num_test, 1), num_train, num_test, classes,
        [f"class_{i:04d}" for i in range(classes)], lookup=make(0),
        cache_key=f"synthetic-{kind}{side}-{seed}-{num_train}-{classes}",
    )  # fmt: skip
