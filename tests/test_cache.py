"""Trained models are cached per mode; a corrupt or wrong cache file is replaced, never a crash."""

import numpy as np
import pytest

from cvae_course import cache, models, settings


@pytest.fixture(autouse=True)
def own_cache(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    return tmp_path


def test_fast_and_full_mode_models_use_different_files(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "1")
    fast = cache.model_path("cvae")
    monkeypatch.setenv(settings.FAST_ENV, "0")
    assert fast != cache.model_path("cvae") and "fast" in fast.name


def test_the_mode_can_be_named_instead_of_read_from_the_environment(monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "1")
    assert cache.model_path("cvae", "full") != cache.model_path("cvae") == cache.model_path("cvae", "fast")


def test_a_shared_model_has_one_file_for_both_modes(monkeypatch):
    path = cache.model_path("judge", cache.SHARED)
    assert path.name == f"judge-v{cache.CACHE_VERSION}.keras"
    assert path not in {cache.model_path("judge", "fast"), cache.model_path("judge", "full")}


def test_an_unknown_mode_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match=r"mode must be one of \('full', 'fast'\), cache.SHARED"):
        cache.model_path("cvae", "quick")


def test_a_model_name_with_a_path_separator_is_rejected():
    with pytest.raises(ValueError, match="model name must be letters"):
        cache.model_path("../evil")


def test_saved_then_loaded_model_gives_the_same_images(own_cache):
    model = models.build_cvae(2, seed=0)
    cache.save_model(model, "cvae")
    loaded = cache.load_model("cvae", models.CVAE)
    np.testing.assert_allclose(loaded.decode([[0.1, 0.2]], [3]), model.decode([[0.1, 0.2]], [3]), atol=1e-6)
    assert [p.name for p in own_cache.iterdir()] == [cache.model_path("cvae").name]  # no temp files left


def test_a_missing_model_loads_as_none():
    assert cache.load_model("nothing-here") is None


def test_a_corrupt_cache_file_is_replaced_by_training(capsys):
    cache.model_path("cvae").write_bytes(b"garbage, not a .keras archive")
    calls = []
    model = cache.load_or_train("cvae", lambda: calls.append(1) or models.build_cvae(2, seed=0), models.CVAE)
    assert calls == [1] and isinstance(model, models.CVAE)
    assert "could not be loaded" in capsys.readouterr().out
    assert isinstance(cache.load_model("cvae", models.CVAE), models.CVAE)


def test_a_cached_model_of_the_wrong_class_is_replaced():
    cache.save_model(models.build_vae(2), "cvae")
    calls = []
    model = cache.load_or_train("cvae", lambda: calls.append(1) or models.build_cvae(2), models.CVAE)
    assert calls == [1] and isinstance(model, models.CVAE)


def test_a_valid_cached_model_is_loaded_without_training():
    cache.save_model(models.build_cvae(2), "cvae")
    model = cache.load_or_train("cvae", lambda: pytest.fail("should not train"), models.CVAE)
    assert isinstance(model, models.CVAE)
