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
def test_the_judge_comes_with_the_package_and_is_never_trained_on_the_learners_machine(empty_cache, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the judge was trained")

    monkeypatch.setattr(recipes, "train_judge", no_training)
    monkeypatch.setenv(settings.FAST_ENV, "1")
    fast = recipes.load_judge()
    monkeypatch.setenv(settings.FAST_ENV, "0")
    full = recipes.load_judge()
    for a, b in zip(fast.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)  # one judge for both modes
    assert list(settings.cache_dir().iterdir()) == []  # nothing trained, nothing cached


def test_the_shipped_judge_says_what_it_was_trained_on():
    info = recipes.judge_info()
    assert info["recipe"] == "cvae_course.recipes.train_judge" and info["epochs"] == recipes.JUDGE_EPOCHS
    assert info["train_images"] >= 20_000 and info["test_images"] == 10_000
    assert info["test_accuracy"] >= recipes.MIN_JUDGE_ACCURACY


def test_a_missing_judge_file_says_how_to_get_it_back(monkeypatch, tmp_path):
    monkeypatch.setattr(recipes, "JUDGE_WEIGHTS", tmp_path / "judge.npz")
    with pytest.raises(FileNotFoundError, match="judge's weights are missing.*make_judge_weights.py"):
        recipes.load_judge()


def test_a_corrupt_judge_file_says_how_to_get_it_back(monkeypatch, tmp_path):
    bad = tmp_path / "judge.npz"
    bad.write_bytes(b"not an npz file")
    monkeypatch.setattr(recipes, "JUDGE_WEIGHTS", bad)
    with pytest.raises(ValueError, match="cannot be read.*make_judge_weights.py"):
        recipes.load_judge()


def test_a_judge_file_for_another_architecture_is_rejected_with_the_fix(monkeypatch, tmp_path):
    other = tmp_path / "judge.npz"
    np.savez(other, info=np.array("{}"), weight_00=np.zeros((3, 3), np.float32))
    monkeypatch.setattr(recipes, "JUDGE_WEIGHTS", other)
    with pytest.raises(ValueError, match="do not fit build_judge.*make_judge_weights.py"):
        recipes.load_judge()


def test_loading_the_judge_changes_no_environment_variable(empty_cache, monkeypatch):
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
    assert recipes.beta_cvae_name(4.0, 8, None) == "cvae-beta4-8d-h128x64-b256-lr0p01"
    assert recipes.beta_cvae_name(0.5, 8, 2) == "cvae-beta0p5-8d-h128x64-b256-lr0p01-anneal2"
    assert recipes.beta_cvae_name(4.0, 8, 5, 15) == "cvae-beta4-8d-15ep-h128x64-b256-lr0p01-anneal5"
    assert recipes.beta_cvae_name(1e6, 8, None) == "cvae-beta1e06-8d-h128x64-b256-lr0p01"  # no '+' in file names


def test_a_beta_cvae_trained_with_another_recipe_is_cached_under_another_name():
    recipe = recipes.beta_cvae_name(4.0, 8, 2, 8)
    others = [
        recipes.beta_cvae_name(4.0, 8, 2, 8, hidden=(512, 256)),
        recipes.beta_cvae_name(4.0, 8, 2, 8, batch_size=128),
        recipes.beta_cvae_name(4.0, 8, 2, 8, learning_rate=5e-3),
        recipes.beta_cvae_name(4.0, 8, 2, 8, learning_rate=1e-5),
        recipes.beta_cvae_name(4.0, 8, 2, 8, seed=1),
    ]
    assert len({recipe, *others}) == 6
    assert recipes.beta_cvae_name(4.0, 8, 2, 8, seed=settings.DEFAULT_SEED) == recipe
    assert others[4] == "cvae-beta4-8d-8ep-h128x64-b256-lr0p01-anneal2-s1"
    assert others[3] == "cvae-beta4-8d-8ep-h128x64-b256-lr1em05-anneal2"


def test_a_vae_without_several_digits_needs_some_digits_left_to_train_on():
    with pytest.raises(ValueError, match="leave some digits"):
        recipes.train_vae_without(range(10), use_cache=False)


@pytest.mark.parametrize("held_out, message", [((), "at least one digit"), (10, "0-9")])
def test_held_out_digits_must_be_digits(held_out, message):
    with pytest.raises(ValueError, match=message):
        recipes.holdout_name(held_out, 8)


# --------------------------------------------------------------------------------------------- small models
@pytest.fixture
def tiny_mnist():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(96, 28, 28, 1)).astype(np.float32)
    y = np.arange(96) % 10
    return data.MNIST(x, y, x[:20], y[:20], source="random")


def test_the_course_cvae_starts_at_the_average_of_its_training_images(monkeypatch, tiny_mnist):
    started = []
    monkeypatch.setattr(recipes, "train", lambda model, x, **kwargs: started.append(model.decoder.get_weights()))
    model = recipes.train_cvae(tiny_mnist, epochs=1, progress=False)
    expected = build_cvae(2, seed=0, start_images=tiny_mnist.x_train).decoder.get_weights()[-1]
    np.testing.assert_allclose(started[0][-1], expected, rtol=1e-6)
    np.testing.assert_allclose(model.decoder.get_weights()[-1], expected, rtol=1e-6)


