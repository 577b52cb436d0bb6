"""alexnet_tf.ensemble: §6's average of several models' softmax, alone and through evaluate."""

import json
import pickle
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import ensemble, evaluate, models
from alexnet_tf.errors import UsageError


def test_the_ensembles_softmax_is_the_mean_of_its_members():
    a, b = (models.alexnet_cifar(input_size=28, norm="batch", seed=s) for s in (1, 2))
    x = tf.random.stateless_normal([3, 28, 28, 3], [5, 6])
    pa, pb = (evaluate.probabilities(m, x).numpy() for m in (a, b))
    assert np.abs(pa - pb).max() > 1e-3  # two different networks
    mean = ensemble.average([a, b])
    assert mean.input_shape == (None, 28, 28, 3) and mean.output_shape == (None, 10)
    assert [layer.name for layer in mean.layers[1:]] == ["member0", "member1"]
    np.testing.assert_allclose(tf.nn.softmax(mean(x)), (pa + pb) / 2, rtol=1e-5, atol=1e-6)
    # evaluate's views take it as any model of logits: with flips, the members' flips averaged
    flipped = [evaluate.probabilities(m, x, flip=True) for m in (a, b)]
    want = (flipped[0] + flipped[1]) / 2
    np.testing.assert_allclose(evaluate.probabilities(mean, x, flip=True), want, atol=1e-6)


@pytest.mark.parametrize(
    ("configs", "shapes", "message"),
    [
        ([{"dataset": "cifar10"}, {"dataset": "synthetic"}], [(28, 10)] * 2, "dataset: cifar10,"),
        ([{"mean": "image"}, {}], [(28, 10)] * 2, "differ in mean: image, channel"),
        ([{}, {}], [(28, 10), (28, 100)], "number of classes: 10, 100"),
        ([{}, {}], [(28, 10), (32, 10)], "input sizes (28, 32): pass --image-size"),
    ],
)
def test_members_that_see_the_test_images_otherwise_are_refused(configs, shapes, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        ensemble.check_members(configs, shapes)
    ensemble.check_members(configs[:1] * 2, shapes[:1] * 2)  # members that agree pass


def constant(logits) -> keras.Model:
    """A model that answers every image with ``logits`` (fc8's kernel zero, its bias them)."""
    inputs = keras.Input((28, 28, 3))
    fc8 = keras.layers.Dense(10, name="fc8", kernel_initializer="zeros")
    model = keras.Model(inputs, fc8(keras.layers.GlobalAveragePooling2D()(inputs)))
    fc8.bias.assign(np.asarray(logits, np.float32))
    return model


def test_the_cli_scores_the_average_of_the_runs(cifar_dir, tmp_path, capsys):
    """Member A always answers class a (p 0.60, then c 0.37), B class b (0.60, c 0.37): their
    average answers c (0.37 against 0.30), the most frequent test label, which neither does."""
    with open(cifar_dir / "cifar-10-batches-py" / "test_batch", "rb") as f:
        labels = np.array(pickle.load(f)[b"labels"])
    counts = np.bincount(labels, minlength=10)
    c, a, b = (int(k) for k in np.argsort(-counts, kind="stable")[[0, -1, -2]])
    works = []
    for name, top in (("a", a), ("b", b)):
        logits = np.zeros(10)
        logits[top], logits[c] = 5.0, 4.5
        works.append(tmp_path / name)
        works[-1].mkdir()
        constant(logits).save(works[-1] / "model.keras")
    data = ["--dataset", "cifar10", "--data-dir", str(cifar_dir)]
    assert evaluate.main(["--workdir", str(works[0]), *data]) == 0
    alone = json.loads((works[0] / "eval.json").read_text())
    assert alone["top1_error"] == pytest.approx(1 - counts[a] / 16)

    assert evaluate.main(["--workdir", str(works[0]), *data, "--ensemble", str(works[1])]) == 0
    both = json.loads((works[0] / "eval_ensemble2.json").read_text())
    assert both["top1_error"] == pytest.approx(1 - counts[c] / 16) and counts[c] > counts[a]
    assert both["ensemble"] == [str(works[1])] and both["images"] == 16
    assert "of 2 models averaged" in capsys.readouterr().out
    assert json.loads((works[0] / "eval.json").read_text()) == alone  # its own file untouched
