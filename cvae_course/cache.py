"""Caching trained models on disk so that later lessons (and re-runs) need not train again.

Files live in :func:`cvae_course.settings.cache_dir` as ``<name>-<fast|full>-v<N>.keras``: fast-mode and
full-mode models never mix, and bumping ``CACHE_VERSION`` retires files from older course versions. A model both
modes use (the judge) is cached once, as ``<name>-v<N>.keras``: pass ``mode=cache.SHARED``. Every function takes
the mode as an argument (None: the current mode, :func:`cvae_course.settings.mode_name`), so naming a file never
needs an environment variable changed.

Saving is atomic (write then rename), so an interrupted save never leaves half a file behind, and a
cached file that cannot be loaded, or is not what the caller expects, is replaced by retraining.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import cvae_course.models  # noqa: F401  (registers the course's model classes with Keras, for loading)
from cvae_course import settings
from cvae_course._keras import keras

__all__ = ["CACHE_VERSION", "SHARED", "load_model", "load_or_train", "model_path", "save_model"]

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


def save_model(model: keras.Model, name: str, mode: str | None = None) -> Path:
    """Save ``model`` under ``name`` (for ``mode``, see :func:`model_path`) atomically; returns the path."""
    path = model_path(name, mode)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_model(
    name: str, expected: type[M] = keras.Model, check: Callable[[M], bool] | None = None, mode: str | None = None
) -> M | None:
    """The cached model, or None when there is none, it cannot be read, or it fails ``expected``/``check``."""
    path = model_path(name, mode)
    if not path.is_file():
        return None
    try:
        model = keras.saving.load_model(path)
    except Exception as err:  # a corrupt or incompatible file: any loader error means "retrain"
        # Told on stdout, not as a warning: stderr in a notebook looks like a failure to a learner.
        print(f"Cached model {path} could not be loaded ({type(err).__name__}); training a new one.")
        return None
    if not isinstance(model, expected) or (check is not None and not check(model)):
        print(f"Cached model {path} is stale (not the {expected.__name__} expected); training a new one.")
        return None
    return model


def load_or_train(
    name: str,
    train_fn: Callable[[], M],
    expected: type[M] = keras.Model,
    check: Callable[[M], bool] | None = None,
    mode: str | None = None,
) -> M:
    """Load the cached model ``name`` if it is valid; otherwise call ``train_fn()``, cache and return it.

    Args:
        name: the model's cache name (letters, digits, '-' and '_').
        train_fn: trains a new model when none is cached (no arguments).
        expected: the class the cached model must have.
        check: a further test the cached model must pass, e.g. its latent size.
        mode: 'fast', 'full', ``SHARED`` or None (the current mode): which file, see :func:`model_path`.
    """
    model = load_model(name, expected, check, mode)
    if model is None:
        model = train_fn()
        save_model(model, name, mode)
    return model
