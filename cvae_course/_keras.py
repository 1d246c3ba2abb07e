"""The one door to TensorFlow and Keras: every course module imports them from here, quietly.

TensorFlow's C++ runtime writes lines such as "Could not find cuda drivers" straight to file
descriptor 2 while it is imported, before its own log level applies. In a notebook those lines show
up as red stderr output, and nbgrader scores a passing test cell 0 when it writes to stderr. So the
course imports TensorFlow once, here, with fd 2 pointed at /dev/null, and sets the log levels that
keep it quiet afterwards. Course modules write::

    from cvae_course._keras import keras, layers, ops

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


def _import_quietly():
    """Import TensorFlow and Keras with their logging turned down; returns (keras, tensorflow)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    with _stderr_fd_muted(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import keras as _keras_module
        import tensorflow as _tf_module

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
