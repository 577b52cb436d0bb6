"""--whiten: conv1's filters from the PCA of training patches (airbench), frozen while training."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf import whitening


def _correlated_images(n=64, side=12, seed=0):
    """Smooth, colour-correlated images: their patches' covariance is far from the identity."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, side, side, 3))
    x = x + np.roll(x, 1, axis=1) + np.roll(x, 1, axis=2)  # neighbouring pixels correlate
    x = x @ np.array([[1.0, 0.8, 0.6], [0.0, 0.5, 0.4], [0.0, 0.0, 0.2]])  # so do channels
    return (x + [0.5, -1.0, 2.0]).astype(np.float32)


def test_patches_are_what_a_valid_convolution_multiplies():
    images = _correlated_images(n=3, side=7)
    kernel = np.random.default_rng(1).normal(size=(3, 3, 3, 5)).astype(np.float32)
    conv = tf.nn.conv2d(images, kernel, strides=1, padding="VALID").numpy().reshape(-1, 5)
    p = whitening.patches(images, 3)
    assert p.shape == (3 * 5 * 5, 27)
    np.testing.assert_allclose(p @ kernel.reshape(27, 5), conv, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(p[5 * 5 + 7], images[1, 1:4, 2:5, :].reshape(-1))
    # over the cap: a regular grid of positions (every 2nd row and column here)
    sparse = whitening.patches(images, 3, max_values=3 * 5 * 5 * 27 // 3)
    np.testing.assert_array_equal(sparse, p.reshape(3, 5, 5, 27)[:, ::2, ::2].reshape(-1, 27))
    with pytest.raises(ValueError, match="do not fit"):
        whitening.patches(images, 8)


def test_filters_whiten_and_centre_the_patches_in_signed_pairs():
    images = _correlated_images()
    weights, biases = whitening.whitening_filters(images, 3, 40, eps=0.0)
    assert weights.shape == (3, 3, 3, 40) and biases.shape == (40,)
    cols = weights.reshape(27, 40)
    np.testing.assert_array_equal(cols[:, 1::2], -cols[:, ::2])  # each direction, both signs
    p = whitening.patches(images.astype(np.float64), 3)
    out = p @ cols + biases
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)  # centred by the biases
    cov = np.cov(out[:, ::2], rowvar=False)
    np.testing.assert_allclose(cov, np.eye(20), atol=2e-3)  # whitened: unit, uncorrelated
    # Directions by falling variance: 0, 2, 4, ... for the first tower, 1, 3, 5, ... second.
    unit = cols[:, ::2] / np.linalg.norm(cols[:, ::2], axis=0)
    var = np.var(p @ unit, axis=0)
    first, second = var[:10], var[10:]
    assert np.all(np.diff(first) < 0) and np.all(np.diff(second) < 0)
    assert np.all(first > second)  # direction 2i has more variance than direction 2i + 1


def test_fewer_patch_dimensions_than_half_the_filters():
    weights, biases = whitening.whitening_filters(_correlated_images(), 1, 10)
    assert weights.shape == (1, 1, 3, 6) and biases.shape == (6,)  # 3 directions, two signs


def test_whiten_sets_conv1_keeps_it_frozen_and_resumes_only_with_it(tmp_path):
    """Two steps with --whiten: conv1 still holds signed pairs (SGD would have moved the two
    filters of a pair differently) and biases that centre the patches; the workdir then
    refuses a run without --whiten (its optimizer state would not fit)."""
    import keras

    from alexnet_tf.config import TrainConfig
    from alexnet_tf.errors import UsageError
    from alexnet_tf.train import train_and_evaluate

    work = tmp_path / "run"
    config = TrainConfig(
        dataset="synthetic", num_examples=16, epochs=1, steps_per_epoch=2, batch_size=8,
        lr=0.05, norm="lrn", whiten=True,
    )  # fmt: skip
    m = train_and_evaluate(config, str(work), verbose=False)
    assert m["global_step"] == 2
    model = keras.models.load_model(work / "model.keras")
    conv1 = model.get_layer("conv1")
    assert not conv1.trainable
    trained = {v.path.split("/")[0] for v in model.trainable_variables}
    assert trained == {"conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"}
    cols = conv1.kernel.numpy().reshape(75, 96)
    np.testing.assert_array_equal(cols[:, 1::2], -cols[:, ::2])
    np.testing.assert_array_equal(conv1.bias.numpy()[1::2], -conv1.bias.numpy()[::2])
    assert np.abs(conv1.bias.numpy()).max() > 0  # centred: the random init's biases are 0
    with pytest.raises(UsageError, match="trained with --whiten"):
        train_and_evaluate(dataclasses.replace(config, whiten=False, epochs=2), str(work))
