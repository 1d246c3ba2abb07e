"""Course-wide settings: fast mode, seeding and where cached files live.

Everything here is read from environment variables so that a notebook, a test run and CI can differ
without editing code:

* ``CVAE_COURSE_FAST=1`` switches fast mode on: smaller data, fewer epochs. CI sets it; learners don't.
* ``CVAE_COURSE_MNIST=/path/to/mnist.npz`` names a local copy of MNIST (see :mod:`cvae_course.data`).
* ``CVAE_COURSE_CACHE=/path/to/dir`` says where trained models are cached
  (default: ``~/.cache/cvae-course``).
"""

from __future__ import annotations

import os
from pathlib import Path

FAST_ENV = "CVAE_COURSE_FAST"
DATA_ENV = "CVAE_COURSE_MNIST"
CACHE_ENV = "CVAE_COURSE_CACHE"
DEFAULT_SEED = 42

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def fast_mode() -> bool:
    """True when ``CVAE_COURSE_FAST`` asks for the quick, CI-sized run."""
    raw = os.environ.get(FAST_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{FAST_ENV}={os.environ[FAST_ENV]!r} is not understood; "
        f"set it to 1 for fast mode or 0 (or unset it) for the full course."
    )


def pick(full, fast):
    """Return ``fast`` in fast mode and ``full`` otherwise (epochs, sample counts, ...)."""
    return fast if fast_mode() else full


def mode_name() -> str:
    """'fast' or 'full': used in cache file names so the two modes never share a model."""
    return "fast" if fast_mode() else "full"


def cache_dir() -> Path:
    """Folder for cached models (created on first use)."""
    raw = os.environ.get(CACHE_ENV)
    path = Path(raw).expanduser() if raw else Path.home() / ".cache" / "cvae-course"
    path.mkdir(parents=True, exist_ok=True)
    return path


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and Keras (and so TensorFlow) so that a run can be repeated."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    from cvae_course._keras import keras  # here, not at the top: settings serves the tools too, without TensorFlow

    keras.utils.set_random_seed(seed)
    return seed
