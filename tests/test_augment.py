"""Tests for alexnet_tf.augment: geometry, determinism, PCA lighting, normalisation, composites."""

import numpy as np
import pytest
import tensorflow as tf
from conftest import random_cov

from alexnet_tf import augment as A

S1 = tf.constant([1, 2], tf.int64)
S2 = tf.constant([3, 4], tf.int64)


def coord_image(h: int, w: int) -> tf.Tensor:
    """uint8-free float image whose pixel (y, x) holds (y, x, y * w + x): crops reveal offsets."""
    y, x = np.mgrid[0:h, 0:w]
    return tf.constant(np.stack([y, x, y * w + x], -1).astype(np.float32))


def test_to_float_scales_uint8_only():
    u = tf.constant([[[0, 128, 255]]], tf.uint8)
    np.testing.assert_allclose(A.to_float(u).numpy(), [[[0, 128 / 255, 1]]], atol=1e-6)
    assert A.to_float(tf.constant([[[0.5, 0.5, 0.5]]])).dtype == tf.float32


@pytest.mark.parametrize("hw,expect", [((40, 60), (256, 384)), ((60, 40), (384, 256))])
def test_resize_shorter_side_keeps_aspect(hw, expect):
    image = tf.cast(tf.random.uniform([*hw, 3], maxval=256, dtype=tf.int32), tf.uint8)
    out = A.resize_shorter_side(image, 256)
    assert tuple(out.shape) == (*expect, 3) and out.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(out)) and float(tf.reduce_max(out)) <= 1.0


def test_center_crop_is_central_slice():
    image = coord_image(10, 13)
    np.testing.assert_array_equal(A.center_crop(image, 4), image[3:7, 4:8])


