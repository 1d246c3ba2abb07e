"""Generate the learners' ``exercises/`` from the instructors' ``solutions/`` with nbgrader's preprocessors.

``solutions/`` is the source of truth. :func:`release_notebook` applies the preprocessors of
``nbgrader generate_assignment`` in nbgrader's own order (ClearSolutions, ClearHiddenTests, ClearOutput,
LockCells, ComputeChecksums, ...), minus the one that writes to a gradebook database, so no database is
needed. It then tags ``raises-exception`` on every cell that fails until the learner solves a task, so that
nbval can run an exercise notebook top to bottom and prove its scaffolding works.

Which cells fail is found without running anything: a cell fails when it uses a name defined in a
solution cell, or in a cell that fails itself (the names flow from cell to cell, in order), or when a
solution stub (``raise NotImplementedError()``) sits at the top level of the cell.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from cvae_course.tools import EXERCISES, SOLUTIONS

__all__ = [
    "EXERCISES",
    "RAISES",
    "SOLUTIONS",
    "expected_exercises",
    "failing_cells",
    "release",
    "release_notebook",
    "render",
    "stale_exercises",
]

RAISES = "raises-exception"


def _preprocessors() -> list:
    """nbgrader generate_assignment's preprocessors in its order, without SaveCells (the database)."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.preprocessors import SaveCells

    order = GenerateAssignment.class_traits()["preprocessors"].default()
    return [cls() for cls in order if cls is not SaveCells]


def _is_solution(cell: NotebookNode) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution", False))


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(names the code defines at top level, names it reads anywhere)."""
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    defined.add(sub.id)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return defined, used


def _raises_at_top_level(tree: ast.AST) -> bool:
    return any(isinstance(node, ast.Raise) for node in tree.body)


def failing_cells(nb: NotebookNode) -> list[int]:
    """Indices of the code cells of an exercise notebook that raise until the learner's tasks are solved."""
    unsolved: set[str] = set()
    failing = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython magics and the like: leave the cell to nbval
            continue
        defined, used = _names(tree)
        if _is_solution(cell):
            unsolved |= defined
            if _raises_at_top_level(tree):
                failing.append(index)
        elif used & unsolved:
            unsolved |= defined
            failing.append(index)
    return failing


def release_notebook(solution: NotebookNode) -> NotebookNode:
    """The learner's version of a solution notebook (the input is left unchanged)."""
    nb = nbformat.from_dict(solution)
    nb = nbformat.reads(nbformat.writes(nb), as_version=4)  # a deep copy
    resources: dict = {"nbgrader": {}}
    for preprocessor in _preprocessors():
        nb, resources = preprocessor.preprocess(nb, resources)
    for index in failing_cells(nb):
        tags = nb.cells[index].metadata.setdefault("tags", [])
        if RAISES not in tags:
            tags.append(RAISES)
    return nb


def render(nb: NotebookNode) -> str:
    """A notebook as the text written to disk (nbformat's layout plus a final newline)."""
    return nbformat.writes(nb) + "\n"


def expected_exercises(solutions: Path = SOLUTIONS) -> dict[str, str]:
    """File name -> text of every exercise notebook generated from ``solutions``."""
    paths = sorted(Path(solutions).glob("*.ipynb"))
    if not paths:
        raise ValueError(f"solutions must be a folder of .ipynb notebooks; found none in {solutions}")
    return {p.name: render(release_notebook(nbformat.read(p, as_version=4))) for p in paths}


def stale_exercises(solutions: Path = SOLUTIONS, exercises: Path = EXERCISES) -> list[str]:
    """Names of exercise notebooks that are missing, out of date or left over; empty when all is current."""
    wanted = expected_exercises(solutions)
    have = {p.name for p in Path(exercises).glob("*.ipynb")}
    stale = [
        name
        for name, text in wanted.items()
        if not (Path(exercises) / name).is_file() or (Path(exercises) / name).read_text() != text
    ]
    return sorted(stale + sorted(have - set(wanted)))


def release(solutions: Path = SOLUTIONS, exercises: Path = EXERCISES) -> list[Path]:
    """Write ``exercises/`` from ``solutions/`` (removing exercise notebooks without a solution); returns the paths."""
    exercises = Path(exercises)
    exercises.mkdir(parents=True, exist_ok=True)
    wanted = expected_exercises(solutions)
    for old in exercises.glob("*.ipynb"):
        if old.name not in wanted:
            old.unlink()
    written = []
    for name, text in wanted.items():
        path = exercises / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written
