"""Every model the course trains and caches, by name, with its recipe: the one home of how each is made.

A later lesson (or a lesson run on its own) gets a model from here: loaded from the cache when it is there and
valid, otherwise trained now with exactly the recipe below and cached (see :mod:`cvae_course.cache`). Epochs
and data sizes come from the budget of the mode (:func:`cvae_course.settings.budget`); seeds are fixed.

=================  ==============================  =====================================================  ==============
model              cache name                      recipe                                                 lessons
=================  ==============================  =====================================================  ==============
course CVAE        cvae-dense-2d                   :func:`train_cvae`: dense, 2-D code, Adam 3e-3,         03-05, 07
                                                   batches of 256, seed 42, ``cvae_epochs``
judge              judge (one file for both        :func:`train_judge`: small CNN on all training          01, 03, 05, 07
                   modes)                          images, Adam 1e-3, batches of 128, ``judge_epochs``
lesson-02 VAE      lesson02-vae                    :func:`train_lesson02_vae`: dense, 2-D code, seed 42,   02, 03
                                                   ``vae_epochs``
held-out VAE       vae-without-<digits>-<d>d       :func:`train_vae_without`: dense, 8-D code, every       05
                                                   digit but the held-out ones, seed 42, ``holdout_vae_epochs``
beta CVAE          cvae-beta<b>-<d>d-<e>ep         :func:`train_beta_cvae`: dense, 8-D code,               07
                   [-anneal<w>]                    reconstruction + beta * KL, seed 42, ``beta_sweep_epochs``
beta sweep         the beta CVAEs' names           :func:`train_beta_sweep`: beta 1, 4, 16, and 4 with     07
                                                   a KL warm-up; each ``kl_warmup_epochs`` +
                                                   ``beta_sweep_epochs`` epochs
=================  ==============================  =====================================================  ==============
"""

from __future__ import annotations

import numpy as np

from cvae_course import cache, settings
from cvae_course._keras import keras, layers
from cvae_course.data import MNIST, load_mnist
from cvae_course.losses import KLAnnealing
from cvae_course.models import CVAE, VAE, build_cvae, build_vae
from cvae_course.training import ProgressLine, train
from cvae_course.validation import (
    NUM_CLASSES,
    as_images,
    as_labels,
    check_beta,
    check_model,
    check_positive_int,
)

__all__ = [
    "BATCH_SIZE", "BETA_LATENT_DIM", "CVAE_NAME", "HOLDOUT_LATENT_DIM", "JUDGE_NAME", "LEARNING_RATE",
    "LESSON02_VAE_NAME", "beta_cvae_name", "build_judge", "holdout_name", "load_cvae", "load_judge",
    "load_lesson02_vae", "save_cvae", "save_lesson02_vae", "train_beta_cvae", "train_beta_sweep", "train_cvae",
    "train_judge", "train_lesson02_vae", "train_vae_without",
]

# ------------------------------------------------------------------------------------------- the course CVAE
CVAE_NAME = "cvae-dense-2d"
# Batches of 256 with Adam at 3e-3 reach the benchmark's quality bar (test -ELBO <= 135, conditional accuracy
# >= 0.98, diversity >= 0.55) in 8 epochs instead of 10 at 128 / 1e-3 (benchmarks/train_speed.py).
BATCH_SIZE = 256
LEARNING_RATE = 3e-3


def train_cvae(mnist: MNIST | None = None, *, latent_dim: int = 2, kind: str = "dense", epochs: int | None = None,
               seed: int = settings.DEFAULT_SEED, progress: bool = True, validation_data=None,
               callbacks=()) -> CVAE:
    """Train the course CVAE recipe (lesson 03): dense, 2-D latent space, Adam 3e-3, batches of 256, seed 42.

    Args:
        mnist: the data to train on (default: :func:`cvae_course.data.load_mnist` in the current mode).
        latent_dim: size of the code z.
        kind: "dense" or "conv" encoder and decoder.
        epochs: passes over the training images (default: the budget's ``cvae_epochs``).
        seed: seeds the weights, the sampling and the data order.
        progress: show one progress line while training.
        validation_data: e.g. ``((x_test, y_test_one_hot),)``, scored after each epoch (the ``val_`` curves of
            ``model.history``), never trained on; scoring draws codes z too, so later epochs draw other noise than
            a run without it.
        callbacks: extra Keras callbacks, e.g. :class:`cvae_course.playground.LiveView` (lesson 03 watches the
            latent space organise); they observe the training and change nothing in it.
    """
    settings.seed_everything(seed)
    mnist = mnist or load_mnist()
    model = build_cvae(latent_dim, kind, seed=seed)
    train(model, (mnist.x_train, mnist.y_train_one_hot), epochs=epochs or settings.budget().cvae_epochs,
          batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE, progress=progress, validation_data=validation_data,
          callbacks=callbacks)
    return model


