"""alexnet_tf.evaluate: a trained model tested at another input size; many runs in one process."""

import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import models
from alexnet_tf.errors import UsageError
from alexnet_tf.evaluate import at_input_size


@pytest.fixture(scope="module")
def small():
    return models.alexnet_cifar(input_size=28, norm="batch", seed=1)


def test_a_28_pixel_model_tests_on_32_with_the_same_weights(small):
    # Trained on §4.1's 28x28 crops, tested on the whole 32x32 image: both reach fc6 as 4x4
    # maps, so the copy is the network a 32x32 build with these weights would be.
    big = at_input_size(small, 32)
    assert big.input_shape == (None, 32, 32, 3) and big.name == small.name
    reference = models.alexnet_cifar(input_size=32, norm="batch", seed=2)
    reference.set_weights(small.get_weights())
    x = tf.random.stateless_normal([2, 32, 32, 3], [3, 4])
    np.testing.assert_allclose(big(x), reference(x), rtol=1e-5, atol=1e-5)
    assert not np.allclose(big(x), models.alexnet_cifar(input_size=32, norm="batch", seed=2)(x))
    # no size, or the one it has: the model itself, not a rebuilt copy
    assert at_input_size(small, None) is small and at_input_size(small, 28) is small


def test_a_size_whose_maps_do_not_fit_fc6_is_one_clear_error(small):
    with pytest.raises(UsageError, match="cannot take 24x24 images.*28x28 inputs"):
        at_input_size(small, 24)


def test_many_runs_in_one_process_do_not_warn_of_retracing(caplog):
    """A notebook trains and evaluates many times in one kernel. Each run's tf.functions serve
    its own model and trace once; TensorFlow's warning about a function retraced 5 times in 10
    calls keys them by the Python code they share, so from the sixth run on it would fire,
    saying nothing true. Every per-run function is exempt (distribute.per_run_function)."""
    import keras

    from alexnet_tf import evaluate, loop

    model = keras.Sequential(
        [keras.Input((4, 4, 3)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(True))
    ds = tf.data.Dataset.from_tensor_slices((tf.zeros([4, 4, 4, 3]), tf.range(4))).batch(2)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    for _ in range(7):
        assert evaluate.evaluate(model, ds)["images"] == 4
        trainer = loop.Trainer(model, strategy, batch_size=2, seed=0)
        assert trainer.evaluate(ds)["top1"] >= 0
        trainer.train_step(iter(strategy.experimental_distribute_dataset(ds.repeat())))
    assert "retracing" not in caplog.text


def test_test_view_is_the_runs_own_view_at_the_models_size(small, tmp_path):
    """What evaluate's CLI and the chapters score a run on: its dataset and mean (here §2's
    mean image, from its training images), at the model's input size (28: centre patches)."""
    from alexnet_tf import data, evaluate

    config = {"dataset": "synthetic", "num_examples": 64, "mean": "image", "seed": 0}
    source, view = evaluate.test_view(tmp_path, small, config, batch_size=6)
    x, y = next(iter(view))
    assert x.shape == (6, 28, 28, 3) and source.num_test == 16
    assert sum(int(tf.size(y)) for _, y in view) == 16
    same = data.eval_pipeline(source, 6, image_size=28, mean="image", cache_dir=str(tmp_path))
    np.testing.assert_array_equal(x, next(iter(same))[0])
    channel = evaluate.test_view(tmp_path, small, {**config, "mean": "channel"}, batch_size=6)
    assert np.abs(x - next(iter(channel[1]))[0]).max() > 0.1  # the run's mean, not a default
    ten = evaluate.test_view(tmp_path, small, config, batch_size=6, ten_crop=True)[1]
    assert next(iter(ten))[0].shape == (6, 10, 28, 28, 3)
