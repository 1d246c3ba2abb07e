"""The one door to TensorFlow and Keras: every course module imports them from here, quietly.

TensorFlow's C++ runtime writes lines such as "Could not find cuda drivers" straight to file
descriptor 2 while it is imported, before its own log level applies. In a notebook those lines show
up as red stderr output, and nbgrader scores a passing test cell 0 when it writes to stderr. So the
course imports TensorFlow once, here, with fd 2 pointed at /dev/null, and sets the log levels that
keep it quiet afterwards. Course modules write::

    from cvae_course._keras import keras, layers, ops

It also chooses TensorFlow's thread pools, once, right after the import and before TensorFlow's runtime
starts (it can only be chosen then): :func:`cvae_course.settings.tf_threads` says which (measured per core
count; ``CVAE_COURSE_TF_THREADS`` overrides it), and a value it does not understand stops the import with an
error that says what to set.

Importing the package itself (``import cvae_course``) loads no TensorFlow: only the modules that need
it do, through this one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

__all__ = ["keras", "layers", "ops", "tf"]


@contextlib.contextmanager
def _stderr_fd_muted():
    """Point file descriptor 2 at /dev/null for the duration of the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (some embedded shells)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _stacklevel_outside_the_course() -> int:
    """``stacklevel`` for a ``warnings.warn`` made by this function's caller that points at the first frame
    outside cvae_course, e.g. the learner's import line, not the course's own import of TensorFlow. The import
    machinery's frames are skipped by ``warnings`` itself, so they are not counted."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1  # the frame that calls warnings.warn (our caller) is level 1
    while frame is not None:
        name = frame.f_code.co_filename
        if not ("importlib" in name and "_bootstrap" in name):
            if not os.path.abspath(name).startswith(package + os.sep):
                return level
            level += 1
        frame = frame.f_back
    return 1


def _set_threads(tf_module, threads: tuple[int, int] | None) -> None:
    """Give TensorFlow (intra-op, inter-op) threads; None keeps its defaults. Too late once its runtime has started
    (something ran TensorFlow before the course was imported): then its threads stay as they are, and a warning
    says so and what to do, unless they already are the ones asked for."""
    if threads is None:
        return
    threading = tf_module.config.threading
    try:
        threading.set_intra_op_parallelism_threads(threads[0])
        threading.set_inter_op_parallelism_threads(threads[1])
    except RuntimeError:  # "cannot be modified after initialization"
        running = (threading.get_intra_op_parallelism_threads(), threading.get_inter_op_parallelism_threads())
        if running != tuple(threads):
            from cvae_course.settings import THREADS_ENV

            warnings.warn(
                f"TensorFlow keeps {running[0]},{running[1]} intra-op,inter-op threads (0 = its default), not the "
                f"course's {threads[0]},{threads[1]} ({THREADS_ENV}): its runtime had started before cvae_course "
                "was imported. Restart the kernel and import cvae_course before anything runs TensorFlow.",
                RuntimeWarning,
                stacklevel=_stacklevel_outside_the_course(),
            )


def _import_quietly():
    """Import TensorFlow and Keras with their logging turned down and the course's threads; returns (keras,
    tensorflow)."""
    from cvae_course.settings import tf_threads

    threads = tf_threads()  # first: a bad CVAE_COURSE_TF_THREADS stops here, before the slow import
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _stderr_fd_muted(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import keras as _keras_module
        import tensorflow as _tf_module

    _set_threads(_tf_module, threads)
    _tf_module.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # absl ships with TensorFlow; nothing to quiet without it
        pass
    return _keras_module, _tf_module


keras, tf = _import_quietly()
layers = keras.layers
ops = keras.ops
