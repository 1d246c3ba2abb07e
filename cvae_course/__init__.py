"""cvae_course: the helper package behind the cvae-course notebooks.

The lessons import the modules they need, e.g. ``from cvae_course import data, plots``. Importing the package
itself loads no TensorFlow: the modules that need it import it quietly through :mod:`cvae_course._keras`.
"""

__version__ = "0.1.0"
