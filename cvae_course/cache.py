"""Caching trained models on disk so that later lessons (and re-runs) need not train again.

Files live in :func:`cvae_course.settings.cache_dir` as ``<name>-<fast|full>-v<N>.keras``: fast-mode and
full-mode models never mix, and bumping ``CACHE_VERSION`` retires files from older course versions. A model both
modes use (the judge) is cached once, as ``<name>-v<N>.keras``: pass ``mode=cache.SHARED``. Every function takes
the mode as an argument (None: the current mode, :func:`cvae_course.settings.mode_name`), so naming a file never
needs an environment variable changed.

Saving is atomic (write then rename), so an interrupted save never leaves half a file behind, and a
cached file that cannot be loaded, or is not what the caller expects, is replaced by retraining.

A recipe that caches a model it trained also writes what it was trained with (``recipe``: epochs, seed, the
training data's fingerprint, ...) beside it, in ``<file>.json``; a later call that asks for other arguments trains
anew (saying so in one line) instead of getting the model trained for the first. A model saved without a recipe (a
lesson's ``save_cvae``, or a file from before recipes were recorded) has no such file and is used as it is.

A cache folder that cannot be written does not cost a finished training: the model is returned, and one line says
the cache could not be written and what to do (set ``CVAE_COURSE_CACHE`` to a writable folder).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cvae_course.models  # noqa: F401  (registers the course's model classes with Keras, for loading)
from cvae_course import settings
from cvae_course._keras import keras

__all__ = [
    "CACHE_VERSION",
    "SHARED",
    "load_model",
    "load_or_train",
    "model_path",
    "recipe_path",
    "save_model",
    "save_trained",
]

CACHE_VERSION = 1
SHARED = "shared"  # the mode of a model that fast and full mode share
M = TypeVar("M", bound=keras.Model)


def model_path(name: str, mode: str | None = None) -> Path:
    """Where the model called ``name`` is cached for ``mode``: 'fast', 'full', ``SHARED`` or None (current mode)."""
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"model name must be letters, digits, '-' or '_', got {name!r}")
    mode = settings.mode_name() if mode is None else mode
    if mode == SHARED:
        return settings.cache_dir() / f"{name}-v{CACHE_VERSION}.keras"
    if mode not in settings.MODES:
        raise ValueError(f"mode must be one of {settings.MODES}, cache.SHARED or None (the current mode), got {mode!r}")
    return settings.cache_dir() / f"{name}-{mode}-v{CACHE_VERSION}.keras"


def recipe_path(name: str, mode: str | None = None) -> Path:
    """Where the recipe of the cached model ``name`` is kept: its file name with ``.json`` added."""
    path = model_path(name, mode)
    return path.with_name(path.name + ".json")


_unwritable: set[str] = set()  # cache folders already reported as unwritable (one line each per process)


def _write_atomically(path: Path, write: Callable[[str], None], suffix: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _write_recipe(tmp: str, recipe: dict) -> None:
    with open(tmp, "w") as f:
        json.dump(recipe, f, sort_keys=True)


def save_model(model: keras.Model, name: str, mode: str | None = None, recipe: dict | None = None) -> Path:
    """Save ``model`` under ``name`` (for ``mode``, see :func:`model_path`) atomically; returns the path.

    ``recipe``: what the model was trained with (JSON numbers and strings, e.g. ``{"epochs": 3, "seed": 42}``),
    kept in :func:`recipe_path` so that :func:`load_model` can refuse it to a call that asks for another; None
    (a model saved by a lesson) removes any recipe an earlier file had.
    """
    path = model_path(name, mode)
    sidecar = recipe_path(name, mode)
    try:
        if sidecar.exists():  # first, so that a crash below never pairs the new model with the old recipe
            sidecar.unlink()
        _write_atomically(path, model.save, ".keras")
        if recipe is not None:
            _write_atomically(sidecar, lambda tmp: _write_recipe(tmp, recipe), ".json")
    except OSError as err:
        raise OSError(
            err.errno,
            f"cannot write {path.name} in the model cache {path.parent} ({err.strerror or err}): set "
            f"{settings.CACHE_ENV} to a folder you can write",
        ) from err
    return path


def _read_recipe(path: Path) -> dict | None:
    try:
        with open(path) as f:
            recipe = json.load(f)
    except (OSError, ValueError):
        return None
    return recipe if isinstance(recipe, dict) else None


def _resolved(recipe: dict) -> dict:
    """The recipe with its lazy values (zero-argument callables, e.g. the default data's fingerprint) computed."""
    return {key: value() if callable(value) else value for key, value in recipe.items()}


def _differences(cached: dict, wanted: dict) -> str:
    keys = sorted(set(cached) | set(wanted))
    shown = [key for key in keys if cached.get(key) != wanted.get(key)]
    return ", ".join(f"{key}={cached.get(key)!r} (asked: {wanted.get(key)!r})" for key in shown)


def load_model(
    name: str,
    expected: type[M] = keras.Model,
    check: Callable[[M], bool] | None = None,
    mode: str | None = None,
    recipe: dict | None = None,
    instead: str = "training a new one",
) -> M | None:
    """The cached model, or None when there is none, it cannot be read, it fails ``expected``/``check``, or it was
    trained with another ``recipe`` than the one asked for (a model saved without one is not refused for it).

    ``recipe`` values may be zero-argument callables, computed only when a cached recipe is there to compare with.
    ``instead`` ends the one line that says why a cached file is not used: what the caller does next.
    """
    path = model_path(name, mode)
    if not path.is_file():
        return None
    if recipe is not None:
        cached = _read_recipe(recipe_path(name, mode))
        if cached is not None:
            wanted = _resolved(recipe)
            if cached != wanted:
                print(f"Cached model {path} was trained with {_differences(cached, wanted)}; {instead}.")
                return None
    try:
        model = keras.saving.load_model(path)
    except Exception as err:  # a corrupt or incompatible file: any loader error means "retrain"
        # Told on stdout, not as a warning: stderr in a notebook looks like a failure to a learner.
        print(f"Cached model {path} could not be loaded ({type(err).__name__}); {instead}.")
        return None
    if not isinstance(model, expected) or (check is not None and not check(model)):
        print(f"Cached model {path} is stale (not the {expected.__name__} expected); {instead}.")
        return None
    return model


def save_trained(model: M, name: str, mode: str | None = None, recipe: dict | None = None) -> M:
    """Cache a model just trained and return it; if the cache folder cannot be written, say so in one line (once
    per folder and process) and return the model anyway: a finished training is never lost to the cache."""
    try:
        save_model(model, name, mode, _resolved(recipe) if recipe is not None else None)
    except OSError as err:
        folder = os.environ.get(settings.CACHE_ENV) or "~/.cache/cvae-course"
        if folder not in _unwritable:
            _unwritable.add(folder)
            cause = err.__cause__ if isinstance(err.__cause__, OSError) else err
            reason = cause.strerror or str(cause)
            print(
                f"Could not cache the trained model {name} in {folder} ({reason}): it is not saved for next time. "
                f"Set {settings.CACHE_ENV} to a folder you can write to keep trained models."
            )
    return model


def load_or_train(
    name: str,
    train_fn: Callable[[], M],
    expected: type[M] = keras.Model,
    check: Callable[[M], bool] | None = None,
    mode: str | None = None,
    recipe: dict | None = None,
) -> M:
    """Load the cached model ``name`` if it is valid; otherwise call ``train_fn()``, cache and return it.

    Args:
        name: the model's cache name (letters, digits, '-' and '_').
        train_fn: trains a new model when none is cached (no arguments).
        expected: the class the cached model must have.
        check: a further test the cached model must pass, e.g. its latent size.
        mode: 'fast', 'full', ``SHARED`` or None (the current mode): which file, see :func:`model_path`.
        recipe: the arguments that change the model (e.g. epochs, seed, the data's fingerprint), kept with it; a
            cached model trained with others is trained anew (see :func:`load_model`).
    """
    model = load_model(name, expected, check, mode, recipe)
    if model is None:
        model = save_trained(train_fn(), name, mode, recipe)
    return model
