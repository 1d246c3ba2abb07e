"""Loading MNIST: the real Keras loader by default, a local mnist.npz named by CVAE_COURSE_MNIST offline."""

import numpy as np
import pytest

from cvae_course import data, settings


@pytest.fixture
def npz_path(tmp_path):
    """Write a tiny mnist.npz in load_data()'s layout; tests overwrite keys to break it."""

    def write(**overrides):
        rng = np.random.default_rng(0)
        arrays = {
            "x_train": rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8),
            "y_train": np.arange(50, dtype=np.uint8) % 10,
            "x_test": rng.integers(0, 256, size=(20, 28, 28), dtype=np.uint8),
            "y_test": np.arange(20, dtype=np.uint8) % 10,
        }
        arrays.update(overrides)
        arrays = {k: v for k, v in arrays.items() if v is not None}
        path = tmp_path / "mnist.npz"
        np.savez(path, **arrays)
        return path

    return write


def test_load_mnist_scales_images_to_unit_interval_with_a_channel_axis(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path()))
    m = data.load_mnist(fast=False)
    assert m.x_train.shape == (50, 28, 28, 1) and m.x_test.shape == (20, 28, 28, 1)
    assert m.x_train.dtype == np.float32 and 0.0 <= m.x_train.min() and m.x_train.max() <= 1.0
    assert m.y_train.dtype == np.int64 and set(m.y_train) == set(range(10))


def test_load_mnist_gives_one_hot_labels_that_match_the_int_labels(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path()))
    m = data.load_mnist(fast=False)
    assert m.y_train_one_hot.shape == (50, 10)
    np.testing.assert_array_equal(m.y_train_one_hot.argmax(axis=1), m.y_train)


def test_load_mnist_reports_the_local_file_as_its_source(monkeypatch, npz_path):
    path = npz_path()
    monkeypatch.setenv(settings.DATA_ENV, str(path))
    assert data.load_mnist(fast=False).source == str(path)


def test_load_mnist_without_the_variable_uses_the_keras_loader(monkeypatch):
    import keras

    monkeypatch.delenv(settings.DATA_ENV, raising=False)
    calls = []
    fake = ((np.zeros((30, 28, 28), np.uint8), np.arange(30) % 10), (np.zeros((10, 28, 28), np.uint8), np.arange(10)))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda *a, **k: calls.append(1) or fake)
    m = data.load_mnist(fast=False)
    assert calls == [1] and len(m.x_train) == 30
    assert m.source == "keras.datasets.mnist.load_data()"


def test_subsets_are_class_balanced_and_repeatable(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path()))
    a = data.load_mnist(train_size=20, test_size=10, fast=False, seed=3)
    b = data.load_mnist(train_size=20, test_size=10, fast=False, seed=3)
    assert len(a.x_train) == 20 and len(a.x_test) == 10
    assert np.bincount(a.y_train, minlength=10).tolist() == [2] * 10
    np.testing.assert_array_equal(a.x_train, b.x_train)


def test_fast_mode_uses_the_fast_subset_sizes(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "1")
    m = data.load_mnist()
    assert (len(m.x_train), len(m.x_test)) == (settings.budget("fast").train_size, settings.budget("fast").test_size)


def test_a_missing_file_is_named_with_the_fix(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "mnist.npz"
    monkeypatch.setenv(settings.DATA_ENV, str(missing))
    with pytest.raises(data.MNISTFileError, match=rf"{missing} does not exist.*Point CVAE_COURSE_MNIST"):
        data.load_mnist()


def test_a_corrupt_file_is_named_with_the_fix(monkeypatch, tmp_path):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"this is not a zip archive")
    monkeypatch.setenv(settings.DATA_ENV, str(bad))
    with pytest.raises(data.MNISTFileError, match=rf"{bad} is not a readable .npz archive"):
        data.load_mnist()


def test_a_file_missing_arrays_names_them(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path(y_test=None)))
    with pytest.raises(data.MNISTFileError, match=r"lacks the arrays \['y_test'\]"):
        data.load_mnist()


