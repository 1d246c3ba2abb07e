"""The cvae-course command: its subcommands, and `refresh`, which stores a lesson in its committed state."""

import os
import subprocess
import sys

import nbformat
import pytest

from cvae_course import settings
from cvae_course.tools import cli


def test_the_help_lists_every_subcommand():
    result = subprocess.run(
        [sys.executable, "-m", "cvae_course.tools.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for command in ("lab", "release", "grade", "refresh", "report"):
        assert command in result.stdout


def _cell(source):
    """A code cell; a first line "# check" stands for the nbval-check-output tag."""
    cell = nbformat.v4.new_code_cell(source.removeprefix("# check\n"))
    if source.startswith("# check\n"):
        cell.metadata["tags"] = ["nbval-check-output"]
    return cell


def _notebook(path, *cells):
    nb = nbformat.v4.new_notebook(cells=[_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_refresh_check_reports_a_notebook_out_of_its_committed_state(tmp_path, capsys):
    good = _notebook(tmp_path / "good.ipynb", "print(1)")
    bad = _notebook(tmp_path / "bad.ipynb", "# check\nprint(1)")
    assert cli.main(["refresh", "--check", str(good)]) == 0
    assert cli.main(["refresh", "--check", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{good}: ok" in out and f"{bad}: cell 0 is marked nbval-check-output but has no stored output" in out


def test_refresh_runs_the_kernel_in_fast_mode_and_leaves_this_process_alone(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.FAST_ENV, "0")
    path = _notebook(
        tmp_path / "lesson.ipynb", "# check\nimport os\nprint(os.environ['CVAE_COURSE_FAST'])", "print('cleared')"
    )
    assert cli.main(["refresh", str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].outputs[0].text == "1\n"  # the kernel ran in fast mode
    assert nb.cells[1].outputs == [] and nb.cells[1].execution_count is None
    assert os.environ[settings.FAST_ENV] == "0"


def test_refresh_names_a_notebook_that_does_not_exist(tmp_path, capsys):
    assert cli.main(["refresh", "--check", str(tmp_path / "missing.ipynb")]) == 1
    assert "no such notebook" in capsys.readouterr().err


def test_an_unknown_option_is_refused_outside_lab():
    with pytest.raises(SystemExit):
        cli.main(["release", "--frobnicate"])
