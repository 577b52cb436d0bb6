"""alexnet_tf.predict: image files through the run's own evaluation view, named classes, and
one-line errors."""

import json

import numpy as np
import pytest
from conftest import write_cifar_layout, write_image_folder
from PIL import Image

from alexnet_tf import data, models, predict
from alexnet_tf.evaluate import probabilities
from alexnet_tf.sources import CIFAR10_CLASSES


def make_run(root, mean):
    """A workdir with a 28x28-crop CIFAR model (its initial weights), its config and metrics,
    the CIFAR copy it names, and the first test images written as PNG files."""
    cifar = write_cifar_layout(root / "data")
    workdir = root / "run"
    workdir.mkdir()
    model = models.alexnet_cifar(input_size=28, norm="batch", seed=1)
    model.save(workdir / "model.keras")
    config = {"dataset": "cifar10", "data_dir": str(cifar), "mean": mean}
    metrics = {"config": config, "class_names": CIFAR10_CLASSES}
    (workdir / "metrics.json").write_text(json.dumps(metrics))
    source = data.load_source("cifar10", str(cifar))
    images = np.stack([x.numpy() for x, _ in source.test.take(3)])
    paths = []
    for i, image in enumerate(images):
        paths.append(root / f"test{i}.png")
        Image.fromarray(image).save(paths[-1])
    return workdir, source, model, images, paths, mean


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("predict"), "channel")


@pytest.fixture(scope="module")
def run_mean_image(tmp_path_factory):  # §2's mean image, cached in the workdir
    return make_run(tmp_path_factory.mktemp("predict-mean-image"), "image")


def reference(run, ten_crop=False):
    """The softmax the run's evaluation (data.eval_pipeline) gives the first 3 test images."""
    workdir, source, model, _, _, mean = run
    ds = data.eval_pipeline(
        source, 3, image_size=28, ten_crop=ten_crop, mean=mean, cache_dir=str(workdir)
    )
    x, _ = next(iter(ds))
    return probabilities(model, x, ten_crop=ten_crop).numpy()


@pytest.mark.parametrize("mean, ten_crop", [("channel", False), ("channel", True), ("image", True)])
def test_image_files_get_the_evaluation_view_of_the_run(request, mean, ten_crop):
    run = request.getfixturevalue("run" if mean == "channel" else "run_mean_image")
    workdir, _, _, _, paths, _ = run
    names, probs = predict.classify(workdir, paths, ten_crop=ten_crop)
    expected = reference(run, ten_crop)
    assert names == CIFAR10_CLASSES and probs.shape == (3, 10)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.abs(probs[0] - probs[1]).max() > 1e-3  # the images, not a constant, decide


def test_a_photo_is_cut_to_its_central_square_first(run, tmp_path):
    # A 48x32 photo whose central 32x32 square is test image 1, with noise either side.
    workdir, _, _, images, _, _ = run
    wide = np.random.default_rng(5).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    wide[:, 8:40] = images[1]
    Image.fromarray(wide).save(tmp_path / "wide.png")
    _, probs = predict.classify(workdir, [tmp_path / "wide.png"])
    np.testing.assert_allclose(probs[0], reference(run)[1], atol=1e-6)
    big = predict.as_cifar(np.zeros((300, 200, 3), np.uint8))  # any photo becomes 32x32
    assert big.shape == (32, 32, 3) and big.dtype.name == "uint8"


def test_the_command_prints_the_top_classes_by_name(run, capsys):
    workdir, _, _, _, paths, _ = run
    # Two batches (2 files, then 1), each printed as it is classified: in order, none skipped.
    argv = ["--workdir", str(workdir), "--top", "3", "--batch-size", "2", *map(str, paths)]
    assert predict.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    probs = reference(run)
    assert len(lines) == 3
    for line, path, p in zip(lines, paths, probs, strict=True):
        top = p.argsort()[::-1][:3]
        shown = ", ".join(f"{CIFAR10_CLASSES[k]} {p[k]:.3f}" for k in top)
        assert line == f"{path}: {shown}"


def test_bad_input_is_one_line(run, tmp_path, capsys):
    workdir, _, _, _, paths, _ = run
    (tmp_path / "notes.jpg").write_text("not an image")
    cases = [
        ("no image file", [str(tmp_path / "missing.png")]),
        # Every file's existence is checked before any is classified.
        ("no image file", [str(paths[0]), str(tmp_path / "missing.png")]),
        ("is not an image TensorFlow can decode", [str(paths[0]), str(tmp_path / "notes.jpg")]),
        ("--top must be positive", ["--top", "0", str(paths[0])]),
        ("--batch-size must be positive", ["--batch-size", "0", str(paths[0])]),
    ]
    for message, args in cases:
        assert predict.main(["--workdir", str(workdir), *args]) == 2
        out = capsys.readouterr()
        assert out.out == "" and out.err.count("\n") == 1 and message in out.err
    # A file that cannot be decoded in a later batch: the batches before it are printed.
    args = ["--batch-size", "1", str(paths[0]), str(tmp_path / "notes.jpg"), str(paths[1])]
    assert predict.main(["--workdir", str(workdir), *args]) == 2
    out = capsys.readouterr()
    assert out.out.startswith(f"{paths[0]}: ") and out.out.count("\n") == 1
    assert out.err.count("\n") == 1 and "notes.jpg is not an image" in out.err
    assert predict.main(["--workdir", str(tmp_path / "none"), str(paths[0])]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_class_names_fall_back_to_the_dataset_then_to_numbers(tmp_path):
    folder = write_image_folder(tmp_path / "folder")
    assert predict.class_names({}, {"dataset": "cifar10"}, 10) == CIFAR10_CLASSES
    config = {"dataset": "folder", "data_dir": str(folder)}
    assert predict.class_names({}, config, 2) == ["cat", "dog"]
    assert predict.class_names({}, config, 3) == ["class_0", "class_1", "class_2"]
    moved = {**config, "data_dir": str(tmp_path / "moved")}
    assert predict.class_names({}, moved, 2) == ["class_0", "class_1"]
    assert predict.class_names({"class_names": ["a", "b"]}, config, 2) == ["a", "b"]


def test_an_image_folder_model_gets_the_imagenet_view(tmp_path):
    # §2 then §4.1 at test time: shorter side to 256, the central 256x256, its centre crop.
    import keras

    folder = write_image_folder(tmp_path / "folder")
    workdir = tmp_path / "run"
    workdir.mkdir()
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((40, 40, 3)), keras.layers.Flatten(), keras.layers.Dense(2)]
    )
    model.save(workdir / "model.keras")
    config = {"dataset": "folder", "data_dir": str(folder), "mean": "channel"}
    (workdir / "metrics.json").write_text(json.dumps({"config": config}))
    source = data.load_source("folder", str(folder))
    x, _ = next(iter(data.eval_pipeline(source, 2, image_size=40)))
    paths = sorted(folder.glob("val/*/*"))  # cat/v.jpeg, dog/w.jpg: the test split's order
    names, probs = predict.classify(workdir, paths)
    assert names == ["cat", "dog"]
    np.testing.assert_allclose(probs, probabilities(model, x).numpy(), atol=1e-6)
    assert (
        np.abs(probs[0] - predict.classify(workdir, [folder / "train/dog/a.png"])[1][0]).max()
        > 1e-3
    )
