"""LRN against a NumPy implementation of §3.3's formula; towers against Conv2D(groups=2)."""

import keras
import numpy as np
import pytest

from alexnet_tf.layers import LocalResponseNormalization, TowerConv2D


def lrn_paper(a, k=2.0, n=5, alpha=1e-4, beta=0.75):
    """§3.3: b_i = a_i / (k + alpha * sum_{j=max(0,i-n/2)}^{min(N-1,i+n/2)} a_j^2)^beta."""
    channels = a.shape[-1]
    b = np.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        b[..., i] = a[..., i] / (k + alpha * np.sum(a[..., lo : hi + 1] ** 2, axis=-1)) ** beta
    return b


def lrn_caffe(a, size=5, alpha=1e-4, beta=0.75, k=1.0):
    """Caffe / PyTorch LocalResponseNorm: alpha is divided by the window size."""
    return lrn_paper(a, k=k, n=size, alpha=alpha / size, beta=beta)


@pytest.fixture
def activations():
    # ReLU-like activations large enough that the normaliser departs far from k.
    return np.abs(np.random.default_rng(0).normal(0, 60, (2, 5, 5, 16))).astype("float32")


def test_defaults_are_the_papers_constants():
    layer = LocalResponseNormalization()
    assert (layer.depth_radius, layer.bias, layer.alpha, layer.beta) == (2, 2.0, 1e-4, 0.75)


def test_lrn_matches_numpy_paper_formula(activations):
    out = np.asarray(LocalResponseNormalization()(activations))
    expected = lrn_paper(activations)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    # The normalisation really acts: outputs differ from a plain division by k^beta.
    assert np.abs(out - activations / 2.0**0.75).max() > 0.1


def test_caffe_convention_conversion(activations):
    layer = LocalResponseNormalization.from_caffe(size=5, alpha=5e-4, beta=0.75, k=2.0)
    assert layer.alpha == pytest.approx(1e-4) and layer.depth_radius == 2 and layer.bias == 2.0
    np.testing.assert_allclose(np.asarray(layer(activations)), lrn_paper(activations), rtol=1e-5)
    torch_default = LocalResponseNormalization.from_caffe(size=5, alpha=1e-4, beta=0.75, k=1.0)
    np.testing.assert_allclose(
        np.asarray(torch_default(activations)), lrn_caffe(activations), rtol=1e-5
    )
    assert LocalResponseNormalization().to_caffe() == {
        "size": 5,
        "alpha": 5e-4,
        "beta": 0.75,
        "k": 2.0,
    }


def test_lrn_serializes(tmp_path, activations):
    model = keras.Sequential([keras.Input((5, 5, 16)), LocalResponseNormalization(alpha=2e-4)])
    model.save(tmp_path / "lrn.keras")
    loaded = keras.models.load_model(tmp_path / "lrn.keras")
    assert loaded.layers[0].get_config()["alpha"] == 2e-4
    np.testing.assert_allclose(loaded(activations), model(activations), rtol=1e-6)


@pytest.mark.parametrize(
    "kernel,strides,padding", [(5, 1, "same"), (3, 1, "same"), (3, 2, "valid")]
)
def test_towers_equal_keras_grouped_conv(kernel, strides, padding):
    x = np.random.default_rng(1).normal(size=(2, 13, 13, 8)).astype("float32")
    kw = dict(filters=12, kernel_size=kernel, strides=strides, padding=padding, groups=2)
    towers = TowerConv2D(**kw)
    grouped = keras.layers.Conv2D(**kw)
    towers.build(x.shape)
    grouped.build(x.shape)
    assert towers.kernel.shape == grouped.kernel.shape == (kernel, kernel, 4, 12)
    rng = np.random.default_rng(2)
    weights = [rng.normal(size=w.shape).astype("float32") for w in grouped.get_weights()]
    towers.set_weights(weights)
    grouped.set_weights(weights)
    np.testing.assert_allclose(towers(x), grouped(x), rtol=1e-4, atol=1e-4)
    # Tower 0 ignores tower 1's input channels: proof the towers are really separate.
    y0 = np.asarray(towers(x))
    x2 = x.copy()
    x2[..., 4:] += 10.0
    y1 = np.asarray(towers(x2))
    np.testing.assert_allclose(y0[..., :6], y1[..., :6], rtol=1e-5, atol=1e-5)
    assert np.abs(y0[..., 6:] - y1[..., 6:]).max() > 1.0


def test_single_group_is_plain_conv():
    x = np.random.default_rng(3).normal(size=(1, 7, 7, 3)).astype("float32")
    a, b = TowerConv2D(4, 3), keras.layers.Conv2D(4, 3)
    a.build(x.shape)
    b.build(x.shape)
    b.set_weights(a.get_weights())
    np.testing.assert_allclose(a(x), b(x), rtol=1e-5, atol=1e-5)
