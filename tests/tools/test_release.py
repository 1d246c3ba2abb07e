"""solutions/ is the source of truth; exercises/ is generated from it with nbgrader's preprocessors."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cvae_course.tools import NOTEBOOKS as NOTEBOOKS_DIR
from cvae_course.tools import cli, release

# Every exercise in solutions/ (a new lesson's exercise is tested here as soon as it is added); 01-03 at least.
NOTEBOOKS = sorted(p.stem for p in release.SOLUTIONS.glob("*.ipynb"))


def read(path):
    return nbformat.read(path, as_version=4)


def nbgrader_meta(cell):
    return cell.metadata.get("nbgrader", {})


def test_every_lesson_has_a_solution_and_an_exercise_notebook():
    assert {"01_autoencoder", "02_variational_autoencoder", "03_conditional_vae"} <= set(NOTEBOOKS)
    assert sorted(p.stem for p in release.EXERCISES.glob("*.ipynb")) == NOTEBOOKS


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_function_an_exercise_asks_for_has_its_task_number_for_the_messages(name):
    """Each lesson's checks module declares TASKS (function or class -> "task N", in the order of the answer
    cells), so that a message can say "kl_divergence (task 2) is not written yet"."""
    from cvae_course import checks

    asked = [
        node.name
        for c in read(release.SOLUTIONS / f"{name}.ipynb").cells
        if nbgrader_meta(c).get("solution")
        for node in ast.parse(c.source).body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    ]
    assert asked
    want = {n: f"task {i}" for i, n in enumerate(asked, 1)}
    assert {n: checks.TASKS.get(n) for n in asked} == want, (
        f"declare TASKS = {want!r} in the lesson's module of checks (cvae_course/checks/lessonNN.py)"
    )


def test_exercises_are_up_to_date_with_solutions():
    stale = release.stale_exercises()
    assert stale == [], f"exercises/ is stale ({stale}); run `cvae-course release`"


def test_a_changed_solution_makes_its_exercise_stale(tmp_path):
    shutil.copytree(release.SOLUTIONS, tmp_path / "solutions")
    shutil.copytree(release.EXERCISES, tmp_path / "exercises")
    path = tmp_path / "solutions" / "01_autoencoder.ipynb"
    nb = read(path)
    nb.cells[0].source += "\n\nOne more sentence."
    nbformat.write(nb, path)
    assert release.stale_exercises(tmp_path / "solutions", tmp_path / "exercises") == ["01_autoencoder.ipynb"]
    release.release(tmp_path / "solutions", tmp_path / "exercises")
    assert release.stale_exercises(tmp_path / "solutions", tmp_path / "exercises") == []


def test_release_check_command_reports_stale_exercises(tmp_path, capsys):
    shutil.copytree(release.SOLUTIONS, tmp_path / "solutions")
    (tmp_path / "exercises").mkdir()
    args = [
        "release",
        "--check",
        "--solutions",
        str(tmp_path / "solutions"),
        "--exercises",
        str(tmp_path / "exercises"),
    ]
    assert cli.main(args) == 1
    assert "out of date" in capsys.readouterr().out
    assert cli.main(args[:1] + args[2:]) == 0
    assert cli.main(args) == 0


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_solutions_have_at_least_four_graded_tasks_each_with_hidden_tests(name):
    nb = read(release.SOLUTIONS / f"{name}.ipynb")
    graded = [c for c in nb.cells if nbgrader_meta(c).get("grade") and nbgrader_meta(c).get("points", 0) > 0]
    with_hidden = [c for c in graded if "### BEGIN HIDDEN TESTS" in c.source]
    assert len(with_hidden) >= 4
    assert all(nbgrader_meta(c)["schema_version"] == 3 for c in nb.cells if nbgrader_meta(c))
    assert all(c.source.lstrip().startswith("checks.check_") for c in graded)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_exercises_hide_solutions_and_hidden_tests(name):
    text = (release.EXERCISES / f"{name}.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    nb = read(release.EXERCISES / f"{name}.ipynb")
    answers = [c.source for c in nb.cells if nbgrader_meta(c).get("solution")]
    assert answers and all("# YOUR CODE HERE" in s and "raise NotImplementedError()" in s for s in answers)
    assert all(not c.get("outputs") for c in nb.cells)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_first_code_cell_imports_the_course_package_before_keras(name):
    first = next(c for c in read(release.SOLUTIONS / f"{name}.ipynb").cells if c.cell_type == "code")
    python = "\n".join(line for line in first.source.splitlines() if not line.startswith("%"))  # magics aside
    imports = [node for node in ast.parse(python).body if isinstance(node, (ast.Import, ast.ImportFrom))]
    modules = [(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name).split(".")[0] for n in imports]
    assert modules[0] == "cvae_course" and "tensorflow" not in modules[:1] and "keras" in modules
    assert nbgrader_meta(first)["locked"], "the setup cell is locked so grading restores it"


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_cells_that_fail_until_solved_carry_the_raises_exception_tag(name):
    nb = read(release.EXERCISES / f"{name}.ipynb")
    tagged = {i for i, c in enumerate(nb.cells) if release.RAISES in c.metadata.get("tags", [])}
    tests = {i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade")}
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    answers = {i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("solution")}
    assert tests <= tagged
    assert setup not in tagged and not answers & tagged  # they define functions: they run fine


def test_failing_cells_follow_names_from_solution_cells_through_later_cells():
    solution = nbformat.v4.new_code_cell("def f():\n    raise NotImplementedError()")
    solution.metadata.nbgrader = {"solution": True}
    top_level = nbformat.v4.new_code_cell("x = 1\nraise NotImplementedError()")
    top_level.metadata.nbgrader = {"solution": True}
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("import numpy as np"),  # 0: fine
            solution,  # 1: defines f, runs fine
            nbformat.v4.new_code_cell("y = f()"),  # 2: fails
            nbformat.v4.new_code_cell("print(np.pi)"),  # 3: fine
            nbformat.v4.new_code_cell("z = y + 1"),  # 4: fails, because y was never made
            nbformat.v4.new_markdown_cell("f and y"),  # 5: markdown
            top_level,  # 6: fails itself
        ]
    )
    assert release.failing_cells(nb) == [2, 4, 6]


def test_release_equals_nbgrader_generate_assignment_apart_from_the_tags(tmp_path):
    """The in-memory release is what `nbgrader generate_assignment` writes (minus raises-exception tags)."""
    name = "01_autoencoder"
    (tmp_path / "source" / name).mkdir(parents=True)
    shutil.copyfile(release.SOLUTIONS / f"{name}.ipynb", tmp_path / "source" / name / f"{name}.ipynb")
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", name],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    theirs = read(tmp_path / "release" / name / f"{name}.ipynb")
    ours = read(release.EXERCISES / f"{name}.ipynb")
    for cell in ours.cells:
        tags = [t for t in cell.metadata.get("tags", []) if t != release.RAISES]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
    assert release.render(ours) == release.render(theirs)


def _figure_functions():
    """Names of the plots functions that return a matplotlib Figure (shown only once inline figures are on)."""
    import inspect

    from matplotlib.figure import Figure

    from cvae_course import plots

    return {
        name
        for name, fn in vars(plots).items()
        if inspect.isfunction(fn) and inspect.signature(fn).return_annotation in (Figure, "Figure")
    }


@pytest.mark.parametrize(
    "path",
    sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
    + sorted(release.SOLUTIONS.glob("*.ipynb"))
    + sorted(release.EXERCISES.glob("*.ipynb")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_every_notebook_turns_on_inline_figures_before_it_draws_one_with_plots(path):
    """A plots function returns a Figure, which Jupyter draws only after `%matplotlib inline`; without that line the
    cell prints "<Figure size ... with 1 Axes>" (nbval --nbval-lax does not notice)."""
    import re

    calls = re.compile(r"\bplots\.(" + "|".join(sorted(_figure_functions())) + r")\(")
    inline = False
    for index, cell in enumerate(read(path).cells):
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if line.strip() == "%matplotlib inline":
                inline = True
            found = calls.search(line)
            assert inline or not found, (
                f"{path.name} cell {index} calls plots.{found.group(1)} before any `%matplotlib inline`: "
                "add it to the notebook's first code cell"
            )
