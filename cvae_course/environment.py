"""The environment check of lesson 00: versions, fast mode, where MNIST comes from, where models go.

:func:`report` gathers what a learner (or a helper answering their question) needs to know first, and
lists anything that would stop the course from running, each with how to fix it.
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cvae_course import settings

__all__ = ["PACKAGES", "MIN_PYTHON", "Report", "report"]

PACKAGES = ("tensorflow", "keras", "numpy", "matplotlib", "ipywidgets")
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Report:
    """``rows`` of (what, value) to show, and ``problems``: one sentence each, with the fix."""

    rows: tuple[tuple[str, str], ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def value(self, name: str) -> str:
        """The value of the row called ``name``."""
        for key, val in self.rows:
            if key == name:
                return val
        raise ValueError(f"the report has no row {name!r}; it has {[k for k, _ in self.rows]}")

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.rows)
        lines = [f"{k:<{width}}  {v}" for k, v in self.rows]
        if self.problems:
            lines += ["", "Problems to fix before you go on:"] + [f"  - {p}" for p in self.problems]
        else:
            lines += ["", "Everything looks ready."]
        return "\n".join(lines)

    __repr__ = __str__


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _devices() -> str:
    from cvae_course._keras import tf  # here: the report must also work where TensorFlow is missing

    gpus = tf.config.list_physical_devices("GPU")
    return f"{len(gpus)} GPU(s)" if gpus else f"CPU only ({os.cpu_count()} cores)"


def report() -> Report:
    """Check the Python and package versions, fast mode, the MNIST source and the model cache."""
    rows: list[tuple[str, str]] = []
    problems: list[str] = []

    py = sys.version_info
    rows.append(("Python", f"{platform.python_version()}"))
    if tuple(py[:2]) < MIN_PYTHON:
        problems.append(
            f"Python {py[0]}.{py[1]} is older than {MIN_PYTHON[0]}.{MIN_PYTHON[1]}; "
            "install the course in a newer Python (see README)."
        )
    for name in PACKAGES:
        version = _version(name)
        rows.append((name, version or "not installed"))
        if version is None:
            problems.append(f"{name} is not installed; run `pip install -e .` in the course folder.")
    if _version("keras") is not None:
        backend = os.environ.get("KERAS_BACKEND", "tensorflow")
        rows.append(("Keras backend", backend))
        if backend != "tensorflow":
            problems.append(f"KERAS_BACKEND={backend!r}; the course needs 'tensorflow'. Unset KERAS_BACKEND.")
    try:
        threads = settings.tf_threads()
        rows.append(
            (
                "TensorFlow threads",
                ("TensorFlow's defaults" if threads is None else f"intra-op {threads[0]}, inter-op {threads[1]}")
                + (f" (set by {settings.THREADS_ENV})" if os.environ.get(settings.THREADS_ENV, "").strip() else ""),
            )
        )
    except ValueError as err:  # importing TensorFlow through the course would stop with this error too
        threads = err
        rows.append(("TensorFlow threads", "not understood"))
        problems.append(str(err))
    if _version("tensorflow") is not None and not isinstance(threads, ValueError):
        rows.append(("devices", _devices()))

    try:
        fast = settings.fast_mode()
        rows.append(
            (
                "fast mode",
                f"on ({settings.FAST_ENV}=1): small data, few epochs"
                if fast
                else f"off: the full course (set {settings.FAST_ENV}=1 for a quick run)",
            )
        )
    except ValueError as err:
        rows.append(("fast mode", "not understood"))
        problems.append(str(err))

    source = os.environ.get(settings.DATA_ENV)
    if source:
        path = Path(source).expanduser()
        rows.append(("MNIST from", f"{path} (set by {settings.DATA_ENV})"))
        if not path.is_file():
            problems.append(
                f"{settings.DATA_ENV} names {path}, which does not exist; point it at an "
                f"mnist.npz or unset it to download MNIST."
            )
    else:
        rows.append(("MNIST from", "keras.datasets.mnist (downloaded once to ~/.keras/datasets)"))

    try:
        rows.append(("model cache", str(settings.cache_dir())))
    except OSError as err:
        rows.append(("model cache", "cannot be created"))
        problems.append(
            f"the model cache folder cannot be created ({err}); set {settings.CACHE_ENV} to a folder you can write to."
        )
    return Report(tuple(rows), tuple(problems))
