"""Fast mode, seeding and the cache folder are read from environment variables; one budget table per mode."""

import dataclasses
import os

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


def test_budget_chooses_by_mode(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "1")
    assert settings.budget() == settings.budget("fast") and settings.mode_name() == "fast"
    monkeypatch.setenv(settings.FAST_ENV, "0")
    assert settings.budget() == settings.budget("full") and settings.mode_name() == "full"


def test_fast_mode_trains_on_fewer_images_for_fewer_epochs_than_full_mode():
    full, fast = settings.budget("full"), settings.budget("fast")
    assert full.train_size is None and full.test_size is None  # the whole splits
    assert fast.train_size < 60_000 and fast.test_size < 10_000
    for field in dataclasses.fields(settings.Budget):
        if field.name not in ("mode", "train_size", "test_size"):
            assert getattr(fast, field.name) <= getattr(full, field.name), field.name


def test_the_budget_table_in_the_docstring_shows_every_field_with_its_values():
    rows = {
        line.split()[0]: line.split()[1:3]
        for line in settings.__doc__.splitlines()
        if line and line.split()[0] in {f.name for f in dataclasses.fields(settings.Budget)}
    }
    for field in dataclasses.fields(settings.Budget):
        if field.name == "mode":
            continue
        shown = [str(getattr(settings.budget(mode), field.name) or "all") for mode in ("full", "fast")]
        assert rows.get(field.name) == shown, field.name


def test_an_unknown_mode_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match=r"mode must be one of \('full', 'fast'\)"):
        settings.budget("quick")


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


def test_tf_threads_gives_the_measured_choice_for_a_measured_core_count_and_none_for_others(monkeypatch):
    monkeypatch.setattr(settings, "MEASURED_THREADS", {3: (1, 2)})
    for value in (None, "auto", " AUTO "):
        if value is None:
            monkeypatch.delenv(settings.THREADS_ENV, raising=False)
        else:
            monkeypatch.setenv(settings.THREADS_ENV, value)
        assert settings.tf_threads(3) == (1, 2)
        assert settings.tf_threads(2) is None  # not measured: TensorFlow's defaults


def test_tf_threads_counts_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.delenv(settings.THREADS_ENV, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)  # this process may use one core
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    monkeypatch.setattr(settings, "MEASURED_THREADS", {1: (1, 1), 64: (8, 2)})
    assert settings._usable_cores() == 1
    assert settings.tf_threads() == (1, 1)


@pytest.mark.parametrize("value, expected", [("default", None), ("2,2", (2, 2)), (" 1, 3 ", (1, 3)), ("DEFAULT", None)])
def test_tf_threads_follows_the_variable_on_any_core_count(monkeypatch, value, expected):
    monkeypatch.setenv(settings.THREADS_ENV, value)
    for cores in (1, 2, 8):
        assert settings.tf_threads(cores) == expected


@pytest.mark.parametrize("bad", ["0,2", "2", "1,2,3", "two,one", "-1,2", "1.5,2", "fast", "\u00b2,1"])
def test_an_unclear_threads_value_is_rejected_with_the_fix(monkeypatch, bad):
    monkeypatch.setenv(settings.THREADS_ENV, bad)
    with pytest.raises(ValueError, match=r"CVAE_COURSE_TF_THREADS=.*two positive integers INTRA,INTER.*'default'"):
        settings.tf_threads(2)
