"""What every check shares (cvae_course.checks and its harness): a clear failure, the exercise budget."""

import re

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


# ------------------------------------------------------------------------ friendly errors in a notebook
@pytest.fixture
def shell(capsys):
    """An IPython shell with the exercises' error display on; ``run(code)`` returns what the cell shows."""
    from IPython.core.interactiveshell import InteractiveShell

    ipython = InteractiveShell.instance()
    checks.friendly_errors()

    def run(code: str) -> str:
        capsys.readouterr()
        ipython.run_cell(code)
        captured = capsys.readouterr()
        return re.sub(r"\x1b\[[0-9;]*m", "", captured.out + captured.err)

    yield run
    ipython.set_custom_exc((), None)


def test_a_task_not_written_yet_shows_one_line_naming_the_task_outside_the_test_cells_too(shell):
    shell("def build_encoder(latent_dim):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    shown = shell("model = build_encoder(2)")
    assert shown.strip().startswith("Check failed: build_encoder (task 1) is not written yet")
    assert "Traceback" not in shown and len(shown.strip().splitlines()) == 1


def test_a_name_a_failed_cell_never_made_says_to_fix_the_cell_above_first(shell):
    shown = shell("print(history_that_was_never_made)")
    assert "`history_that_was_never_made` does not exist yet" in shown and "fix the first cell that fails" in shown
    assert "NameError" not in shown and "Traceback" not in shown


def test_an_error_in_the_learners_own_function_keeps_its_traceback(shell):
    shell("def helper():\n    return undefined_name + 1")
    shown = shell("helper()")
    assert "Traceback" in shown and "undefined_name" in shown and "return undefined_name + 1" in shown


def test_tensorflows_in_user_code_report_shows_its_last_line_and_the_function(shell):
    shell("from cvae_course._keras import tf\ndef elbo_terms(x):\n    return tf.reduce_sum(x) / x.shape[0]\n")
    shown = shell("tf.function(elbo_terms, input_signature=[tf.TensorSpec((None, 3))])(tf.ones((2, 3)))")
    assert "in user code" not in shown and "raised in elbo_terms" in shown and "Traceback" not in shown


def test_check_failed_is_bold_in_the_themes_text_colour_not_in_red():
    """Bold ANSI red on JupyterLab's dark error background was about 2:1 contrast; the browser test measures the
    rendered contrast in both themes."""
    with pytest.raises(checks.CheckFailed) as info:
        _fail("build_encoder(2) is not written yet.")
    shown = "\n".join(info.value._render_traceback_())
    assert shown.startswith("\x1b[1mCheck failed:\x1b[0m") and "\x1b[31m" not in shown and "1;31" not in shown