@pytest.mark.parametrize("fast, batch", [("0", 128), ("1", 256)])
def test_the_course_cvae_trains_in_batches_of_128_in_full_mode_and_of_256_in_fast_mode(
    monkeypatch, tiny_mnist, fast, batch
):
    monkeypatch.setenv(settings.FAST_ENV, fast)
    asked = []
    monkeypatch.setattr(recipes, "train", lambda model, x, **kwargs: asked.append(kwargs))
    recipes.train_cvae(tiny_mnist, progress=False)
    recipes.train_cvae(tiny_mnist, batch_size=64, progress=False)
    epochs = settings.budget().cvae_epochs  # the mode's
    assert [(k["batch_size"], k["epochs"]) for k in asked] == [(batch, epochs), (64, epochs)]


def test_the_convolutional_course_cvae_keeps_keras_initialisation(monkeypatch, tiny_mnist):
    monkeypatch.setattr(recipes, "train", lambda model, x, **kwargs: None)
    model = recipes.train_cvae(tiny_mnist, kind="conv", epochs=1, progress=False)
    np.testing.assert_array_equal(model.decoder.get_weights()[-1], 0.0)


def test_a_vae_without_two_digits_never_sees_them_and_is_cached_once(tmp_path, monkeypatch, tiny_mnist):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    seen = []
    monkeypatch.setattr(recipes, "train", lambda model, x, **kwargs: seen.append(len(x)))
    model = recipes.train_vae_without((0, 1), tiny_mnist, latent_dim=2, epochs=1, progress=False)
    assert seen == [int(np.sum(tiny_mnist.y_train > 1))]
    assert isinstance(recipes.train_vae_without([1, 0], tiny_mnist, latent_dim=2, epochs=1), VAE) and len(seen) == 1
    assert model.latent_dim == 2


def test_a_beta_sweep_trains_the_missing_models_together_and_caches_each(tmp_path, monkeypatch, tiny_mnist):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    together = []
    real = recipes.train_together
    monkeypatch.setattr(
        recipes, "train_together", lambda models, x, **kw: together.append(len(models)) or real(models, x, **kw)
    )
    recipes.train_beta_cvae(4.0, tiny_mnist, latent_dim=2, epochs=1, progress=False)  # one alone, cached
    sweep = recipes.train_beta_cvaes([1.0, 4.0, 16.0], tiny_mnist, latent_dim=2, epochs=1, progress=False)
    assert together == [2]  # beta 4 came from the cache
    assert [float(m.beta.numpy()) for m in sweep.values()] == [1.0, 4.0, 16.0]
    for beta in (1.0, 4.0, 16.0):
        assert cache.model_path(recipes.beta_cvae_name(beta, 2, None, 1)).is_file()
    again = recipes.train_beta_cvaes([16.0, 1.0], tiny_mnist, latent_dim=2, epochs=1, progress=False)
    assert together == [2] and list(again) == [16.0, 1.0]


def test_an_annealed_sweep_warms_each_model_up_to_its_own_beta(tmp_path, monkeypatch, tiny_mnist):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    sweep = recipes.train_beta_cvaes(
        [2.0, 8.0], tiny_mnist, latent_dim=2, epochs=3, warmup_epochs=2, progress=False, use_cache=False
    )
    assert [float(m.beta.numpy()) for m in sweep.values()] == [2.0, 8.0]  # set to 0, 1, 2 and 0, 4, 8 per epoch
    assert list(tmp_path.iterdir()) == []


def test_an_annealed_model_trained_in_a_group_learns_what_it_learns_alone(tmp_path, monkeypatch, tiny_mnist):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    kw = dict(latent_dim=2, epochs=3, warmup_epochs=2, progress=False, use_cache=False)
    alone = recipes.train_beta_cvae(8.0, tiny_mnist, **kw)
    group = recipes.train_beta_cvaes([2.0, 8.0], tiny_mnist, **kw)  # one stacked network (training._Stacked)
    for a, b in zip(alone.get_weights(), group[8.0].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)  # float rounding (see tests/test_training.py)
    unannealed = recipes.train_beta_cvae(8.0, tiny_mnist, **{**kw, "warmup_epochs": None})
    assert not all(np.allclose(a, b, atol=1e-4) for a, b in zip(alone.get_weights(), unannealed.get_weights()))


