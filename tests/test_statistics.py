"""Tests for alexnet_tf.statistics: the RGB PCA, the mean image, and their caches."""

import os
import stat

import numpy as np
import tensorflow as tf
from conftest import random_cov

from alexnet_tf import statistics as S


def gaussian_pixels(cov: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.multivariate_normal([0.5, 0.4, 0.3], cov, size=n).astype(np.float32)


def test_compute_pca_recovers_known_covariance():
    cov, lam, q = random_cov()
    pixels = gaussian_pixels(cov, 100 * 20 * 20)
    images = pixels.reshape(100, 20, 20, 3)
    eigval, eigvec = S.compute_pca(images)
    assert eigval.shape == (3,) and eigvec.shape == (3, 3)
    assert np.all(np.diff(eigval) < 0)  # descending
    np.testing.assert_allclose(eigval, lam, rtol=0.05)
    for i in range(3):  # columns are the eigenvectors, up to sign
        assert abs(float(eigvec[:, i] @ q[:, i])) > 0.995
    # Exactly the eigen-decomposition of the sample covariance.
    ref_val, ref_vec = np.linalg.eigh(np.cov(pixels.astype(np.float64).T))
    np.testing.assert_allclose(eigval, ref_val[::-1], rtol=1e-4)
    np.testing.assert_allclose(np.abs(eigvec.T @ ref_vec[:, ::-1]), np.eye(3), atol=1e-3)
    # Same answer from a list of images and from a dataset of (image, label).
    from_list = S.compute_pca(list(images))
    ds = tf.data.Dataset.from_tensor_slices((images, np.zeros(100, np.int32)))
    from_ds = S.compute_pca(ds)
    for other in (from_list, from_ds):
        np.testing.assert_allclose(other[0], eigval, rtol=1e-4)


def test_compute_pca_uint8_is_scaled_to_unit_range():
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    a = S.compute_pca(images)
    b = S.compute_pca(images.astype(np.float32) / 255.0)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-4)


def test_compute_mean_image_of_constant_images():
    images = [np.full([h, w, 3], v, np.uint8) for h, w, v in [(8, 10, 0), (12, 8, 255), (8, 8, 51)]]
    mean = S.compute_mean_image(images, size=8)
    assert mean.shape == (8, 8, 3) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, np.full([8, 8, 3], (0 + 1 + 0.2) / 3), atol=1e-5)
    ds = tf.data.Dataset.from_tensor_slices(np.stack([images[2]] * 3))
    np.testing.assert_allclose(S.compute_mean_image(ds, size=4), np.full([4, 4, 3], 0.2), atol=1e-5)


def test_pca_and_mean_caches_round_trip(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    path = str(tmp_path / "sub" / "pca.npz")
    first = S.load_or_compute_pca(path, lambda: images)
    with np.load(path) as z:
        np.testing.assert_array_equal(z["eigval"], first[0])
    # Readable as the umask allows, like the run's other files (mkstemp's 0600 was kept
    # before), and nothing else left in the folder.
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path / "sub") == ["pca.npz"]

    def boom():
        raise AssertionError("must read the cache, not recompute")

    again = S.load_or_compute_pca(path, boom)
    np.testing.assert_array_equal(again[1], first[1])
    (tmp_path / "sub" / "pca.npz").write_bytes(b"not an npz")  # corrupt cache: recomputed
    np.testing.assert_allclose(S.load_or_compute_pca(path, lambda: images)[0], first[0])

    mpath = str(tmp_path / "mean.npz")
    mean = S.load_or_compute_mean_image(mpath, lambda: images, size=8)
    np.testing.assert_array_equal(S.load_or_compute_mean_image(mpath, boom, size=8), mean)
    np.testing.assert_allclose(mean, images.mean(0) / 255.0, atol=1e-5)
