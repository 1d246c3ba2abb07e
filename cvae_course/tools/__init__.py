"""Instructor and maintainer tools: the ``cvae-course`` command and what it runs.

* :mod:`~cvae_course.tools.cli`: the ``cvae-course`` command (``lab``, ``release``, ``grade``, ``refresh``,
  ``report``).
* :mod:`~cvae_course.tools.release`: ``exercises/`` generated from ``solutions/`` with nbgrader's preprocessors.
* :mod:`~cvae_course.tools.grading`: nbgrader's autograde over a folder of submissions, with grades.csv and feedback.
* :mod:`~cvae_course.tools.nbgrader_plugins`: the nbgrader preprocessors both ways of grading use (deleted locked
  cells put back, hidden tests kept out of feedback).
* :mod:`~cvae_course.tools.notebook_state`: the committed state of the lessons (outputs cleared but for the checked
  ones), and refreshing it.
* :mod:`~cvae_course.tools.report`: the full-course report: every lesson run in full mode in fresh kernels, timed,
  with every claim it checks (``docs/full-course-report.md``), and the README's lesson times from it.
* :mod:`~cvae_course.tools.site`: the course site (``python3 course.py site``): the lessons with their outputs as web
  pages (Sphinx, MyST-NB), with Binder and JupyterHub launch links, checked for broken links.
* :mod:`~cvae_course.tools.lock`: the lock (``uv.lock``, ``requirements/*.txt``, ``environment.yml``): refreshing it
  (``python3 course.py lock``) and checking that it agrees with ``pyproject.toml``.

Nothing here imports TensorFlow or the course's lesson modules: the command answers at once, and grading and
refreshing run notebooks in their own kernels. The paths below are those of a clone of the course.
"""

from importlib.util import find_spec
from pathlib import Path

__all__ = ["EXERCISES", "NOTEBOOKS", "ROOT", "SOLUTIONS", "need_nbgrader"]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"


def need_nbgrader(command: str) -> None:
    """Raise a RuntimeError that says what to install when nbgrader (the instructors' tool) is missing.

    Learners install the course without nbgrader, so that their JupyterLab has no instructor tools; ``release``
    and ``grade`` need it.
    """
    if find_spec("nbgrader") is None:
        raise RuntimeError(
            f"`cvae-course {command}` needs nbgrader, the instructors' grading tool, which is not installed in this "
            "environment (the learners' set leaves it out). Install the instructor set: `python3 course.py "
            "instructor` in your clone of the course, or `pip install -e '.[instructor]'`."
        )
