"""Every trained-and-cached model comes from recipes: saved by one lesson, loaded by the next, retrained when missing."""

import numpy as np
import pytest

from cvae_course import cache, data, recipes, settings
from cvae_course.models import CVAE, VAE, build_cvae, build_vae


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh cache folder and a quick stand-in for the course recipe (counts its calls)."""
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    calls = []

    def quick_cvae():
        calls.append(1)
        return build_cvae(2, seed=0)

    monkeypatch.setattr(recipes, "train_cvae", quick_cvae)
    return calls


# --------------------------------------------------------------------------------------------- course CVAE
def test_the_course_cvae_saved_by_lesson_03_is_what_later_lessons_load(empty_cache):
    model = build_cvae(2, seed=1)
    recipes.save_cvae(model)
    loaded = recipes.load_cvae(train_if_missing=False)
    np.testing.assert_allclose(loaded.decode([[0.0, 0.5]], [7]), model.decode([[0.0, 0.5]], [7]), atol=1e-6)


def test_saving_something_other_than_a_cvae_as_the_course_cvae_is_rejected(empty_cache):
    with pytest.raises(ValueError, match="model must be a CVAE"):
        recipes.save_cvae(build_vae(2))
def test_a_corrupt_cached_course_cvae_is_replaced_not_a_crash(empty_cache, capfd):
    path = cache.model_path(recipes.CVAE_NAME)
    path.write_bytes(b"this is not a keras file")
    model = recipes.load_cvae(verbose=True)
    assert isinstance(model, CVAE) and empty_cache == [1]
    assert isinstance(cache.load_model(recipes.CVAE_NAME, CVAE), CVAE)
    out, err = capfd.readouterr()
    assert "could not be loaded" in out and err == ""


def test_a_stale_cached_course_cvae_of_the_wrong_kind_is_replaced(empty_cache, capfd):
    cache.save_model(build_vae(2), recipes.CVAE_NAME)
    assert isinstance(recipes.load_cvae(verbose=True), CVAE) and empty_cache == [1]
    out, err = capfd.readouterr()
    assert "stale" in out and err == ""


def test_a_valid_cached_course_cvae_is_loaded_without_training(empty_cache):
    model = build_cvae(2, seed=3)
    recipes.save_cvae(model)
    loaded = recipes.load_cvae(verbose=True)
    assert empty_cache == []
    np.testing.assert_allclose(loaded.generate(3, z=[0.5, 0.5]), model.generate(3, z=[0.5, 0.5]), atol=1e-6)


def test_a_missing_course_cvae_is_trained_and_cached_with_a_message(empty_cache, capsys):
    recipes.load_cvae(verbose=True)
    assert empty_cache == [1]
    assert "training one now" in capsys.readouterr().out
    assert cache.model_path(recipes.CVAE_NAME).is_file()


def test_without_verbose_loading_the_course_cvae_prints_nothing(empty_cache, capsys):
    recipes.save_cvae(build_cvae(2, seed=0))
    recipes.load_cvae()
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------------------------- the judge
def test_the_judge_is_cached_once_for_both_modes(empty_cache, monkeypatch):
    trained = []

    def quick_judge(images, labels, **kwargs):
        trained.append(len(images))
        return recipes.build_judge()

    monkeypatch.setattr(recipes, "train_judge", quick_judge)
    monkeypatch.setenv(settings.FAST_ENV, "1")
    recipes.load_judge()
    monkeypatch.setenv(settings.FAST_ENV, "0")
    recipes.load_judge()
    assert len(trained) == 1 and trained[0] == len(data.load_mnist(fast=False).x_train)  # all training images
    assert [p.name for p in cache.model_path("judge", cache.SHARED).parent.glob("judge*")] == [f"judge-v{cache.CACHE_VERSION}.keras"]


def test_loading_the_judge_changes_no_environment_variable(empty_cache, monkeypatch):
    monkeypatch.setattr(recipes, "train_judge", lambda images, labels, **kwargs: recipes.build_judge())
    monkeypatch.setenv(settings.FAST_ENV, "1")
    recipes.load_judge()
    assert settings.fast_mode() and settings.budget().mode == "fast"


# --------------------------------------------------------------------------------------------- lesson-02 VAE
def test_the_vae_lesson_02_keeps_is_what_lesson_03_loads(empty_cache):
    model = build_vae(2, seed=4)
    recipes.save_lesson02_vae(model)
    loaded = recipes.load_lesson02_vae()
    assert isinstance(loaded, VAE)
    np.testing.assert_allclose(loaded.decode([[0.2, 0.1]]), model.decode([[0.2, 0.1]]), atol=1e-6)


# --------------------------------------------------------------------------------------------- names
def test_models_of_different_settings_are_cached_under_different_names():
    assert recipes.holdout_name(0, 8) == "vae-without-0-8d"
    assert recipes.holdout_name((1, 0), 8) == recipes.holdout_name([0, 1, 1], 8) == "vae-without-0-1-8d"
    assert recipes.beta_cvae_name(4.0, 8, None) == "cvae-beta4-8d"
    assert recipes.beta_cvae_name(0.5, 8, 2) == "cvae-beta0p5-8d-anneal2"
    assert recipes.beta_cvae_name(4.0, 8, 5, 15) == "cvae-beta4-8d-15ep-anneal5"



def test_a_vae_without_several_digits_needs_some_digits_left_to_train_on():
    with pytest.raises(ValueError, match="leave some digits"):
        recipes.train_vae_without(range(10), use_cache=False)


def test_the_beta_sweep_trains_four_models_for_equal_epochs_the_annealed_one_with_a_warmup(monkeypatch):
    calls = []
    monkeypatch.setattr(recipes, "train_beta_cvae", lambda beta, mnist=None, **kw: calls.append((beta, kw)) or beta)
    models = recipes.train_beta_sweep(progress=False)
    budget = settings.budget()
    warmup, total = budget.kl_warmup_epochs, budget.kl_warmup_epochs + budget.beta_sweep_epochs
    assert list(models) == ["beta = 1", "beta = 4", "beta = 16", f"beta = 4, warm-up {warmup}"]
    assert [kw["epochs"] for _, kw in calls] == [total] * 4
    assert [kw.get("warmup_epochs") for _, kw in calls] == [None, None, None, warmup]
