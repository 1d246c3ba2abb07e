"""Training: the one-cycle schedule per call, models trained together, one compact line per epoch, nothing on stderr."""

import numpy as np
import pytest

from cvae_course import models, training
from cvae_course._keras import keras, ops


@pytest.fixture(scope="module")
def xy():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(64, 28, 28, 1)).astype(np.float32), np.eye(10, dtype=np.float32)[np.arange(64) % 10]


def test_train_prints_one_line_per_epoch_with_the_loss_terms(capfd, xy):
    training.train(models.build_cvae(2, seed=0), xy, epochs=3, batch_size=16)
    out, err = capfd.readouterr()
    lines = out.strip().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    assert all("reconstruction" in line and "kl" in line for line in lines)
    assert err == ""


def test_train_without_progress_prints_nothing(capfd, xy):
    training.train(models.build_cvae(2, seed=0), xy, epochs=1, batch_size=16, progress=False)
    assert capfd.readouterr() == ("", "")


def test_train_shows_the_validation_loss_when_given(capfd, xy):
    training.train(models.build_cvae(2, seed=0), xy, epochs=1, batch_size=16, validation_data=(xy,))
    assert "val_loss" in capfd.readouterr().out


def test_format_logs_is_compact():
    text = training.format_logs(2, 10, {"loss": 151.23, "reconstruction": 144.0, "kl": 7.23}, 4.12)
    assert text == "epoch 2/10  loss 151.2  reconstruction 144.0  kl 7.2  (4.1 s)"


@pytest.mark.parametrize("arg, bad", [("epochs", 0), ("batch_size", -1), ("learning_rate", 0.0)])
def test_train_rejects_bad_settings(xy, arg, bad):
    kwargs = {"epochs": 1, **{arg: bad}}
    with pytest.raises(ValueError, match=f"{arg} must be a positive"):
        training.train(models.build_cvae(2), xy, **kwargs)


def test_kl_annealing_sets_beta_from_its_schedule_each_epoch(xy):
    from cvae_course.losses import KLAnnealing

    cvae = models.build_cvae(2, seed=0)
    annealing = KLAnnealing(warmup_epochs=2)
    training.train(cvae, xy, epochs=3, batch_size=32, callbacks=[annealing], progress=False)
    assert annealing.history == [0.0, 0.5, 1.0]
    assert float(cvae.beta.numpy()) == 1.0


# --------------------------------------------------------------------------------------------- the schedule
def test_one_cycle_warms_up_from_a_tenth_of_the_peak_then_decays_to_zero():
    schedule = training.OneCycle(0.02, total_steps=100, warmup_fraction=0.1)
    rates = np.array([float(schedule(step)) for step in range(0, 101)])
    assert rates[0] == pytest.approx(0.002)
    assert rates[10] == pytest.approx(0.02) and rates.max() == pytest.approx(0.02)
    assert np.all(np.diff(rates[:11]) > 0) and np.all(np.diff(rates[10:]) < 0)
    assert rates[100] == pytest.approx(0.0, abs=1e-9) and float(schedule(150)) == pytest.approx(0.0, abs=1e-9)


def test_train_schedules_the_learning_rate_over_exactly_the_steps_of_the_call(xy):
    cvae = models.build_cvae(2, seed=0)
    training.train(cvae, xy, epochs=3, batch_size=16, learning_rate=0.01, progress=False)  # 3 x ceil(64 / 16)
    rate = cvae.optimizer.get_config()["learning_rate"]["config"]
    assert rate == {"peak": 0.01, "total_steps": 12, "warmup_fraction": 0.1}
    assert float(cvae.optimizer.learning_rate) == pytest.approx(0.0, abs=1e-9)  # the end of the cycle


def test_training_again_trains_again_with_a_new_cycle(xy):
    cvae = models.build_cvae(2, seed=0)
    training.train(cvae, xy, epochs=1, batch_size=16, progress=False)
    before = [w.copy() for w in cvae.get_weights()]
    training.train(cvae, xy, epochs=1, batch_size=16, progress=False)
    assert any(not np.allclose(a, b) for a, b in zip(before, cvae.get_weights()))


def test_a_model_loaded_from_a_file_trains_again_with_a_new_cycle(xy, tmp_path):
    cvae = models.build_cvae(2, seed=0)
    training.train(cvae, xy, epochs=1, batch_size=16, progress=False)
    cvae.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    before = [w.copy() for w in loaded.get_weights()]
    training.train(loaded, xy, epochs=1, batch_size=16, progress=False)
    assert any(not np.allclose(a, b) for a, b in zip(before, loaded.get_weights()))


def test_a_model_compiled_by_the_learner_keeps_its_optimizer(xy):
    cvae = models.build_cvae(2, seed=0)
    sgd = keras.optimizers.SGD(1e-3)
    cvae.compile(optimizer=sgd)
    training.train(cvae, xy, epochs=1, batch_size=16, progress=False)
    assert cvae.optimizer is sgd


