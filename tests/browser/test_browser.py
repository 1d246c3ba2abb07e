"""The course as a learner sees it: JupyterLab in a real (headless) Chromium.

A widget can work in a test kernel and still reach the learner as "Loading widget..." or as a raw text repr
when JupyterLab's widget extension is missing or does not match ipywidgets. These tests open the notebooks in
JupyterLab, run them from the Run menu and use the controls with the mouse. Screenshots of every step go to
test-artifacts/browser/. Needs Debian's ``chromium`` (.ci/run installs it); without it the tests are skipped,
except in CI (CI=true), where a missing browser is an error.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import pytest

from browser_support import (ARTIFACTS, CHROMIUM_ARGS, WIDGET_PROBLEMS, NotebookPage, chromium_executable,
                             copy_course, running_jupyterlab)

PLAYGROUND = "notebooks/04_cvae_playground.ipynb"
EXERCISE = "exercises/01_autoencoder.ipynb"
EXERCISE_CHECK = "checks.check_encoder(build_encoder)"  # the first check cell, below the unwritten build_encoder
DIGITS = [str(k) for k in range(10)]
SLIDERS = ["z[0]", "z[1]", "temperature"]


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} CI must run the browser test: install Debian's chromium (.ci/run does).")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = chromium_executable()
    if path is None:
        _missing("The JupyterLab browser test needs Chromium: `apt-get install chromium` (not found on PATH).")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("The JupyterLab browser test needs Playwright: `pip install -e .[test]`.")
    return path


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS


@pytest.fixture(scope="module")
def sandbox():
    with tempfile.TemporaryDirectory(prefix="cvae-course-browser-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="module")
def lab(chromium, sandbox):
    """JupyterLab from this environment over a copy of the course (a test run never touches the real notebooks)."""
    course = copy_course(sandbox / "course")
    with running_jupyterlab(course, sandbox / "jupyter") as server:
        yield server


@pytest.fixture(scope="module")
def browser(chromium, sandbox):
    """Headless Debian Chromium with a fresh profile and nothing that reaches for the network."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(sandbox / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def playground(lab, browser, artifacts) -> NotebookPage:
    """The playground notebook, opened in JupyterLab and run from the Run menu."""
    notebook = NotebookPage(browser.new_page(), lab, artifacts, "playground")
    with notebook.step(f"open {PLAYGROUND} in JupyterLab and wait for its kernel"):
        notebook.open(PLAYGROUND)
    notebook.screenshot("opened")
    with notebook.step("Run > Run All Cells in the playground (and wait for the run to finish)"):
        notebook.run_all()
    notebook.screenshot("ran all cells")
    return notebook


@pytest.fixture(scope="module")
def generator(playground):
    """The generator panel of the playground, once its controls have rendered."""
    from playwright.sync_api import expect

    panel = playground.panel.locator(".cvae-generator")
    with playground.step("wait for the generator panel to render as widgets"):
        expect(panel).to_be_visible(timeout=30_000)
        panel.scroll_into_view_if_needed()
    return panel


def _slider(panel, description: str):
    label = re.compile(rf"^{re.escape(description)}$")
    return panel.locator(".widget-slider", has=panel.page.locator(".widget-label", has_text=label))


def test_playground_runs_in_jupyterlab_without_errors(playground):
    errors = playground.errors()
    assert not errors, "Running the playground in JupyterLab left error or stderr outputs:\n" + "\n".join(errors)