def save_cvae(model: CVAE) -> str:
    """Save ``model`` as the course CVAE for the later lessons; returns the file path."""
    check_model(model, CVAE)
    return str(cache.save_model(model, CVAE_NAME, settings.mode_name()))


def load_cvae(*, train_if_missing: bool = True, verbose: bool = False) -> CVAE | None:
    """The CVAE saved by lesson 03; trained with :func:`train_cvae` and cached now if it is missing or unreadable.

    Args:
        train_if_missing: False returns None instead of training when there is no valid cached CVAE.
        verbose: say on stdout whether the CVAE is trained now, and where it is cached (the playground does).
    """
    mode = settings.mode_name()
    if not train_if_missing:
        return cache.load_model(CVAE_NAME, CVAE, mode=mode)
    path = cache.model_path(CVAE_NAME, mode)
    if verbose and not path.is_file():
        print("No CVAE saved by lesson 03 yet: training one now (progress below) and caching it for next time.")
    model = cache.load_or_train(CVAE_NAME, train_cvae, CVAE, mode=mode)
    if verbose:
        print(f"CVAE ready: a {model.latent_dim}-D latent space, cached at {path}")
    return model


# ------------------------------------------------------------------------------------------------ the judge
JUDGE_NAME = "judge"


def build_judge() -> keras.Model:
    """A small convolutional classifier: image (28, 28, 1) -> logits for digits 0-9."""
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Conv2D(64, 3, activation="relu"),
            layers.MaxPooling2D(),
            layers.Flatten(),
            layers.Dropout(0.3),
            layers.Dense(128, activation="relu"),
            layers.Dense(NUM_CLASSES),
        ],
        name="judge",
    )


def train_judge(images, labels, *, epochs: int | None = None, seed: int = settings.DEFAULT_SEED,
                progress: bool = False) -> keras.Model:
    """Train the judge on real digits: Adam 1e-3, batches of 128 (default epochs: the full budget's ``judge_epochs``).

    Args:
        images: training images (N, 28, 28, 1) in [0, 1].
        labels: their digits 0-9, shape (N,).
        epochs: passes over the images.
        seed: seeds the weights, dropout and the data order.
        progress: show one progress line (epoch, loss) while training.
    """
    settings.seed_everything(seed)
    x, y = as_images(images), as_labels(labels)
    judge = build_judge()
    judge.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    judge.fit(x, y, epochs=epochs or settings.budget("full").judge_epochs, batch_size=128, verbose=0,
              callbacks=[ProgressLine()] if progress else [])
    return judge


def load_judge(progress: bool = True) -> keras.Model:
    """The cached judge, trained on first use on the whole training set.

    It must be good in both modes, so it is the same model in both: trained with the full budget on all training
    images and cached once (``mode=cache.SHARED``). While it trains, ``progress`` says so and shows one progress
    line (training takes a while, and a lesson must not sit silent).
    """

    def fit_judge():
        if progress:
            print("Training the judge once, on every training image (then it is cached for every lesson):")
        mnist = load_mnist(fast=False)
        return train_judge(mnist.x_train, mnist.y_train, progress=progress)

    return cache.load_or_train(JUDGE_NAME, fit_judge, keras.Model, mode=cache.SHARED)


# ------------------------------------------------------------------------------------------ the lesson-02 VAE
LESSON02_VAE_NAME = "lesson02-vae"