def _count_traces(model) -> list:
    """Make ``model.train_step`` record each call: Keras calls it once per trace of the training step."""
    calls, step = [], model.train_step

    def counted(data):
        calls.append(1)
        return step(data)

    model.train_step = counted
    return calls


def test_train_traces_the_training_step_once(xy):
    cvae = models.build_cvae(2, seed=0)
    traces = _count_traces(cvae)
    training.train(cvae, xy, epochs=2, batch_size=24, progress=False)  # 64 = 24 + 24 + 16: a partial batch too
    assert len(traces) == 1  # Adam's moments built inside the first trace made TensorFlow trace it again


def test_building_the_optimizer_first_trains_to_the_same_weights_as_keras_building_it_in_the_step(xy, monkeypatch):
    trained = []
    for build_first in (True, False):
        if not build_first:
            monkeypatch.setattr(training, "_build_optimizer", lambda model: None)
        keras.utils.set_random_seed(3)
        cvae = models.build_cvae(2, seed=3)
        traces = _count_traces(cvae)
        training.train(cvae, xy, epochs=2, batch_size=16, progress=False)
        trained.append((len(traces), cvae.get_weights()))
    (once, ours), (twice, keras_own) = trained
    assert (once, twice) == (1, 2)
    assert all(np.array_equal(a, b) for a, b in zip(ours, keras_own))


def test_a_constant_learning_rate_stays_constant(xy):
    cvae = models.build_cvae(2, seed=0)
    training.train(cvae, xy, epochs=2, batch_size=16, learning_rate=3e-3, schedule="constant", progress=False)
    assert float(cvae.optimizer.learning_rate) == pytest.approx(3e-3)


def test_an_unknown_schedule_is_rejected_with_the_choices(xy):
    with pytest.raises(ValueError, match=r"schedule must be one of \('one-cycle', 'constant'\)"):
        training.train(models.build_cvae(2), xy, epochs=1, schedule="cosine")


# --------------------------------------------------------------------------------------------- together
def _seeded_cvae(beta, **arch):
    keras.utils.set_random_seed(7)
    return models.build_cvae(2, beta=beta, seed=7, **arch)


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_models_trained_together_learn_what_each_learns_alone_to_float_rounding(xy, kind):
    alone = _seeded_cvae(4.0, kind=kind)
    training.train(alone, xy, epochs=2, batch_size=16, progress=False, shuffle=False)
    pair = [_seeded_cvae(1.0, kind=kind), _seeded_cvae(4.0, kind=kind)]
    history = training.train_together(pair, xy, epochs=2, batch_size=16, progress=False, shuffle=False)
    # Stacked (dense) or side by side (conv), the products sum in another order: Adam's normalised steps turn
    # rounding differences of 1e-7 into a few 1e-5 in rare weights (measured largest 1.7e-5); a wrong beta,
    # batch or noise stream moves the weights by 1e-3 and more.
    tolerance = 1e-4 if kind == "dense" else 1e-5  # side by side (conv) the products sum in the same order
    for a, b in zip(alone.get_weights(), pair[1].get_weights()):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
    assert not np.allclose(pair[0].get_weights()[-1], pair[1].get_weights()[-1])  # each followed its own beta
    assert len(history.history["loss"]) == 2


def test_dense_cvaes_of_one_architecture_train_as_one_stacked_network_and_others_side_by_side():
    dense = [models.build_cvae(2, seed=0, hidden=(32, 16)) for _ in range(3)]
    assert training._stackable(dense) is not None
    assert training._stackable([models.build_cvae(2, kind="conv"), models.build_cvae(2, kind="conv")]) is None
    assert training._stackable([dense[0], models.build_cvae(2, hidden=(32, 8))]) is None  # other sizes
    assert training._stackable([dense[0], models.build_cvae(3, hidden=(32, 16))]) is None  # another code size
    custom = models.build_cvae(2, hidden=(32, 16), loss_terms=lambda x, logits, m, v: (ops.sum(logits), ops.sum(m)))
    assert training._stackable([dense[0], custom]) is None  # another loss: trained by its own compute_loss


def test_a_member_that_computes_differently_is_not_stacked_wherever_it_stands():
    dense = [models.build_cvae(2, seed=0, hidden=(32, 16)) for _ in range(3)]
    odd = dense[2].encoder.layers[4]  # the encoder's first hidden Dense layer
    assert isinstance(odd, keras.layers.Dense) and odd.units == 32
    odd.activation = keras.activations.tanh  # same shapes as the others, another computation
    assert training._stackable(dense) is None
    assert training._stackable(dense[:2]) is not None


