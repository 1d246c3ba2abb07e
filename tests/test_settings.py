"""Fast mode, seeding and the cache folder are read from environment variables."""

import numpy as np
import pytest

from cvae_course import settings


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False), ("no", False)])
def test_fast_mode_reads_the_environment_variable(monkeypatch, value, expected):
    monkeypatch.setenv(settings.FAST_ENV, value)
    assert settings.fast_mode() is expected


def test_fast_mode_is_off_when_the_variable_is_unset(monkeypatch):
    monkeypatch.delenv(settings.FAST_ENV, raising=False)
    assert settings.fast_mode() is False


def test_an_unclear_fast_mode_value_is_rejected_with_the_fix(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "maybe")
    with pytest.raises(ValueError, match=r"CVAE_COURSE_FAST='maybe'.*set it to 1"):
        settings.fast_mode()


def test_pick_chooses_by_mode(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "1")
    assert settings.pick(full=30, fast=2) == 2 and settings.mode_name() == "fast"
    monkeypatch.setenv(settings.FAST_ENV, "0")
    assert settings.pick(full=30, fast=2) == 30 and settings.mode_name() == "full"


def test_cache_dir_follows_the_variable_and_is_created(monkeypatch, tmp_path):
    target = tmp_path / "models" / "here"
    monkeypatch.setenv(settings.CACHE_ENV, str(target))
    assert settings.cache_dir() == target and target.is_dir()


def test_seed_everything_makes_numpy_and_keras_repeatable():
    import keras

    settings.seed_everything(5)
    a = (np.random.rand(3), np.asarray(keras.random.normal((3,))))
    settings.seed_everything(5)
    b = (np.random.rand(3), np.asarray(keras.random.normal((3,))))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "42", True])
def test_seed_everything_rejects_a_bad_seed(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        settings.seed_everything(bad)
