"""cvae_course: the helper package behind the cvae-course notebooks.

Importing it first keeps TensorFlow's start-up messages off stderr (see :mod:`cvae_course._quiet`).
The lessons import the modules they need, e.g. ``from cvae_course import data, plots``.
"""

from cvae_course._quiet import import_tensorflow_quietly as _import_tf

_import_tf()

__version__ = "0.1.0"
