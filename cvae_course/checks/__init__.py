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

The checks of each lesson live in their own module, :mod:`~cvae_course.checks.lesson01` and so on (found by
name: every ``lessonNN.py`` here is imported, its ``__all__`` re-exported and its ``TASKS`` added to the messages),
what they share in :mod:`~cvae_course.checks.harness`. A notebook calls them
from here (``checks.check_encoder(build_encoder)``), with its data and epochs from :func:`exercise_data` and
:func:`exercise_epochs`; its setup cell calls :func:`friendly_errors`, so that every cell of an unfinished exercise
fails with a short message, not a traceback. Nothing here imports nbgrader: grading is the instructors' tool
(:mod:`cvae_course.tools.grading`).
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from cvae_course import data, settings
from cvae_course.checks.harness import TASKS, TICK, CheckFailed, add_tasks, friendly_errors

__all__ = ["TASKS", "TICK", "CheckFailed", "exercise_data", "exercise_epochs", "friendly_errors", "lessons"]


def lessons() -> list[str]:
    """The modules of per-lesson checks in this package (``lesson01``, ``lesson02`` ...), in order."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if re.fullmatch(r"lesson\d+", m.name))


# Every lesson's checks, from its own module: its public names (``__all__``) are the package's, its TASKS name the
# tasks in messages. A new lesson's exercise needs only its lessonNN.py here, nothing else in the package.
for _lesson in lessons():
    _module = importlib.import_module(f"{__name__}.{_lesson}")
    if set(_module.__all__) & set(__all__):
        raise ImportError(
            f"cvae_course.checks.{_lesson} exports names another module of checks already has: "
            f"{sorted(set(_module.__all__) & set(__all__))}; rename them"
        )
    globals().update({name: getattr(_module, name) for name in _module.__all__})
    __all__ += list(_module.__all__)
    add_tasks(getattr(_module, "TASKS", {}))
del _lesson, _module


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
