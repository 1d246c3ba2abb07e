"""`python3 course.py lab` and `cvae-course lab`: extra arguments reach `jupyter lab`; learners get no nbgrader tools."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

from cvae_course.tools import ROOT, cli


@pytest.fixture
def launched(monkeypatch):
    """What `cvae-course lab` would run: {"cmd": [...], "env": {...}} (nothing is started)."""
    seen = {}

    def call(cmd, cwd=None, env=None):
        seen.update(cmd=cmd, cwd=cwd, env=env)
        return 0

    monkeypatch.setattr(cli.subprocess, "call", call)
    return seen


def test_extra_arguments_reach_jupyter_lab_after_the_course_defaults(launched):
    assert cli.main(["lab", "--port", "8899", "--no-browser"]) == 0
    cmd = launched["cmd"]
    assert cmd[1:4] == ["-m", "jupyter", "lab"]
    assert cmd[-3:] == ["--port", "8899", "--no-browser"]
    assert f"--ServerApp.root_dir={ROOT}" in cmd and "notebooks/00_welcome.ipynb" in cmd
    assert launched["cwd"] == ROOT


def _as_jupyter_lab_reads(cmd: list[str]):
    """The ServerApp config and positional arguments `jupyter lab` makes of ``cmd``, parsed by LabApp's own
    traitlets parser (which exits on a clash such as two root_dir values)."""
    labapp = pytest.importorskip("jupyterlab.labapp")
    app = labapp.LabApp()
    app.parse_command_line(cmd[4:])
    return app.config.ServerApp, app.extra_args


@pytest.mark.parametrize(
    ("given", "option"),
    [
        (["--ServerApp.root_dir=/tmp"], "root_dir"),
        (["--ServerApp.root_dir", "/tmp"], "root_dir"),
        (["--notebook-dir=/tmp"], "root_dir"),
        (["--notebook-dir", "/tmp"], "root_dir"),
        (["--ServerApp.notebook_dir=/tmp"], "notebook_dir"),
        ([f"--ServerApp.preferred_dir={ROOT / 'notebooks'}"], "preferred_dir"),
        (["--ServerApp.preferred_dir=notebooks"], "preferred_dir"),
    ],
)
def test_a_learners_folder_replaces_the_courses_root_and_welcome_lesson_as_jupyter_lab_parses_it(
    launched, given, option
):
    assert cli.main(["lab", "--no-browser", *given]) == 0
    server, positional = _as_jupyter_lab_reads(launched["cmd"])
    assert server[option] == given[-1].split("=", 1)[-1]
    assert positional == []  # no welcome lesson, which may lie outside the learner's folder
    if option == "preferred_dir":
        assert server["root_dir"] == str(ROOT)
        # the root stays the course's, so Jupyter (which needs the preferred_dir inside the root) runs in the
        # course's folder: a relative preferred_dir is one of the course's folders, wherever the learner is
        assert launched["cwd"] == ROOT
        assert (ROOT / server["preferred_dir"]).resolve().is_dir()
    else:
        assert "root_dir" not in server or option == "root_dir"
        assert launched["cwd"] is None  # their relative folders mean folders under where they are


def test_lab_puts_the_learner_configuration_first_and_keeps_the_learners_own(launched, monkeypatch):
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/my/jupyter")
    cli.main(["lab"])
    paths = launched["env"]["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert paths == [str(cli.LEARNER_JUPYTER), "/my/jupyter"]


def test_the_learner_configuration_turns_off_every_nbgrader_extension():
    page = json.loads((cli.LEARNER_JUPYTER / "labconfig" / "page_config.json").read_text())
    assert page["disabledExtensions"] == {"@jupyter/nbgrader": True}
    server = json.loads((cli.LEARNER_JUPYTER / "jupyter_server_config.d" / "cvae-course-learner.json").read_text())
    switched = server["ServerApp"]["jpserver_extensions"]
    assert switched and not any(switched.values())
    installed = Path(sys.prefix, "etc", "jupyter", "jupyter_server_config.d", "nbgrader.json")
    if not installed.exists():
        pytest.skip("nbgrader is not installed here (the instructor and dev sets have it)")
    enabled = json.loads(installed.read_text())["ServerApp"]["jpserver_extensions"]
    assert sorted(enabled) == sorted(switched)


def test_lab_instructor_leaves_nbgraders_tools_on(launched, monkeypatch):
    monkeypatch.delenv("JUPYTER_CONFIG_PATH", raising=False)
    cli.main(["lab", "--instructor", "--no-browser"])
    assert "JUPYTER_CONFIG_PATH" not in launched["env"]
    assert launched["cmd"][-1] == "--no-browser" and "--instructor" not in launched["cmd"]


def _course_py():
    spec = importlib.util.spec_from_file_location("course_py", ROOT / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("command", "needs", "runs"),
    [
        ("lab", "learner", ["cvae-course", "lab", "--port", "8899"]),
        ("instructor", "instructor", ["cvae-course", "lab", "--instructor", "--port", "8899"]),
    ],
)
def test_course_py_installs_the_commands_set_and_passes_extra_arguments_on(monkeypatch, command, needs, runs):
    course = _course_py()
    installed, ran = [], []
    monkeypatch.setattr(course, "setup", lambda c: installed.append(course.NEEDS[c]))
    monkeypatch.setattr(course, "_run", lambda cmd, **kw: ran.append([str(c) for c in cmd]) or 0)
    assert course.main([command, "--port", "8899"]) == 0
    assert installed == [needs]
    assert [ran[0][0].rsplit("/", 1)[-1], *ran[0][1:]] == runs


def test_course_py_test_installs_the_dev_set_and_passes_arguments_to_pytest(monkeypatch):
    course = _course_py()
    installed, ran = [], []
    monkeypatch.setattr(course, "setup", lambda c: installed.append(course.NEEDS[c]))
    monkeypatch.setattr(course, "_run", lambda cmd, **kw: ran.append([str(c) for c in cmd]) or 0)
    assert course.main(["test", "-k", "quality"]) == 0
    assert installed == ["dev"] and ran[0][1:] == ["-m", "pytest", "-k", "quality"]


def test_course_py_keeps_a_larger_set_and_refuses_a_python_the_lock_does_not_cover(monkeypatch, tmp_path):
    course = _course_py()
    assert course.SETS == ("learner", "instructor", "dev")
    monkeypatch.setattr(course.sys, "version_info", (3, 14, 0))
    with pytest.raises(SystemExit, match="Python 3.11 to 3.13"):
        course.setup("lab")
