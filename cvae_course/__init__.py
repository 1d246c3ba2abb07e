"""cvae_course: the helper package behind the cvae-course notebooks, in three rooms.

Importing the package itself loads no TensorFlow: the modules that need it import it quietly through
:mod:`cvae_course._keras`, the one door to TensorFlow and Keras.

For learners (what the lessons import, e.g. ``from cvae_course import data, plots``):

* :mod:`~cvae_course.settings`: fast or full mode, the budget of each mode (epochs, data sizes), seeding.
* :mod:`~cvae_course.data`: MNIST, one-hot and blended labels, tf.data pipelines.
* :mod:`~cvae_course.layers`, :mod:`~cvae_course.losses`, :mod:`~cvae_course.models`,
  :mod:`~cvae_course.training`: the Sampling layer, the negative ELBO, the autoencoder/VAE/CVAE, training.
* :mod:`~cvae_course.recipes`: every model the course trains and caches, by name (:mod:`~cvae_course.cache`
  keeps the files).
* :mod:`~cvae_course.evaluate`, :mod:`~cvae_course.plots`, :mod:`~cvae_course.applications`,
  :mod:`~cvae_course.collapse`: metrics, pictures, lesson 05's applications, lesson 07's blur and posterior
  collapse.
* :mod:`~cvae_course.quadrants`: lesson 06, Sohn et al.'s CVAE with a prior network, completing digits from part
  of them.
* :mod:`~cvae_course.playground`: the widgets of lesson 04 (decoded in the browser where they can), the drawing
  pad, the live view of lesson 03's training, and lesson 06's
  completions panel.
* :mod:`~cvae_course.quiz`, :mod:`~cvae_course.source`, :mod:`~cvae_course.environment`: self-check quizzes
  (their questions in ``quizzes/*.toml``), showing the package's source in a lesson, the setup check of lesson 00.
* :mod:`~cvae_course.claims`: claim cells, which check each sentence of a lesson that states a result against the
  run that produced it.
* :mod:`~cvae_course.validation`: the argument checks every public function uses.

For the exercises: :mod:`~cvae_course.checks` (the checks the test cells of ``solutions/`` and ``exercises/``
call; imports no nbgrader).

For instructors and maintainers: :mod:`~cvae_course.tools` (the ``cvae-course`` command, releasing exercises,
grading with nbgrader, the lessons' committed state; imports no TensorFlow).
"""

__version__ = "0.1.0"
