"""Training shows one compact line per epoch and nothing on stderr."""

import numpy as np
import pytest

from cvae_course import models, training


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