def train_lesson02_vae(mnist: MNIST | None = None, *, seed: int = settings.DEFAULT_SEED,
                       progress: bool = True) -> VAE:
    """Lesson 02's VAE recipe: dense, 2-D latent space, Adam 1e-3, batches of 128, seed 42, the budget's
    ``vae_epochs`` (lesson 02 trains it in view, on the learner's own copy of the same loss)."""
    settings.seed_everything(seed)
    mnist = mnist or load_mnist()
    model = build_vae(latent_dim=2, seed=seed)
    train(model, mnist.x_train, epochs=settings.budget().vae_epochs, progress=progress)
    return model


def save_lesson02_vae(model: VAE) -> str:
    """Keep lesson 02's VAE for lesson 03; returns the file path."""
    check_model(model, VAE)
    return str(cache.save_model(model, LESSON02_VAE_NAME, settings.mode_name()))


def load_lesson02_vae(mnist: MNIST | None = None) -> VAE:
    """The VAE lesson 02 kept; trained with :func:`train_lesson02_vae` (on ``mnist``) and cached if it is missing."""
    return cache.load_or_train(LESSON02_VAE_NAME, lambda: train_lesson02_vae(mnist), VAE, mode=settings.mode_name())


# --------------------------------------------------------------------------------------------- held-out VAEs
HOLDOUT_LATENT_DIM = 8  # without a label the code must also say which digit it is: more room than the CVAE's 2


def holdout_name(held_out, latent_dim: int) -> str:
    """Cache name of the VAE trained without the digit(s) ``held_out`` (one digit, or several)."""
    digits = "-".join(str(d) for d in sorted(set(as_labels(np.atleast_1d(held_out), "held_out").tolist())))
    return f"vae-without-{digits}-{latent_dim}d"


def train_vae_without(held_out, mnist: MNIST | None = None, *, latent_dim: int = HOLDOUT_LATENT_DIM,
                      epochs: int | None = None, seed: int = settings.DEFAULT_SEED, progress: bool = True,
                      use_cache: bool = True) -> VAE:
    """A dense VAE trained on every digit except ``held_out``: the "normal" data it knows (lesson 05's anomalies).

    Cached under ``vae-without-<digits>-<latent_dim>d`` when ``use_cache`` (the default) so reruns are instant.

    Args:
        held_out: the digit 0-9 left out of training, or several (e.g. ``(0, 1)``: one model serves both).
        mnist: the data (default: :func:`cvae_course.data.load_mnist` in the current mode).
        latent_dim: size of the code z.
        epochs: passes over the training images (default: the budget's ``holdout_vae_epochs``).
        seed: seeds the weights, the sampling and the data order.
        progress: show one progress line while training.
        use_cache: load a cached model if there is one, and cache a newly trained one.
    """
    digits = np.unique(as_labels(np.atleast_1d(held_out), "held_out"))
    if len(digits) >= NUM_CLASSES:
        raise ValueError(f"held_out must leave some digits to train on, got {held_out!r}")
    latent_dim = check_positive_int(latent_dim, "latent_dim")

    def fit() -> VAE:
        settings.seed_everything(seed)
        data = mnist or load_mnist()
        keep = ~np.isin(data.y_train, digits)
        model = build_vae(latent_dim, "dense", seed=seed)
        train(model, data.x_train[keep], epochs=epochs or settings.budget().holdout_vae_epochs, progress=progress)
        return model

    if not use_cache:
        return fit()
    return cache.load_or_train(holdout_name(digits, latent_dim), fit, VAE,
                               check=lambda m: not m.conditional and m.latent_dim == latent_dim,
                               mode=settings.mode_name())


# --------------------------------------------------------------------------------------------- beta CVAEs
BETA_LATENT_DIM = 8  # enough latent dimensions to count how many stay active


def beta_cvae_name(beta: float, latent_dim: int, warmup: int | None, epochs: int | None = None) -> str:
    """Cache name of the CVAE trained with KL weight ``beta`` (for ``epochs`` epochs, with a warm-up of ``warmup``
    epochs, if given): models trained for different numbers of epochs never share a file."""
    tag = f"{beta:g}".replace(".", "p").replace("-", "m")
    return (f"cvae-beta{tag}-{latent_dim}d" + (f"-{epochs}ep" if epochs else "")
            + (f"-anneal{warmup}" if warmup else ""))


