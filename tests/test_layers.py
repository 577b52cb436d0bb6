"""LRN against a NumPy implementation of §3.3's formula; towers against Conv2D(groups=2);
the fused batch norm against Keras's."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from alexnet_tf.layers import FusedBatchNormalization, LocalResponseNormalization, TowerConv2D


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


def _bn_pair(channels):
    gamma = np.random.default_rng(1).normal(1.0, 0.2, channels).astype("float32")
    # float32 whatever the global policy another test left behind
    ref = keras.layers.BatchNormalization(synchronized=True, dtype="float32")
    fused = FusedBatchNormalization(dtype="float32")
    for layer in (ref, fused):
        layer.build((None, 6, 6, channels))
        layer.gamma.assign(gamma)
        layer.beta.assign(np.arange(channels, dtype="float32"))
    return ref, fused


def test_fused_batch_norm_equals_keras():
    x = np.random.default_rng(0).normal(2.0, 3.0, (8, 6, 6, 5)).astype("float32")
    weights = np.random.default_rng(2).normal(0, 1, x.shape).astype("float32")
    ref, fused = _bn_pair(5)
    grads = []
    for layer in (ref, fused):
        with tf.GradientTape() as tape:
            xt = tf.constant(x)
            tape.watch(xt)
            y = layer(xt, training=True)
            loss = tf.reduce_sum(y * weights)  # a random linear readout of every output
        grads.append(tape.gradient(loss, [xt, layer.gamma, layer.beta]))
    np.testing.assert_allclose(fused(x, training=False), ref(x, training=False), atol=1e-5)
    for g_fused, g_ref in zip(grads[1], grads[0], strict=True):
        np.testing.assert_allclose(g_fused, g_ref, rtol=1e-4, atol=1e-5)
    # The moving averages after one step: Keras's rule with the biased batch variance
    # (the fused kernel returns the unbiased one; n = 8 * 6 * 6 = 288 per channel).
    expected_var = 0.99 + 0.01 * x.reshape(-1, 5).var(axis=0)
    np.testing.assert_allclose(fused.moving_variance.numpy(), expected_var, rtol=1e-5)
    np.testing.assert_allclose(fused.moving_mean.numpy(), ref.moving_mean.numpy(), atol=1e-6)
    assert abs(x.reshape(-1, 5).var(axis=0, ddof=1)[0] - x.reshape(-1, 5).var(axis=0)[0]) > 1e-3


def test_fused_batch_norm_reads_bfloat16_and_keeps_float32_statistics():
    layer = FusedBatchNormalization(dtype="mixed_bfloat16")
    x = tf.cast(np.random.default_rng(0).normal(0, 2, (4, 3, 3, 8)), tf.bfloat16)
    y = layer(x, training=True)
    assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(tf.reduce_mean(tf.cast(y, tf.float32), [0, 1, 2]), 0, atol=0.02)


def test_fused_batch_norm_uses_the_global_batch_on_two_replicas():
    """Two replicas on the two logical CPUs the test process has (tests/conftest.py)."""
    x = np.random.default_rng(0).normal(0, 1, (4, 2, 2, 3)).astype("float32")
    x[2:] += 5.0  # the second replica's half has another mean
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        layer = FusedBatchNormalization(epsilon=0.0)
        layer.build(x.shape)
    halves = strategy.experimental_distribute_values_from_function(
        lambda ctx: x[2 * ctx.replica_id_in_sync_group : 2 * ctx.replica_id_in_sync_group + 2]
    )
    y = strategy.run(tf.function(lambda v: layer(v, training=True)), args=(halves,))
    y = np.concatenate([t.numpy() for t in strategy.experimental_local_results(y)])
    want = (x - x.mean((0, 1, 2))) / x.std((0, 1, 2))
    assert np.abs(y - want).max() < 1e-4  # per-replica moments would be off by ~2.5