def test_wrongly_shaped_images_are_reported_with_the_expected_shape(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path(x_train=np.zeros((50, 32, 32), np.uint8))))
    with pytest.raises(data.MNISTFileError, match=r"x_train has shape \(50, 32, 32\), expected \(N, 28, 28\)"):
        data.load_mnist()


def test_labels_that_do_not_match_the_images_are_reported(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path(y_test=np.zeros(7, np.uint8))))
    with pytest.raises(data.MNISTFileError, match=r"y_test has shape \(7,\), expected \(20,\)"):
        data.load_mnist()


def test_images_that_are_not_uint8_are_reported(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path(x_test=np.zeros((20, 28, 28), np.float32))))
    with pytest.raises(data.MNISTFileError, match=r"x_test is float32, expected uint8"):
        data.load_mnist()


def test_the_shared_offline_file_loads_when_configured():
    """With CI's CVAE_COURSE_MNIST (or the real download) the loader gives real MNIST."""
    m = data.load_mnist(fast=False)
    assert len(m.x_test) == 10_000 and len(m.x_train) in (24_345, 60_000)
    assert np.bincount(m.y_test).tolist()[:2] == [980, 1135]


def test_make_dataset_yields_images_or_image_label_pairs_as_model_input():
    x = np.zeros((10, 28, 28, 1), np.float32)
    (images,) = (next(iter(data.make_dataset(x, batch_size=4, shuffle=False))),)
    assert tuple(images.shape) == (4, 28, 28, 1)
    (pair,) = next(iter(data.make_dataset(x, np.arange(10), batch_size=4)))
    assert tuple(pair[0].shape) == (4, 28, 28, 1) and tuple(pair[1].shape) == (4, 10)


def test_one_hot_rejects_labels_outside_0_to_9():
    with pytest.raises(ValueError, match=r"labels must be digits 0-9, got \[10\]"):
        data.one_hot([1, 10])


def test_blended_labels_run_from_the_start_digit_to_the_end_digit():
    rows = data.blend_labels(3, 8, [0.0, 0.25, 1.0])
    np.testing.assert_allclose(rows[0], data.one_hot([3])[0])
    np.testing.assert_allclose(rows[1], 0.75 * data.one_hot([3])[0] + 0.25 * data.one_hot([8])[0])
    np.testing.assert_allclose(rows[2], data.one_hot([8])[0])


def test_a_blend_weight_outside_0_to_1_is_rejected():
    with pytest.raises(ValueError, match=r"t must hold weights in \[0, 1\]"):
        data.blend_labels(3, 8, 1.5)


def test_a_failed_download_says_to_name_a_local_mnist_npz(monkeypatch):
    from cvae_course._keras import keras

    def offline():
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- [Errno -3]")

    monkeypatch.delenv(settings.DATA_ENV, raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(
        data.MNISTDownloadError, match=rf"could not be downloaded.*set {settings.DATA_ENV}.*Offline MNIST"
    ):
        data.load_mnist()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda p: p.mkdir() or p, "names the folder .* point it at the mnist.npz inside"),
        (lambda p: np.save(p.with_suffix(".npy"), np.zeros(3)) or p.with_suffix(".npy"), "a single .npy array"),
        (lambda p: p.write_text("hello") and p, "not a readable .npz archive"),
    ],
)
def test_a_local_file_of_the_wrong_kind_says_what_the_file_must_be(monkeypatch, tmp_path, make, match):
    monkeypatch.setenv(settings.DATA_ENV, str(make(tmp_path / "mnist")))
    with pytest.raises(data.MNISTFileError, match=rf"{match}.*\.npz archive .*x_train, y_train, x_test and y_test"):
        data.load_mnist()


def test_fast_must_be_a_bool_not_a_truthy_string(monkeypatch, npz_path):
    monkeypatch.setenv(settings.DATA_ENV, str(npz_path()))
    with pytest.raises(ValueError, match="fast must be True, False or None"):
        data.load_mnist(fast="no")
