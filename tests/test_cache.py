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


# ------------------------------------------------------------------------- recipes kept with the models they made
def test_a_model_trained_with_another_recipe_is_trained_anew_and_said_so_in_one_line(capsys):
    cache.save_model(models.build_vae(2, seed=0), "vae", recipe={"epochs": 1, "seed": 42})
    calls = []
    model = cache.load_or_train(
        "vae", lambda: calls.append(1) or models.build_vae(2, seed=1), models.VAE, recipe={"epochs": 3, "seed": 42}
    )
    assert calls == [1] and isinstance(model, models.VAE)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "was trained with epochs=1 (asked: 3); training a new one" in out
    assert cache.load_model("vae", models.VAE, recipe={"epochs": 3, "seed": 42}) is not None  # now cached with it


def test_a_model_cached_with_the_same_recipe_is_loaded_without_training():
    cache.save_model(models.build_vae(2, seed=0), "vae", recipe={"epochs": 3, "data": "6000 images, abc"})
    model = cache.load_or_train(
        "vae",
        lambda: pytest.fail("should not train"),
        models.VAE,
        recipe={"epochs": 3, "data": lambda: "6000 images, abc"},
    )
    assert isinstance(model, models.VAE)


def test_a_model_saved_without_a_recipe_is_used_whatever_the_recipe_and_computes_nothing():
    cache.save_model(models.build_vae(2, seed=0), "vae", recipe={"epochs": 1})
    cache.save_model(models.build_vae(2, seed=0), "vae")  # e.g. a lesson's save: the earlier recipe goes
    assert not cache.recipe_path("vae").exists()
    lazy = {"data": lambda: pytest.fail("nothing to compare with: the data need not be loaded")}
    assert cache.load_model("vae", models.VAE, recipe=lazy) is not None


def test_a_cache_folder_that_cannot_be_written_keeps_the_trained_model_and_says_so_once(monkeypatch, capsys):
    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cache, "_write_atomically", refuse)
    trained = [models.build_vae(2, seed=0), models.build_vae(2, seed=1)]
    assert cache.load_or_train("a", lambda: trained[0], models.VAE) is trained[0]
    assert cache.load_or_train("b", lambda: trained[1], models.VAE) is trained[1]
    out = capsys.readouterr().out
    assert out.count(settings.CACHE_ENV) == 1 and "Permission denied" in out and "not saved" in out


def test_a_cache_folder_that_cannot_be_created_names_the_variable(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(settings.CACHE_ENV, str(blocker / "cache"))
    with pytest.raises(OSError, match=f"cannot be created.*set {settings.CACHE_ENV} to a folder you can write"):
        cache.load_or_train("vae", lambda: pytest.fail("should not train"), models.VAE)