def test_the_beta_sweep_trains_four_models_together_for_equal_epochs_the_annealed_one_warming_up(
    tmp_path, monkeypatch, tiny_mnist
):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    calls = []
    monkeypatch.setattr(recipes, "train_together", lambda models, x, **kw: calls.append((models, kw)))
    models = recipes.train_beta_sweep(tiny_mnist, progress=False)
    budget = settings.budget()
    warmup, total = budget.kl_warmup_epochs, budget.kl_warmup_epochs + budget.beta_sweep_epochs
    assert list(models) == ["beta = 1", "beta = 4", "beta = 16", f"beta = 4, warm-up {warmup}"]
    [(group, kw)] = calls
    assert group == list(models.values()) and kw["epochs"] == total
    assert [float(m.beta.numpy()) for m in group] == [1.0, 4.0, 16.0, 0.0]  # the annealed one starts at 0
    [annealing] = kw["callbacks"]
    assert annealing.member is group[3] and annealing.schedule(warmup) == 4.0
    names = [recipes.beta_cvae_name(b, 8, w, total) for b, w in [(1, None), (4, None), (16, None), (4, warmup)]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(cache.model_path(name).name for name in names)
    recipes.train_beta_sweep(tiny_mnist, progress=False)  # all cached now: nothing trains
    assert len(calls) == 1


def _hidden_units(model):
    return [
        layer.units
        for layer in model.encoder.layers
        if layer.name not in ("z_mean", "z_log_var") and hasattr(layer, "units")
    ]


def test_a_beta_cvae_has_the_sweeps_narrow_hidden_layers_and_a_cached_wider_one_is_retrained(
    tmp_path, monkeypatch, tiny_mnist
):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    name = recipes.beta_cvae_name(4.0, 2, None, 1)
    cache.save_model(build_cvae(2, beta=4.0, seed=0, hidden=(512, 256)), name)  # an earlier course's recipe
    model = recipes.train_beta_cvae(4.0, tiny_mnist, latent_dim=2, epochs=1, progress=False)
    assert _hidden_units(model) == list(recipes.BETA_HIDDEN) != [512, 256]
    again = recipes.train_beta_cvae(4.0, tiny_mnist, latent_dim=2, epochs=1, progress=False)  # now from the cache
    assert all(np.array_equal(a, b) for a, b in zip(again.get_weights(), model.get_weights()))


@pytest.mark.parametrize("betas, message", [([1.0, 1.0], "each once"), ([], "one or more"), ([-1.0], "beta")])
def test_a_beta_sweep_rejects_repeated_or_bad_weights(betas, message):
    with pytest.raises(ValueError, match=message):
        recipes.train_beta_cvaes(betas, use_cache=False)


# --------------------------------------------------------------------------- cached models and their arguments
@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.CACHE_ENV, str(tmp_path))
    return tmp_path


def _same(a, b) -> bool:
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_a_held_out_vae_asked_for_other_epochs_or_data_is_trained_anew_not_the_cached_one(own_cache, capsys):
    small = data.load_mnist(train_size=200, test_size=20)
    other = data.load_mnist(train_size=300, test_size=20)
    one = recipes.train_vae_without(0, small, epochs=1, progress=False)
    two = recipes.train_vae_without(0, small, epochs=2, progress=False)
    assert not _same(one, two) and "epochs=1 (asked: 2)" in capsys.readouterr().out
    assert _same(recipes.train_vae_without(0, small, epochs=2, progress=False), two)  # the same call: cached
    assert not _same(recipes.train_vae_without(0, other, epochs=2, progress=False), two)
    assert "data='200 images" in capsys.readouterr().out


def test_lesson_02s_vae_trained_on_some_data_is_not_handed_to_a_call_with_other_data(own_cache):
    small = data.load_mnist(train_size=200, test_size=20)
    first = recipes.load_lesson02_vae(small)
    assert _same(recipes.load_lesson02_vae(small), first)
    other = data.load_mnist(train_size=250, test_size=20)
    assert not _same(recipes.load_lesson02_vae(other), first)


def test_lesson_02s_own_saved_vae_is_what_lesson_03_loads_whatever_its_data(own_cache):
    model = build_vae(2, seed=5)
    recipes.save_lesson02_vae(model)
    assert _same(recipes.load_lesson02_vae(data.load_mnist(train_size=200, test_size=20)), model)


@pytest.mark.parametrize(
    "save, model, match",
    [
        (recipes.save_lesson02_vae, lambda: build_cvae(2, seed=0), "not conditional.*train_lesson02_vae"),
        (recipes.save_lesson02_vae, lambda: build_vae(16, "conv"), "2-D code.*16 dimensions.*train_lesson02_vae"),
        (recipes.save_cvae, lambda: build_cvae(8, "conv", seed=0), "2-D code.*8 dimensions.*train_cvae"),
    ],
)
def test_saving_a_model_later_lessons_cannot_use_is_refused_with_the_call_to_make(own_cache, save, model, match):
    with pytest.raises(ValueError, match=match):
        save(model())


def test_a_cached_course_cvae_without_a_2d_code_is_not_handed_on(own_cache, capsys):
    cache.save_model(build_cvae(8, seed=0), recipes.CVAE_NAME)
    assert recipes.load_cvae(train_if_missing=False) is None
    assert "returning None (train_if_missing=False)" in capsys.readouterr().out
