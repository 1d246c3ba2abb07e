"""Learners never see nbgrader's instructor tools in JupyterLab; instructors do.

`cvae-course lab` (what `python3 course.py lab` runs) starts JupyterLab with the learners' Jupyter configuration
(cvae_course/tools/learner_jupyter/), which turns nbgrader's lab and server extensions off wherever nbgrader is
installed, as in a developer's or instructor's .venv. This test opens an exercise in JupyterLab in a real browser,
once as a learner and once as an instructor (`cvae-course lab --instructor`), and reads what each one shows: the
Nbgrader menu, the Validate button, the Create Assignment sidebar, the Formgrader page. The instructor's view is the
control: it proves that nbgrader is installed and that the test can see its tools.
"""

from __future__ import annotations

import os
import tempfile
import urllib.error
from pathlib import Path

import pytest
from browser_support import ARTIFACTS, CHROMIUM_ARGS, NotebookPage, chromium_executable, copy_course, running_jupyterlab

from cvae_course.tools import cli

EXERCISE = "exercises/01_autoencoder.ipynb"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} CI must run the browser tests: install Debian's chromium (.ci/run does).")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def views():
    """What JupyterLab shows with an exercise open: {"learner": {...}, "instructor": {...}}."""
    chromium = chromium_executable()
    if chromium is None:
        _missing("The learner-view browser test needs Chromium: `apt-get install chromium` (not found on PATH).")
    try:
        import nbgrader  # noqa: F401
        from playwright.sync_api import sync_playwright
    except ImportError as missing:
        _missing(f"The learner-view browser test needs the dev set (`python3 course.py test`): {missing}.")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    seen = {}
    with tempfile.TemporaryDirectory(prefix="cvae-course-views-") as tmp, sync_playwright() as playwright:
        sandbox = Path(tmp)
        course = copy_course(sandbox / "course")
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            for role in ("learner", "instructor"):
                env = cli.learner_environment(os.environ) if role == "learner" else dict(os.environ)
                with pytest.MonkeyPatch.context() as patch:
                    for name in set(os.environ) | set(env):
                        if name in env:
                            patch.setenv(name, env[name])
                        else:
                            patch.delenv(name)
                    with running_jupyterlab(course, sandbox / f"jupyter-{role}") as server:
                        seen[role] = _what_jupyterlab_shows(browser, server, role)
        finally:
            browser.close()
    return seen


def _what_jupyterlab_shows(browser, server, role: str) -> dict:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    notebook = NotebookPage(page, server, ARTIFACTS, f"{role}-view")
    with notebook.step(f"open {EXERCISE} as the {role} and wait for its kernel"):
        notebook.open(EXERCISE)
        page.locator(".lm-MenuBar-item", has_text="Help").wait_for(timeout=30_000)
        page.wait_for_timeout(1500)  # extensions add their menus and buttons once the notebook is open
    notebook.screenshot(f"{role} view")
    try:
        server.api("/formgrader/api/status")
        formgrader = "answers"
    except urllib.error.HTTPError as error:
        formgrader = "answers" if error.code != 404 else "404"
    except ValueError:  # an HTML page instead of JSON: the handler is there
        formgrader = "answers"
    shown = {
        "menus": page.locator(".lm-MenuBar-item").all_inner_texts(),
        "toolbar": [t.strip() for t in notebook.panel.locator(".jp-Toolbar-item").all_inner_texts() if t.strip()],
        "sidebars": page.locator(".jp-SideBar .lm-TabBar-tab").evaluate_all(
            "tabs => tabs.map(t => t.getAttribute('title') || '')"
        ),
        "formgrader": formgrader,
    }
    page.close()
    return shown


def test_a_learner_sees_no_nbgrader_menu_validate_button_or_create_assignment_sidebar(views):
    learner = views["learner"]
    assert "Nbgrader" not in learner["menus"], learner["menus"]
    assert "Validate" not in learner["toolbar"], learner["toolbar"]
    assert not [t for t in learner["sidebars"] if "Create Assignment" in t], learner["sidebars"]
    assert learner["formgrader"] == "404"


def test_an_instructor_sees_the_nbgrader_menu_validate_create_assignment_and_formgrader(views):
    instructor = views["instructor"]
    assert "Nbgrader" in instructor["menus"], instructor["menus"]
    assert "Validate" in instructor["toolbar"], instructor["toolbar"]
    assert [t for t in instructor["sidebars"] if "Create Assignment" in t], instructor["sidebars"]
    assert instructor["formgrader"] == "answers"


def test_the_learner_and_instructor_views_differ_only_by_nbgraders_tools(views):
    learner, instructor = views["learner"], views["instructor"]
    assert [m for m in instructor["menus"] if m != "Nbgrader"] == learner["menus"]
    assert [t for t in instructor["sidebars"] if "Create Assignment" not in t] == learner["sidebars"]
