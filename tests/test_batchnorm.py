"""--ema's batch-norm statistics: recomputed for the weights at hand, and put back after."""

import keras
import numpy as np
import tensorflow as tf

from alexnet_tf import batchnorm, optim
from alexnet_tf.layers import FusedBatchNormalization


def _batches(*arrays):
    xs = np.concatenate(arrays)
    ys = np.zeros(len(xs), "int32")
    return tf.data.Dataset.from_tensor_slices((xs, ys)).batch(len(arrays[0]))


def test_statistics_are_the_mean_of_the_batches_moments():
    """Input -> batch norm: the moving mean and variance become the mean over the batches of
    each batch's per-channel mean and biased variance (not a running average at 0.99)."""
    rng = np.random.default_rng(0)
    batches = [rng.normal(m, s, (4, 3, 3, 2)).astype("float32") for m, s in ((1, 1), (-3, 2))]
    model = keras.Sequential([keras.Input((3, 3, 2)), FusedBatchNormalization(name="bn1")])
    batchnorm.Recalibration(model, tf.distribute.get_strategy(), _batches(*batches))()
    bn = model.get_layer("bn1")
    mean = np.mean([b.mean(axis=(0, 1, 2)) for b in batches], axis=0)
    variance = np.mean([b.var(axis=(0, 1, 2)) for b in batches], axis=0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), variance, rtol=1e-4)
    assert np.abs(mean).min() > 0.5  # far from the initial 0 and 1: the values were replaced


def test_after_one_batch_inference_normalises_as_training_does():
    """Two batch-norm layers, the second fed through the first: recomputed from one batch, the
    statistics make the inference output on that batch equal the training output."""
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            keras.layers.Conv2D(4, 3, use_bias=False, name="conv1"),
            FusedBatchNormalization(name="bn1"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(5, 3, use_bias=False, name="conv2"),
            FusedBatchNormalization(name="bn2"),
        ]
    )
    x = np.random.default_rng(1).normal(2.0, 3.0, (8, 6, 6, 3)).astype("float32")
    before = model(x, training=False).numpy()
    batchnorm.Recalibration(model, tf.distribute.get_strategy(), _batches(x))()
    trained = model(x, training=True).numpy()
    assert np.abs(before - trained).max() > 0.1  # the initial statistics did not fit
    np.testing.assert_allclose(model(x, training=False).numpy(), trained, atol=2e-3)


def test_averaged_weights_puts_the_trained_statistics_back():
    model = keras.Sequential(
        [
            keras.Input((2, 2, 1)),
            keras.layers.Conv2D(2, 1, kernel_initializer="ones"),
            FusedBatchNormalization(name="bn"),
        ]
    )
    model.compile(optimizer=optim.PaperSGD(0.1, use_ema=True, ema_momentum=0.9))
    model.optimizer.apply_gradients(  # one step: the average copies the weights
        [(np.zeros(v.shape, "float32"), v) for v in model.trainable_variables]
    )
    bn = model.get_layer("bn")
    x = np.full((4, 2, 2, 1), 5.0, "float32") + np.arange(4, dtype="float32")[:, None, None, None]
    recalibrate = batchnorm.Recalibration(model, tf.distribute.get_strategy(), _batches(x))
    with optim.averaged_weights(model):
        recalibrate()
        assert np.abs(bn.moving_mean.numpy()).max() > 0.1
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(2))
    np.testing.assert_array_equal(bn.moving_variance.numpy(), np.ones(2))


def test_a_model_without_batch_norm_is_left_alone():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    weights = [w.copy() for w in model.get_weights()]
    batchnorm.Recalibration(model, tf.distribute.get_strategy(), _batches(np.ones((2, 2))))()
    for w, again in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w, again)