def train_beta_cvae(beta: float, mnist: MNIST | None = None, *, latent_dim: int | None = None,
                    epochs: int | None = None, warmup_epochs: int | None = None,
                    seed: int = settings.DEFAULT_SEED, progress: bool = True, use_cache: bool = True) -> CVAE:
    """A dense CVAE trained on reconstruction + ``beta`` * KL (lesson 07's collapse sweep); cached per setting.

    With ``warmup_epochs`` the KL weight is annealed from 0 up to ``beta`` over that many epochs
    (:class:`cvae_course.losses.KLAnnealing`), so the decoder learns to use z before the KL pulls on it.

    Args:
        beta: the KL weight, a finite number >= 0 (1 is the true negative ELBO).
        mnist: the data (default: :func:`cvae_course.data.load_mnist` in the current mode).
        latent_dim: size of the code z (default ``BETA_LATENT_DIM``, 8).
        epochs: passes over the training images (default: the budget's ``beta_sweep_epochs``).
        warmup_epochs: anneal beta from 0 over this many epochs (None: no annealing).
        seed: seeds the weights, the sampling and the data order.
        progress: show one progress line while training.
        use_cache: load a cached model if there is one, and cache a newly trained one.
    """
    beta = check_beta(beta)
    latent_dim = check_positive_int(latent_dim or BETA_LATENT_DIM, "latent_dim")
    epochs = check_positive_int(epochs or settings.budget().beta_sweep_epochs, "epochs")
    if warmup_epochs is not None:
        warmup_epochs = check_positive_int(warmup_epochs, "warmup_epochs")

    def fit() -> CVAE:
        settings.seed_everything(seed)
        data = mnist or load_mnist()
        # With a warm-up the KL weight starts at 0 and only the annealing callback raises it to beta.
        model = build_cvae(latent_dim, "dense", beta=0.0 if warmup_epochs else beta, seed=seed)
        callbacks = []
        if warmup_epochs:
            callbacks.append(KLAnnealing(warmup_epochs, schedule=lambda e: beta * min(1.0, e / warmup_epochs)))
        train(model, (data.x_train, data.y_train_one_hot), epochs=epochs, callbacks=callbacks, progress=progress)
        return model

    if not use_cache:
        return fit()
    return cache.load_or_train(beta_cvae_name(beta, latent_dim, warmup_epochs, epochs), fit, CVAE,
                               check=lambda m: m.latent_dim == latent_dim, mode=settings.mode_name())


SWEEP_BETAS = (1.0, 4.0, 16.0)
ANNEALED_BETA = 4.0


def train_beta_sweep(mnist: MNIST | None = None, *, progress: bool = True) -> dict[str, CVAE]:
    """Lesson 07's four CVAEs, by name: "beta = 1", "beta = 4", "beta = 16" and "beta = 4, warm-up <w>".

    All four train for the same ``kl_warmup_epochs + beta_sweep_epochs`` epochs (the budget's), with the same batches
    and learning rate; the annealed one spends its first ``kl_warmup_epochs`` raising beta from 0 to 4, so it still
    has ``beta_sweep_epochs`` epochs at beta = 4 afterwards: equal training, only the schedule differs. Each model
    comes from :func:`train_beta_cvae` (cached).

    Args:
        mnist: the data (default: :func:`cvae_course.data.load_mnist` in the current mode).
        progress: show one progress line per model that is trained now.
    """
    budget = settings.budget()
    warmup, epochs = budget.kl_warmup_epochs, budget.kl_warmup_epochs + budget.beta_sweep_epochs
    models = {f"beta = {beta:g}": train_beta_cvae(beta, mnist, epochs=epochs, progress=progress)
              for beta in SWEEP_BETAS}
    models[f"beta = {ANNEALED_BETA:g}, warm-up {warmup}"] = train_beta_cvae(
        ANNEALED_BETA, mnist, epochs=epochs, warmup_epochs=warmup, progress=progress)
    return models