def test_models_that_share_weights_cannot_be_trained_together(xy):
    cvae = models.build_cvae(2, seed=0)
    twin = models.CVAE(cvae.encoder, models.build_decoder(2, conditional=True))
    with pytest.raises(ValueError, match="share the weight"):
        training.train_together([cvae, twin], xy, epochs=1)


def test_training_together_needs_two_models(xy):
    with pytest.raises(ValueError, match="two or more Keras models"):
        training.train_together([models.build_cvae(2)], xy, epochs=1)


# ------------------------------------------------------------------ what train() checks before it trains a course model
def _images(n=32):
    return np.random.default_rng(1).uniform(size=(n, 28, 28, 1)).astype(np.float32)


@pytest.mark.parametrize(
    "build, x, match",
    [
        (lambda: models.build_vae(seed=0), lambda: (_images() * 255).astype(np.uint8), r"\[0, 1\].*Divide uint8"),
        (lambda: models.build_autoencoder(), lambda: _images() * 255, r"Divide uint8 images by 255"),
        (lambda: models.build_vae(seed=0), lambda: np.where(_images() > 0.9, np.nan, _images()), "NaN"),
        (lambda: models.build_vae(seed=0), lambda: _images()[:0], "no images"),
        (
            lambda: models.build_vae(seed=0),
            lambda: (_images(), np.arange(32) % 10),
            "not conditional.*one array, not a pair",
        ),
        (lambda: models.build_cvae(seed=0), lambda: _images(), r"\(images, labels_one_hot\)"),
        (lambda: models.build_cvae(seed=0), lambda: (_images(), np.arange(32) % 10), r"\(N, 10\).*one_hot"),
        (lambda: models.build_cvae(seed=0), lambda: (_images(), 2 * np.eye(10)[np.arange(32) % 10]), "one 1 per row"),
        (lambda: models.build_cvae(seed=0), lambda: (_images(), np.eye(10)[np.arange(8) % 10]), "one label per image"),
        (lambda: models.build_cvae(seed=0), lambda: (_images() * 255, np.eye(10)[np.arange(32) % 10]), "uint8"),
    ],
)
def test_train_rejects_data_a_course_model_cannot_learn_from_with_what_to_pass(build, x, match):
    with pytest.raises(ValueError, match=match):
        training.train(build(), x(), epochs=1, progress=False)


def test_train_rejects_a_model_that_is_not_a_keras_model():
    with pytest.raises(ValueError, match="must be a Keras model.*build_vae"):
        training.train("vae", _images(), epochs=1, progress=False)


@pytest.mark.parametrize("shape", [(32, 28, 28), (32, 784)])
def test_train_accepts_the_image_shapes_encode_accepts(shape):
    history = training.train(models.build_vae(seed=0), _images().reshape(shape), epochs=1, progress=False)
    assert np.isfinite(history.history["loss"][0])


def test_train_gives_the_same_model_for_a_list_of_images_as_for_the_array():
    weights = []
    for x in (_images(), _images().tolist()):
        keras.utils.set_random_seed(0)
        model = models.build_vae(seed=0)
        training.train(model, x, epochs=1, batch_size=16, progress=False, shuffle=False)
        weights.append(model.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(*weights))


def test_train_says_how_to_pass_a_cvae_validation_pair(xy):
    with pytest.raises(ValueError, match=r"\(\(x_test, y_test_one_hot\),\)"):
        training.train(models.build_cvae(seed=0), xy, epochs=1, progress=False, validation_data=xy)


def test_train_checks_the_validation_images_as_it_checks_x(xy):
    with pytest.raises(ValueError, match="validation_data.*Divide uint8"):
        training.train(models.build_vae(seed=0), xy[0], epochs=1, progress=False, validation_data=(xy[0] * 255,))


@pytest.mark.parametrize("conditional", [True, False])
def test_train_rejects_a_dataset_with_or_without_labels_for_the_wrong_model(conditional, xy):
    from cvae_course import data

    labels = np.argmax(xy[1], axis=1)
    dataset = data.make_dataset(xy[0]) if conditional else data.make_dataset(xy[0], labels)
    model = models.build_cvae(seed=0) if conditional else models.build_vae(seed=0)
    with pytest.raises(ValueError, match="make_dataset"):
        training.train(model, dataset, epochs=1, progress=False)


def test_train_checks_lesson_06_pairs_as_quadrants_does():
    from cvae_course import quadrants

    x, y = quadrants.make_task(_images(), 2)[:2]
    baseline = quadrants.Baseline(quadrants.build_baseline((16,)))
    with pytest.raises(ValueError, match=r"\(x, y\) pairs"):
        training.train(baseline, x, epochs=1, progress=False)
    with pytest.raises(ValueError, match="pixels in \\[0, 1\\] and -1"):
        training.train(baseline, (x * 255, y), epochs=1, progress=False)
