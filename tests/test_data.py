"""Tests for alexnet_tf.data: the four sources, their errors, and the tf.data pipelines."""

import pickle

import numpy as np
import pytest
import tensorflow as tf
from conftest import write_image_folder

from alexnet_tf import data, sources
from alexnet_tf.errors import DataError, UsageError

CIFAR_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def write_cifar(root, n=20):
    """cifar-10-batches-py/ with ``n`` images a file; image k of file i has label (i + k) % 10
    and R, G, B planes 10 * i + k + (0, 100, 200) plus a horizontal ramp in R."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    ramp = np.tile(np.arange(32, dtype=np.uint8), 32)  # R[y, x] += x
    for i, name in enumerate(CIFAR_FILES):
        rows = []
        for k in range(n):
            base = 10 * i + k
            rows.append(
                np.concatenate([base + ramp, np.full(1024, base + 100), [base + 200] * 1024])
            )
        batch = {b"data": np.array(rows, np.uint8), b"labels": [(i + k) % 10 for k in range(n)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    return folder


def first(ds, n=1):
    return list(ds.take(n).as_numpy_iterator())


@pytest.fixture
def no_keras_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


def test_resolve_data_dir(monkeypatch):
    monkeypatch.delenv("ALEXNET_DATA_DIR", raising=False)
    assert data.resolve_data_dir(None) is None
    monkeypatch.setenv("ALEXNET_DATA_DIR", "/env/dir")
    assert data.resolve_data_dir(None) == "/env/dir"
    assert data.resolve_data_dir("/given") == "/given"


def test_cifar_local_layout_shapes_labels_and_pixel_order(tmp_path, no_keras_cache):
    folder = write_cifar(tmp_path)
    for where in (tmp_path, folder):  # the data dir, or the folder itself
        src = data.load_source("cifar10", str(where))
        assert (src.kind, src.num_train, src.num_test, src.num_classes) == ("cifar", 100, 20, 10)
        assert src.class_names[0] == "airplane" and len(src.class_names) == 10
    train = list(src.train.as_numpy_iterator())
    assert len(train) == 100
    image, label = train[21]  # file 1 (data_batch_2), image 1
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8 and label.dtype == np.int32
    assert label == 2
    np.testing.assert_array_equal(image[:, :, 0], 11 + np.arange(32)[None, :].repeat(32, 0))
    assert (image[:, :, 1] == 111).all() and (image[:, :, 2] == 211).all()
    test_image, test_label = first(src.test)[0]
    assert test_label == 5 and test_image[0, 0, 2] == 250
    assert data.load_source("cifar10", str(tmp_path), num_examples=30).num_train == 30


def one_line_error(fn, *words):
    with pytest.raises(DataError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


@pytest.mark.parametrize("damage", ["truncated", "shape", "missing", "labels"])
def test_cifar_damaged_files_name_the_file(tmp_path, no_keras_cache, damage):
    folder = write_cifar(tmp_path)
    path = folder / "data_batch_3"
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:500])
    elif damage == "shape":
        path.write_bytes(
            pickle.dumps({b"data": np.zeros((20, 3000), np.uint8), b"labels": [0] * 20})
        )
    elif damage == "missing":
        path.unlink()
    else:
        path.write_bytes(
            pickle.dumps({b"data": np.zeros((20, 3072), np.uint8), b"labels": [10] * 20})
        )
    one_line_error(lambda: data.load_source("cifar10", str(tmp_path)), str(path))


def test_cifar_offline_without_local_copy(tmp_path, no_keras_cache, monkeypatch):
    def offline(data_dir):
        raise ConnectionError("no network")

    monkeypatch.setattr(sources, "_tfds_cifar", offline)
    one_line_error(
        lambda: data.load_source("cifar10", str(tmp_path)),
        "CIFAR-10 not found",
        "cifar-10-batches-py",
        str(tmp_path),
        "no network",
    )


def test_cifar_tfds_path_fails_fast_offline(tmp_path, no_keras_cache, monkeypatch):
    monkeypatch.setattr(sources, "_online", lambda *a, **k: False)  # never touch the network
    one_line_error(lambda: data.load_source("cifar10", str(tmp_path)), "cannot reach")


def test_cifar_tfds_mock(tmp_path, no_keras_cache, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(sources, "_online", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=6):
        src = data.load_source("cifar10", str(tmp_path))
        assert (src.num_train, src.num_test, src.num_classes) == (6, 6, 10)
        image, label = first(src.train)[0]
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert label.dtype == np.int32 and 0 <= label < 10
        x, y = next(iter(data.train_pipeline(src, 4, image_size=32)))
        assert x.shape == (4, 32, 32, 3) and y.shape == (4,)


def test_imagenet2012_missing_tars(tmp_path):
    one_line_error(
        lambda: data.load_source("imagenet2012", str(tmp_path)),
        "ILSVRC2012_img_train.tar",
        "ILSVRC2012_img_val.tar",
        str(tmp_path),
    )


def test_imagenet2012_tfds_mock(tmp_path):
    import tensorflow_datasets as tfds

    manual = tmp_path / "downloads" / "manual"
    manual.mkdir(parents=True)
    for name in ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"):
        (manual / name).write_bytes(b"")  # only looked for: mock_data prepares nothing
    with tfds.testing.mock_data(num_examples=3):
        src = data.load_source("imagenet2012", str(tmp_path))
        assert (src.kind, src.num_train, src.num_test, src.num_classes) == ("imagenet", 3, 3, 1000)
        image, label = first(src.test)[0]
        assert image.ndim == 3 and image.shape[2] == 3 and label.dtype == np.int32
        x, y = next(iter(data.train_pipeline(src, 2, image_size=64, pca_lighting=True)))
        assert x.shape == (2, 64, 64, 3) and y.shape == (2,)


def test_folder_source_decodes_and_skips(tmp_path):
    root = write_image_folder(tmp_path / "imgs", val="validation")
    src = data.load_source("folder", str(root))
    assert (src.kind, src.num_classes, src.class_names) == ("imagenet", 2, ["cat", "dog"])
    # Zero-byte and corrupt files are left out up front (so the stream can be resumed exactly).
    assert (src.num_train, src.num_test, src.skipped) == (7, 2, 2)
    train = list(src.train.as_numpy_iterator())
    assert len(train) == 7
    assert [int(y) for _, y in train] == [0, 0, 0, 0, 0, 1, 1]
    for image, _ in train:
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    gray = train[1][0]  # sorted: cmyk, gray, png_inside, rgb, upper
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert train[5][0].shape == (12, 16, 3)  # dog/a.png
    assert train[6][0].shape == (20, 30, 3)  # dog/b.jpg
    all_files = [str(p) for p in (root / "train").rglob("*") if p.suffix.lower() != ".txt"]
    all_files = [p for p in all_files if not p.endswith(("/cat", "/dog"))]
    assert sorted(data.find_unreadable(all_files)) == sorted(
        str(root / "train/cat" / n) for n in ("corrupt.jpg", "empty.jpg")
    )
    assert data.count_unreadable(all_files) == 2
    x, y = next(iter(data.train_pipeline(src, 4, image_size=64)))
    assert x.shape == (4, 64, 64, 3) and x.dtype == tf.float32 and y.dtype == tf.int32
    batches = list(data.eval_pipeline(src, 4, image_size=64, ten_crop=True))
    assert [b[0].shape for b in batches] == [(2, 10, 64, 64, 3)]


def test_folder_errors(tmp_path):
    one_line_error(lambda: data.load_source("folder", str(tmp_path / "nope")), "nope", "train")
    root = write_image_folder(tmp_path / "imgs")
    (root / "train" / "empty_class").mkdir()
    one_line_error(lambda: data.load_source("folder", str(root)), "empty_class")
    (root / "train" / "empty_class").rmdir()
    for f in (root / "val").rglob("*.jp*"):
        f.unlink()
    one_line_error(lambda: data.load_source("folder", str(root)), "val")
    lonely = tmp_path / "only_train"
    (lonely / "train" / "a").mkdir(parents=True)
    one_line_error(lambda: data.load_source("folder", str(lonely)), "val/")


def test_unknown_dataset():
    with pytest.raises(UsageError):
        data.load_source("mnist")


def test_synthetic_source_shapes_and_determinism():
    src = data.load_source("synthetic", image_size=32, num_examples=40, seed=3)
    assert (src.kind, src.num_train, src.num_test, src.num_classes) == ("cifar", 40, 10, 10)
    a = list(src.train.as_numpy_iterator())
    b = list(data.load_source("synthetic", image_size=32, num_examples=40, seed=3).train)
    c = first(data.load_source("synthetic", image_size=32, num_examples=40, seed=4).train)
    assert len(a) == 40 and a[0][0].shape == (32, 32, 3) and a[0][0].dtype == np.uint8
    for (x, y), (x2, y2) in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, x2)
        assert y == y2 and 0 <= y < 10
    assert not np.array_equal(a[0][0], c[0][0])
    big = data.load_source("synthetic", image_size=227, num_examples=4, num_classes=7)
    assert (big.kind, big.num_classes, big.num_test) == ("imagenet", 7, 1)
    assert first(big.test)[0][0].shape == (256, 256, 3)
    default = data.load_source("synthetic")
    assert (default.num_train, default.num_test) == (1024, 256)


def test_cifar_pipelines(tmp_path):
    src = data.load_source("synthetic", image_size=32, num_examples=20)
    train = data.train_pipeline(
        src, 8, image_size=32, pca_lighting=True, mean="image", cache_dir=str(tmp_path)
    )
    x, y = next(iter(train))
    assert x.shape == (8, 32, 32, 3) and x.dtype == tf.float32
    assert y.shape == (8,) and y.dtype == tf.int32
    assert sorted(p.name.split("_")[-1] for p in tmp_path.glob("*.npz")) == [
        "mean32.npz",
        "pca.npz",
    ]
    assert len(list(train.take(5))) == 5  # repeats forever
    evals = list(data.eval_pipeline(src, 4, image_size=32))
    assert [b[0].shape[0] for b in evals] == [4, 1]  # remainder kept
    ten = next(iter(data.eval_pipeline(src, 4, image_size=32, ten_crop=True)))[0]
    assert ten.shape == (4, 10, 32, 32, 3)
    up = next(iter(data.eval_pipeline(src, 2, image_size=48, mean="none")))[0]
    assert up.shape == (2, 48, 48, 3)
    # A model smaller than the images gets §4.1's crops of them, not a resized image.
    x28 = next(iter(data.train_pipeline(src, 4, image_size=28)))[0]
    assert x28.shape == (4, 28, 28, 3)
    full = next(iter(data.eval_pipeline(src, 2, image_size=32)))[0]
    centre = next(iter(data.eval_pipeline(src, 2, image_size=28)))[0]
    np.testing.assert_allclose(centre, full[:, 2:30, 2:30], atol=1e-6)
    ten = next(iter(data.eval_pipeline(src, 2, image_size=28, ten_crop=True)))[0]
    np.testing.assert_allclose(ten[:, 0], full[:, :28, :28], atol=1e-6)


def test_cifar10_local_through_pipelines(tmp_path, no_keras_cache):
    write_cifar(tmp_path)
    src = data.load_source("cifar10", str(tmp_path))
    x, y = next(iter(data.train_pipeline(src, 16, image_size=32)))
    assert x.shape == (16, 32, 32, 3) and y.dtype == tf.int32
    assert sum(b[0].shape[0] for b in data.eval_pipeline(src, 16, image_size=32)) == 20


def test_imagenet_kind_pipelines():
    src = data.load_source("synthetic", image_size=227, num_examples=4)
    x, y = next(iter(data.train_pipeline(src, 2, image_size=227, pca_lighting=True)))
    assert x.shape == (2, 227, 227, 3) and y.shape == (2,)
    x, _ = next(iter(data.eval_pipeline(src, 2, image_size=96, ten_crop=True)))
    assert x.shape == (1, 10, 96, 96, 3)


def test_train_pipeline_deterministic_under_seed():
    src = data.load_source("synthetic", image_size=32, num_examples=16)

    def batches(seed):
        return [b for b in data.train_pipeline(src, 8, image_size=32, seed=seed).take(3)]

    a, b, c = batches(0), batches(0), batches(1)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a[0][0], c[0][0])
    assert not np.array_equal(a[0][0], a[2][0])  # epoch 2 is shuffled and augmented anew

    cifar = data.load_source("synthetic", image_size=32, num_examples=16)
    cifar.lookup = None  # the generic shuffle-buffer path
    d1 = next(iter(data.train_pipeline(cifar, 8, image_size=32, seed=5)))
    d2 = next(iter(data.train_pipeline(cifar, 8, image_size=32, seed=5)))
    np.testing.assert_array_equal(d1[0], d2[0])


def test_alternating_flip_shows_each_image_both_ways_every_two_epochs():
    # Images bright on their left half, labelled with their own index: a training view whose
    # left half is the darker one was mirrored. 16 images, 2 batches of 8 per epoch.
    n = 16
    images = np.zeros((n, 32, 32, 3), np.uint8)
    images[:, :, :16] = 255
    src = data.load_source("synthetic", image_size=32, num_examples=n)
    src.lookup = sources.array_lookup(images, np.arange(n))

    def mirrored(alternating):
        ds = data.train_pipeline(src, 8, image_size=32, alternating_flip=alternating, seed=2)
        epochs = np.zeros((3, n), bool)
        for b, (x, y) in enumerate(ds.take(6)):
            x = x.numpy()
            epochs[b // 2, y.numpy()] = x[:, :, :12].mean((1, 2, 3)) < x[:, :, -12:].mean((1, 2, 3))
        return epochs

    flips = mirrored(True)
    assert 0 < flips[0].sum() < n
    np.testing.assert_array_equal(flips[1], ~flips[0])
    np.testing.assert_array_equal(flips[2], flips[0])
    random = mirrored(False)  # §4.1's random flips: some images repeat a view
    assert (random[1] == random[0]).any()
    windowed = data.load_source("synthetic", image_size=32, num_examples=n)
    windowed.lookup = None
    with pytest.raises(UsageError, match="random access"):
        data.train_pipeline(windowed, 8, image_size=32, alternating_flip=True)


def test_pipeline_argument_errors():
    src = data.load_source("synthetic", image_size=32, num_examples=8)
    with pytest.raises(UsageError):
        data.train_pipeline(src, 0, image_size=32)
    with pytest.raises(UsageError):
        data.eval_pipeline(src, 4, image_size=32, mean="median")
