"""What every check shares (cvae_course.checks and its harness): a clear failure, the exercise budget."""

import pytest

from cvae_course import checks
from cvae_course.checks.harness import _fail


def test_an_unsolved_task_says_it_is_not_written_yet(fails_with):
    def unsolved(*args):
        raise NotImplementedError()

    fails_with(checks.check_kl, unsolved, hint="not written yet")


def test_exercise_budget_is_small_in_fast_mode():
    assert checks.exercise_epochs() <= 2
    mnist = checks.exercise_data()
    assert len(mnist.x_train) <= 2000 and len(mnist.x_test) <= 500


def test_a_failed_check_shows_in_a_notebook_as_its_message_and_hint_without_a_traceback():
    with pytest.raises(checks.CheckFailed) as info:
        _fail("build_encoder(2) is not written yet.", "replace the raise with your code")
    shown = "\n".join(info.value._render_traceback_())
    assert shown.endswith("build_encoder(2) is not written yet.\nHint: replace the raise with your code")
    assert "Check failed:" in shown and "harness.py" not in shown
    assert isinstance(info.value, AssertionError)  # nbgrader and pytest still see a failed assertion