def test_playground_widgets_render_as_real_controls(playground, generator):
    from playwright.sync_api import expect

    with playground.step("check the generator shows digit buttons 0-9, sliders and a picture"):
        for digit in DIGITS:
            expect(generator.get_by_role("button", name=digit, exact=True)).to_be_visible(timeout=15_000)
        for description in SLIDERS:
            expect(_slider(generator, description).locator(".noUi-handle")).to_be_visible(timeout=15_000)
        image = generator.locator("img.cvae-generator-image")
        expect(image).to_be_visible(timeout=15_000)
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), "the generated picture did not load"
    playground.screenshot("generator", generator)
    with playground.step("check no output is stuck at 'Loading widget...' or shows a widget error"):
        text = playground.panel.locator(".jp-OutputArea").all_inner_texts()
        stuck = [problem for problem in WIDGET_PROBLEMS if any(problem in t for t in text)]
        assert not stuck, f"widget outputs show {stuck}: the JupyterLab widget extension is missing or mismatched"


def test_clicking_another_digit_changes_the_generated_picture(playground, generator):
    from playwright.sync_api import expect

    image = generator.locator("img.cvae-generator-image")
    with playground.step("click another digit button and wait for a new picture"):
        current = generator.locator(".cvae-digit-buttons button.mod-active").inner_text().strip()
        other = "7" if current != "7" else "2"
        before_src, before = image.get_attribute("src"), playground.image_data(image)
        generator.get_by_role("button", name=other, exact=True).click()
        expect(generator.get_by_role("button", name=other, exact=True)).to_have_class(re.compile(r"\bmod-active\b"))
        after = playground.wait_for_new_image(image, before_src)
    playground.screenshot(f"after clicking digit {other}", generator)
    assert after != before, f"clicking digit {other} (was {current}) left the generated picture unchanged"


def test_moving_a_latent_slider_changes_the_generated_picture(playground, generator):
    from playwright.sync_api import expect

    image = generator.locator("img.cvae-generator-image")
    slider = _slider(generator, "z[0]")
    readout = slider.locator(".widget-readout")
    with playground.step("drag the z[0] slider with the mouse and wait for a new picture"):
        old_value = readout.inner_text().strip()
        before_src, before = image.get_attribute("src"), playground.image_data(image)
        fraction = 0.15 if float(old_value) > 0 else 0.85
        playground.drag_slider(slider, fraction)
        expect(readout).not_to_have_text(old_value)
        after = playground.wait_for_new_image(image, before_src)
    playground.screenshot(f"after moving z0 from {old_value} to {readout.inner_text().strip()}", generator)
    assert after != before, f"moving z[0] from {old_value} left the generated picture unchanged"


def test_exercise_check_cell_shows_the_friendly_message(lab, browser, artifacts):
    from playwright.sync_api import expect

    notebook = NotebookPage(browser.new_page(), lab, artifacts, "exercise")
    try:
        with notebook.step(f"open {EXERCISE} in JupyterLab and wait for its kernel"):
            notebook.open(EXERCISE)
        with notebook.step("Run > Run All Cells in the unanswered exercise"):
            notebook.run_all()
        check = notebook.code_cell(EXERCISE_CHECK)
        output = check.locator(".jp-OutputArea-output")
        with notebook.step(f"read the output of the test cell `{EXERCISE_CHECK}`"):
            expect(output.first).to_be_visible(timeout=15_000)
            output.first.scroll_into_view_if_needed()
            expect(output.first).to_contain_text("is not written yet", timeout=15_000)
            expect(output.first).to_contain_text("Hint: replace `raise NotImplementedError()`")
        notebook.screenshot("test cell output", check)
    finally:
        notebook.page.close()


def test_notebook_kernels_run_the_project_python(lab, playground):
    if not Path("/proc").is_dir():
        pytest.skip("reading kernel command lines needs Linux /proc")
    commands = lab.kernel_commands()
    assert commands, "found no kernel process of the test's JupyterLab (is the playground's kernel running?)"
    env_bin = Path(sys.executable).parent  # .venv/bin: its python and python3 are the same interpreter
    elsewhere = sorted({command[0] for command in commands if Path(command[0]).parent != env_bin})
    assert not elsewhere, (
        f"JupyterLab's kernels run {elsewhere}, not the project's environment {env_bin}: "
        "the python3 kernelspec it picked belongs to another Python")
