"""Three rooms, one package: importing what a learner needs does not import what an instructor needs, and the reverse.

Each test imports in a fresh Python, so that what this test session already loaded cannot hide an import.
"""

import subprocess
import sys

import pytest


def loaded_after(statement: str, modules: list[str]) -> list[str]:
    """Which of ``modules`` a fresh Python has loaded after running ``statement``."""
    code = f"import sys\n{statement}\nprint(' '.join(m for m in {modules!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_importing_the_package_loads_no_tensorflow():
    assert loaded_after("import cvae_course", ["tensorflow", "keras"]) == []


def test_importing_the_command_line_loads_no_tensorflow_and_no_keras():
    assert loaded_after("import cvae_course.tools.cli", ["tensorflow", "keras"]) == []


def test_the_full_course_report_loads_no_tensorflow_itself():
    """It runs the lessons in their own kernels; reading the data file and the claims needs no TensorFlow."""
    statement = (
        "from cvae_course.tools import report; from cvae_course.claims import records; "
        "report.machine(); report.data_sizes({})"
    )
    assert loaded_after(statement, ["tensorflow", "keras"]) == []


def test_importing_the_exercise_checks_loads_no_nbgrader():
    assert loaded_after("import cvae_course.checks", ["nbgrader", "tensorflow"]) == ["tensorflow"]


@pytest.mark.parametrize("module", ["settings", "validation", "quiz", "source", "environment", "plots"])
def test_modules_that_need_no_model_load_no_tensorflow(module):
    assert loaded_after(f"import cvae_course.{module}", ["tensorflow"]) == []