def test_random_crop_is_a_slice_and_deterministic():
    image = coord_image(40, 50)
    a, b, c = (A.random_crop(image, 16, s) for s in (S1, S1, S2))
    assert a.shape == (16, 16, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    top, left = int(a[0, 0, 0]), int(a[0, 0, 1])
    np.testing.assert_array_equal(a, image[top : top + 16, left : left + 16])


def test_random_flip_flips_half_the_time():
    image = coord_image(4, 5)
    flipped = 0
    for i in range(40):
        out = A.random_flip(image, tf.constant([i, 9], tf.int64))
        same = np.array_equal(out, image)
        assert same or np.array_equal(out, image[:, ::-1])
        flipped += not same
    assert 8 < flipped < 32
    np.testing.assert_array_equal(A.random_flip(image, S1), A.random_flip(image, S1))


def test_alternating_flip_mirrors_each_image_in_every_other_epoch():
    image = coord_image(4, 5)
    np.testing.assert_array_equal(A.random_flip(image, S1, tf.constant(True)), image[:, ::-1])
    np.testing.assert_array_equal(A.random_flip(image, S1, tf.constant(False)), image)
    flips = np.array(
        [[bool(A.alternating_flip(i, e, seed=0)) for i in range(200)] for e in range(4)]
    )
    assert 70 < flips[0].sum() < 130  # epoch 0: each image mirrored with probability 1/2
    np.testing.assert_array_equal(flips[1], ~flips[0])  # then the other way, every epoch
    np.testing.assert_array_equal(flips[2], flips[0])
    np.testing.assert_array_equal(flips[3], ~flips[0])
    other_seed = [bool(A.alternating_flip(i, 0, seed=1)) for i in range(200)]
    assert 60 < (np.array(other_seed) != flips[0]).sum() < 140


def test_pad_and_random_crop_zero_pads_and_keeps_size():
    image = coord_image(8, 8) + 1.0  # no zeros inside the image
    outs = [A.pad_and_random_crop(image, 4, tf.constant([i, 0], tf.int64)) for i in range(20)]
    padded = np.pad(image.numpy(), [(4, 4), (4, 4), (0, 0)])
    for out in outs:
        assert out.shape == (8, 8, 3)
        hits = [
            (t, u)
            for t in range(9)
            for u in range(9)
            if np.array_equal(out, padded[t : t + 8, u : u + 8])
        ]
        assert hits
    assert any(float(tf.reduce_min(o)) == 0.0 for o in outs)  # some crops show the zero border


def test_ten_crop_geometry_and_order():
    h, w, s = 9, 12, 5
    image = coord_image(h, w)
    out = A.ten_crop(image, s).numpy()
    assert out.shape == (10, s, s, 3)
    x = image.numpy()
    expected = [
        x[:s, :s],  # top-left
        x[:s, w - s :],  # top-right
        x[h - s :, :s],  # bottom-left
        x[h - s :, w - s :],  # bottom-right
        x[2 : 2 + s, 3 : 3 + s],  # centre
    ]
    for i, patch in enumerate(expected):
        np.testing.assert_array_equal(out[i], patch)
        np.testing.assert_array_equal(out[5 + i], patch[:, ::-1])


def test_pca_lighting_adds_one_vector_in_the_weighted_span():
    cov, lam, q = random_cov()
    image = tf.random.stateless_uniform([6, 7, 3], [5, 5])
    eigval, eigvec = lam.astype(np.float32), q.astype(np.float32)
    out = A.pca_lighting(image, S1, eigval, eigvec, std=0.1)
    delta = (out - image).numpy().reshape(-1, 3)
    np.testing.assert_allclose(delta, np.broadcast_to(delta[0], delta.shape), atol=1e-6)
    alpha = eigvec.T @ delta[0] / eigval  # coordinates in the eigenbasis, per eigenvalue
    expected = tf.random.stateless_normal([3], S1, stddev=0.1).numpy()
    np.testing.assert_allclose(alpha, expected, rtol=1e-3, atol=1e-5)
    np.testing.assert_array_equal(out, A.pca_lighting(image, S1, eigval, eigvec))
    assert not np.array_equal(out, A.pca_lighting(image, S2, eigval, eigvec))
    default = A.pca_lighting(tf.zeros([2, 2, 3], tf.uint8), S1)  # ImageNet values
    ev, evec = np.array(A.IMAGENET_EIGVAL), np.array(A.IMAGENET_EIGVEC)
    np.testing.assert_allclose(default[0, 0], evec @ (expected * ev), atol=1e-6)


def test_normalize_channel_and_mean_image():
    image = tf.fill([2, 2, 3], tf.constant(255, tf.uint8))
    out = A.normalize(image, A.CIFAR10_MEAN, A.CIFAR10_STD)
    np.testing.assert_allclose(
        out[0, 0], (1 - np.array(A.CIFAR10_MEAN)) / np.array(A.CIFAR10_STD), rtol=1e-5
    )
    mean_image = np.full([2, 2, 3], 0.25, np.float32)
    np.testing.assert_allclose(A.normalize(image, mean_image), np.full([2, 2, 3], 0.75))


def test_cifar_composites():
    image = tf.cast(tf.random.stateless_uniform([32, 32, 3], [1, 1], 0, 256, tf.int32), tf.uint8)
    out = A.cifar_train(image, S1)
    assert out.shape == (32, 32, 3) and out.dtype == tf.float32
    np.testing.assert_array_equal(out, A.cifar_train(image, S1))
    assert not np.array_equal(out, A.cifar_train(image, S2))
    pca = (np.array(A.IMAGENET_EIGVAL), np.array(A.IMAGENET_EIGVEC))
    assert not np.array_equal(out, A.cifar_train(image, S1, pca=pca))
    ev = A.cifar_eval(image)
    np.testing.assert_allclose(ev, A.normalize(image, A.CIFAR10_MEAN, A.CIFAR10_STD))
    ten = A.cifar_ten_crop(image)
    assert ten.shape == (10, 32, 32, 3)
    np.testing.assert_allclose(ten[4], ev, atol=1e-6)  # centre of the 2-padded image
    mean_image = np.full([32, 32, 3], 0.5, np.float32)
    np.testing.assert_allclose(A.cifar_eval(image, mean=mean_image), A.to_float(image) - 0.5)


def test_cifar_crops_are_section_4_1_patches_not_padded_shifts():
    # 28 of 32 is §4.1's 224 of 256: a window inside the image, no zero padding, and at test
    # time the centre window and the ten patches of the unpadded image.
    image = coord_image(32, 32)
    seen = set()
    for i in range(20):
        out = A.cifar_train(image, tf.constant([i, 7], tf.int64), mean="none", crop=28)
        assert out.shape == (28, 28, 3)
        ys, xs = np.asarray(out[..., 0]), np.asarray(out[..., 1])
        top = int(ys.min())
        assert 0 <= top <= 4 and int(ys.max()) == top + 27  # a window, nothing padded
        assert int(xs.min()) >= 0 and int(xs.max()) <= 31
        seen.add((top, int(xs.min())))
    assert len(seen) > 5  # positions vary with the seed
    ev = A.cifar_eval(image, mean="none", crop=28)
    np.testing.assert_array_equal(ev[..., 0][:, 0], np.arange(2, 30))  # the centre window
    ten = A.cifar_ten_crop(image, mean="none", crop=28)
    assert ten.shape == (10, 28, 28, 3)
    np.testing.assert_array_equal(ten[4], ev)
    assert [int(ten[k, 0, 0, 2]) for k in range(4)] == [0, 4, 4 * 32, 4 * 32 + 4]  # corners


def test_imagenet_composites():
    image = tf.cast(tf.random.stateless_uniform([256, 300, 3], [2, 2], 0, 256, tf.int32), tf.uint8)
    out = A.imagenet_train(image, S1)
    assert out.shape == (227, 227, 3) and out.dtype == tf.float32
    np.testing.assert_array_equal(out, A.imagenet_train(image, S1))
    assert not np.array_equal(out, A.imagenet_train(image, S2))
    small = A.imagenet_train(image, S1, crop=64, mean="none", lighting=False)
    assert small.shape == (64, 64, 3) and 0.0 <= float(tf.reduce_min(small))
    plain = A.imagenet_eval(image, crop=200, mean="none")
    np.testing.assert_allclose(plain, A.to_float(image)[28:228, 50:250], atol=1e-6)
    mean_image = np.full([256, 256, 3], 0.5, np.float32)
    np.testing.assert_allclose(
        A.imagenet_eval(image, crop=200, mean=mean_image), plain - 0.5, atol=1e-6
    )
    ten = A.imagenet_ten_crop(image, crop=224)
    assert ten.shape == (10, 224, 224, 3)
    np.testing.assert_allclose(ten[4], A.imagenet_eval(image, crop=224), atol=1e-6)
    with pytest.raises(ValueError):
        A.imagenet_eval(image, mean="bogus")


def test_cutout_zeroes_one_clipped_square_and_varies_with_the_seed():
    image = tf.ones([32, 32, 3])
    zeroed = []
    for i in range(200):
        out = A.cutout(image, 16, tf.constant([i, 1], tf.int64)).numpy()
        hole = out[..., 0] == 0
        assert (out[hole] == 0).all() and (out[~hole] == 1).all()
        rows, cols = np.nonzero(hole.any(1))[0], np.nonzero(hole.any(0))[0]
        # one axis-aligned rectangle, at most 16x16, clipped (not shifted) at the edges
        assert hole.sum() == len(rows) * len(cols) and 8 <= len(rows) <= 16 >= len(cols) >= 8
        zeroed.append(hole.sum())
    assert np.mean(zeroed) < 16 * 16 and max(zeroed) == 16 * 16  # squares near edges are clipped
    same = A.cutout(image, 16, tf.constant([3, 1], tf.int64))
    np.testing.assert_array_equal(same, A.cutout(image, 16, tf.constant([3, 1], tf.int64)))
