"""Friendly checks for the exercise notebooks (``solutions/`` and the generated ``exercises/``).

Each ``check_*`` runs a learner's function or class on inputs it knows the answer for. When something is wrong it
raises :class:`CheckFailed` (an ``AssertionError``) saying what is wrong and how to fix it (a shape, a sign, a
missing 0.5, a sum over the wrong axis ...); when all is well it prints one line starting with a tick.

The checks compare against the package's reference code (:mod:`cvae_course.losses`, reference encoders and
decoders from :mod:`cvae_course.models`), so a task is graded on its own: a wrong encoder does not fail the check
of the loss, and a task that calls an earlier task's function runs with the course's version of it
(``elbo_terms`` with the course's ``kl_divergence``, ``worst_reconstructions`` with the course's reconstruction
error). The two training tasks (the autoencoder learned, the VAE trained) train the learner's own functions: when
the training goes wrong and one of those fails its check, their message names that task at once ("your
kl_divergence (task 2) does not pass its check yet: fix it first"). Visible test cells call the checks with their
defaults; hidden test cells call them again with other seeds and sizes, so a hard-coded answer does not pass.

The checks of each lesson live in :mod:`~cvae_course.checks.lesson01`, :mod:`~cvae_course.checks.lesson02` and
:mod:`~cvae_course.checks.lesson03`, what they share in :mod:`~cvae_course.checks.harness`. A notebook calls them
from here (``checks.check_encoder(build_encoder)``), with its data and epochs from :func:`exercise_data` and
:func:`exercise_epochs`; its setup cell calls :func:`friendly_errors`, so that every cell of an unfinished exercise
fails with a short message, not a traceback. Nothing here imports nbgrader: grading is the instructors' tool
(:mod:`cvae_course.tools.grading`).
"""

from __future__ import annotations

from cvae_course import data, settings
from cvae_course.checks.harness import TASKS, TICK, CheckFailed, friendly_errors
from cvae_course.checks.lesson01 import (
    check_autoencoder_learned,
    check_decoder,
    check_encoder,
    check_reconstruction_error,
    check_worst_reconstructions,
)
from cvae_course.checks.lesson02 import (
    check_elbo_terms,
    check_kl,
    check_sample_images,
    check_sampling,
    check_vae_trained,
)
from cvae_course.checks.lesson03 import (
    check_conditional_decoder,
    check_conditional_encoder,
    check_generate_digit,
    check_interpolate,
    check_style_transfer,
)

__all__ = [
    "TASKS", "TICK", "CheckFailed", "exercise_data", "exercise_epochs", "friendly_errors",
    "check_encoder", "check_decoder", "check_reconstruction_error", "check_worst_reconstructions",
    "check_autoencoder_learned",
    "check_sampling", "check_kl", "check_elbo_terms", "check_sample_images", "check_vae_trained",
    "check_conditional_encoder", "check_conditional_decoder", "check_generate_digit", "check_style_transfer",
    "check_interpolate",
]


def exercise_data(seed: int = settings.DEFAULT_SEED) -> data.MNIST:
    """The MNIST slice of the graded notebooks: small, so that grading a notebook takes about a minute.

    Its sizes are the budget's ``exercise_train_size`` and ``exercise_test_size``
    (:func:`cvae_course.settings.budget`).
    """
    sizes = settings.budget()
    return data.load_mnist(sizes.exercise_train_size, sizes.exercise_test_size, seed=seed)


def exercise_epochs() -> int:
    """Training epochs in the graded notebooks: the budget's ``exercise_epochs`` (a couple in fast mode)."""
    return settings.budget().exercise_epochs
