"""Grade learners' notebooks with nbgrader's real autograde, without setting up an nbgrader course.

``grade(submissions, out)`` reads ``submissions/<student_id>/<notebook>.ipynb`` (or nbgrader's
``submitted/<student_id>/<notebook>/<notebook>.ipynb``), builds a throw-away nbgrader course in a temporary folder
whose source is ``solutions/``, and for each student and notebook runs ``nbgrader autograde`` and
``nbgrader generate_feedback`` in their own copy of that course (so ``-j N`` jobs never share a gradebook). nbgrader
runs with this course's settings only (``JUPYTER_NO_CONFIG``), never with the instructor's own nbgrader
configuration, and with the preprocessors of :mod:`cvae_course.tools.nbgrader_plugins`: locked cells a learner
deleted are put back and edited ones restored, the hidden tests run, and no feedback page shows hidden-test code.

The results go to ``out/grades.csv`` (one row per student and notebook; a regrade replaces only its own rows),
``out/feedback/<student>/<notebook>.html`` (and, for submissions in nbgrader's layout, the layout
``nbgrader release_feedback`` reads) and, for a closer look, ``out/autograded/`` and ``out/logs/``.

A bad submission never stops the batch: it gets a row whose ``status`` says what happened and whose ``reason``
says what to do, and the learner gets a page that says what to do without any detail of the grading machine.
The learners' files are only ever read.
"""

from __future__ import annotations

import csv
import difflib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cvae_course import settings
from cvae_course.tools import SOLUTIONS, need_nbgrader
from cvae_course.validation import check_positive_int

__all__ = [
    "FIELDS",
    "LEARNER_TEXT",
    "STATUSES",
    "Limits",
    "Row",
    "collect",
    "grade",
    "nbgrader_config",
    "read_csv",
    "task_order",
    "write_csv",
]

STATUSES = {
    "graded": "autograded normally; the points are the learner's",
    "tests-restored": "autograded after restoring locked cells the learner edited or deleted",
    "flagged": "autograded, points kept, but the answer cells patch the checks or the file holds the solutions: "
    "look before releasing the grade",
    "cell-timeout": "autograded, but a cell hit the per-cell time limit and scored 0",
    "notebook-timeout": "stopped at the per-notebook time limit; no points",
    "kernel-died": "the Python kernel died while running the notebook; no points",
    "invalid-notebook": "the file is not a readable notebook; no points",
    "wrong-name": "a notebook whose name is not one of the course's; not graded",
    "missing": "the student has no notebook of this name; no points",
    "error": "grading failed for a reason on the grading side; no points until regraded",
}
# What the learner's page says when nbgrader's own feedback page is not there: what to do, never how the grading
# machine failed (no traceback, no path).
LEARNER_TEXT = {
    "graded": "Your notebook was graded. The detailed page could not be made this time; your instructor has "
    "the details.",
    "tests-restored": "Your notebook was graded with the original test cells (locked cells that were changed or "
    "deleted were put back). The detailed page could not be made this time; your instructor "
    "has the details.",
    "flagged": "Your notebook was graded. The detailed page could not be made this time; your instructor has "
    "the details.",
    "cell-timeout": "Your notebook was graded, but a cell ran longer than the time allowed per cell and was "
    "stopped (it scored 0). The detailed page could not be made this time.",
    "notebook-timeout": "Your notebook ran longer than the time allowed for a whole notebook and was stopped, so "
    "it could not be graded. Look for a loop that never ends or training you added, run the "
    "notebook from top to bottom (Kernel > Restart Kernel and Run All Cells), and submit again.",
    "kernel-died": "The Python kernel stopped while your notebook ran (for example os._exit, a crash or running "
    "out of memory), so it could not be graded. Run the notebook from top to bottom (Kernel > "
    "Restart Kernel and Run All Cells) to find the cell, fix it and submit again.",
    "invalid-notebook": "The file you submitted is not a readable notebook, so it could not be graded. Download "
    "your notebook again from Jupyter (File > Download) and submit that file.",
    "missing": "No notebook of this name was found in your submission.",
    "error": "Your notebook could not be graded this time because of a problem on the grading side, not in your "
    "work. Your instructor has the details and will grade it again.",
}
FIELDS = ["student_id", "notebook", "status", "score", "max_score", "submitted_at"]
TIMEOUT_ERRORS = {"CellTimeoutError"}
# A second download in a browser ("01_autoencoder (1).ipynb"), or a copy made in JupyterLab ("...-Copy1.ipynb").
_DUPLICATE = re.compile(r"^(?P<name>.+?)(?: ?\((?P<download>\d+)\)|-Copy(?P<copy>\d+))$")


@dataclass
class Row:
    """One line of grades.csv."""

    student_id: str
    notebook: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    tasks: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    submitted_at: str = ""
    # nbgrader's submitted/<student>/<assignment>/ when the notebook came from there: the learner's page then also
    # goes where `nbgrader release_feedback` looks for it
    nbgrader_dir: Path | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Limits:
    """Time and output limits of a grading run."""

    cell_timeout: int = 120
    notebook_timeout: int = 900
    max_output_lines: int = 1000

    def __post_init__(self):
        for name in ("cell_timeout", "notebook_timeout", "max_output_lines"):
            check_positive_int(getattr(self, name), name)


@dataclass
class _Job:
    student_id: str
    notebook: str
    source: Path
    submission: nbformat.NotebookNode
    note: str = ""  # what the reason says first (e.g. which file of several was graded)
    submitted_at: str = ""
    nbgrader_dir: Path | None = None  # nbgrader's submitted/<student>/<assignment>/, with its submission secret


# ------------------------------------------------------------------------------------ collecting
def _notebook_names(solutions: Path, only: list[str] | None = None) -> list[str]:
    names = sorted(p.stem for p in Path(solutions).glob("*.ipynb"))
    if not names:
        raise ValueError(
            f"found no solution notebooks (*.ipynb) in {solutions}; give the folder with the source "
            "notebooks with --solutions (the solutions/ folder of your clone of the course)"
        )
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"notebooks {unknown} are not in {solutions}; choose from {names}")
        names = [n for n in names if n in only]
    return names


def task_order(solutions: Path = SOLUTIONS) -> list[str]:
    """Every test cell's grade id, notebook by notebook (in name order), each in the order of its cells."""
    order = []
    for path in sorted(Path(solutions).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                order.append(meta["grade_id"])
    return order


def _read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str]:
    """The parsed notebook, or None and the reason it cannot be graded."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, (
            f"{path.name} is not UTF-8 text (byte {err.start}); it is not a notebook. "
            "Ask the learner to download it again from Jupyter (File > Download) and resubmit."
        )
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return None, (
            f"{path.name} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
            "it was probably damaged when copied or edited by hand. Ask the learner to download it "
            "again from Jupyter (File > Download) and resubmit."
        )
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat's own errors: not a notebook structure, unknown version ...
        return None, (
            f"{path.name} is JSON but not a Jupyter notebook ({type(err).__name__}: "
            f"{str(err).splitlines()[0][:200]}). Ask the learner to resubmit the .ipynb from Jupyter."
        )
    if not isinstance(nb.get("cells"), list):
        return None, f"{path.name} has no list of cells; ask the learner to resubmit the .ipynb from Jupyter."
    return nb, ""


def _course_name(path: Path, course: set[str]) -> tuple[str | None, str]:
    """(the course notebook a file is, how it is named: "exact", "download" or "copy"), or (None, "")."""
    if path.stem in course:
        return path.stem, "exact"
    match = _DUPLICATE.match(path.stem)
    if match and match.group("name") in course:
        return match.group("name"), "download" if match.group("download") else "copy"
    return None, ""


def _student_files(student_dir: Path, course: set[str]) -> list[Path]:
    """The student's notebooks: <student>/*.ipynb, and nbgrader's <student>/<notebook>/*.ipynb."""
    files = sorted(student_dir.glob("*.ipynb"))
    for folder in sorted(p for p in student_dir.iterdir() if p.is_dir() and p.name in course):
        files += sorted(folder.glob("*.ipynb"))
    return files


def _chosen(name: str, candidates: list[tuple[Path, str]]) -> tuple[Path, str]:
    """Of several files for one notebook, the one to grade and what the reason says about the choice."""
    exact = [p for p, kind in candidates if kind == "exact"]
    pool = exact or [p for p, _ in candidates]
    path = max(pool, key=lambda p: (p.stat().st_mtime, str(p)))
    others = [p.name for p, _ in candidates if p != path]
    if exact:
        note = ""
    elif dict(candidates)[path] == "download":
        note = (
            f"graded {path.name}, the name a browser gives a second download of {name}.ipynb (accepted as {name}.ipynb)"
        )
    else:
        note = f"graded {path.name}, the name JupyterLab gives a copy of {name}.ipynb (accepted as {name}.ipynb)"
    if others:
        also = f"also found {', '.join(others)}, not graded: "
        also += f"the file named exactly {name}.ipynb was" if exact else "the newest file was"
        note = f"{note}; {also}" if note else also
    return path, note


def _looks_like(filename: str, notebooks: list[str]) -> str | None:
    """The notebook a misnamed file most looks like (difflib on the names without .ipynb, ignoring case), or None."""
    names = {n.lower(): n for n in notebooks}
    close = difflib.get_close_matches(Path(filename).stem.lower(), list(names), n=1, cutoff=0.6)
    return names[close[0]] if close else None


def collect(
    submissions: Path, notebooks: list[str], course: list[str] | None = None, students: list[str] | None = None
) -> tuple[list[_Job], list[Row]]:
    """Jobs to autograde and rows for what cannot be graded (missing, misnamed, unreadable).

    Args:
        submissions: one folder per student.
        notebooks: the notebooks to grade now.
        course: every notebook of the course (default: ``notebooks``); files of the others are left alone.
        students: grade only these students (default: every folder).
    """
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of <student_id>/<notebook>.ipynb, got {submissions}")
    course_names = set(course or notebooks) | set(notebooks)
    folders = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if students:
        known = {p.name for p in folders}
        unknown = sorted(set(students) - known)
        if unknown:
            raise ValueError(
                f"no folder for student(s) {unknown} in {submissions}; "
                f"there are {len(known)}: {', '.join(sorted(known)[:20])}"
            )
        folders = [p for p in folders if p.name in students]
    jobs: list[_Job] = []
    rows: list[Row] = []
    for student_dir in folders:
        student = student_dir.name
        by_notebook: dict[str, list[tuple[Path, str]]] = {}
        misnamed = []
        for path in _student_files(student_dir, course_names):
            name, kind = _course_name(path, course_names)
            if name is None:
                misnamed.append(path)
            elif name in notebooks:
                by_notebook.setdefault(name, []).append((path, kind))
        for path in misnamed:
            close = _looks_like(path.name, notebooks)
            guess = f"; it looks like {close}.ipynb: rename it and grade again" if close else ""
            rows.append(
                Row(
                    student,
                    path.stem,
                    "wrong-name",
                    reason=(
                        f"{path.relative_to(student_dir)} is not one of the notebooks being graded "
                        f"({', '.join(n + '.ipynb' for n in notebooks)}){guess}."
                    ),
                )
            )
        for name in notebooks:
            if name not in by_notebook:
                alike = [p.name for p in misnamed if _looks_like(p.name, notebooks) == name]
                extra = f" (but see {', '.join(alike)})" if alike else ""
                rows.append(Row(student, name, "missing", reason=f"no {name}.ipynb in {student}/{extra}."))
                continue
            path, note = _chosen(name, by_notebook[name])
            stamp = path.parent / "timestamp.txt" if path.parent != student_dir else None
            submitted_at = stamp.read_text(errors="replace").strip() if stamp and stamp.is_file() else ""
            nbgrader_dir = path.parent if submitted_at and (path.parent / "submission_secret.txt").is_file() else None
            nb, problem = _read_submission(path)
            if nb is None:
                rows.append(
                    Row(
                        student,
                        name,
                        "invalid-notebook",
                        reason="; ".join(filter(None, [note, problem])),
                        submitted_at=submitted_at,
                        nbgrader_dir=nbgrader_dir,
                    )
                )
            else:
                jobs.append(_Job(student, name, path, nb, note, submitted_at, nbgrader_dir))
    return jobs, rows


# ------------------------------------------------------------------------------------ the course
def nbgrader_config(limits: Limits = Limits()) -> str:
    """The ``nbgrader_config.py`` of a grading run: the same settings the README gives for your own course."""
    return "\n".join(
        [
            "# Written by cvae-course grade: nbgrader settings of this grading run.",
            "c = get_config()",
            "c.CourseDirectory.course_id = 'cvae-course'",
            f"c.Execute.timeout = {limits.cell_timeout}",
            "c.Execute.startup_timeout = 180",
            "c.Execute.iopub_timeout = 30",
            "c.Execute.raise_on_iopub_timeout = False",
            f"c.LimitOutput.max_lines = {limits.max_output_lines}",
            "c.LimitOutput.max_traceback = 100",
            "from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor",
            "from nbgrader.preprocessors import (CheckCellMetadata, ClearOutput, DeduplicateIds, GetGrades,",
            "                                    OverwriteCells, OverwriteKernelspec)",
            "from cvae_course.tools.nbgrader_plugins import HideHiddenTests, RestoreLockedCells",
            "# Put back every locked cell a learner deleted (nbgrader alone restores only test cells, and crashes when",
            "# the deleted test followed a training cell); edited locked cells are restored by OverwriteCells.",
            "c.Autograde.sanitize_preprocessors = [ClearOutput, DeduplicateIds, RestoreLockedCells, OverwriteKernelspec,",
            "                                      OverwriteCells, CheckCellMetadata]",
            "c.OverwriteCells.add_missing_cells = True",
            "# Feedback shows the tests' results, never hidden-test code (not in the cells, not in any output).",
            "c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]",
            "",
        ]
    )


def _nbgrader(args: list[str], cwd: Path, env: dict, log: Path, deadline: float) -> str:
    """Run an nbgrader command; returns 'ok', 'failed' or 'timeout' (the whole process tree is killed)."""
    import psutil

    with open(log, "ab") as out:
        out.write(f"$ nbgrader {' '.join(args)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "nbgrader", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill_tree(psutil, proc.pid)
            proc.wait()
            return "timeout"
        finally:  # interrupted (Ctrl-C) or failed otherwise: never leave nbgrader and its kernel running
            if proc.poll() is None:
                _kill_tree(psutil, proc.pid)
                proc.wait()
    return "ok" if code == 0 else "failed"


def _kill_tree(psutil, pid: int) -> None:
    """Kill a process and all its descendants (the kernel runs in its own session, so a group kill misses it)."""
    try:
        parent = psutil.Process(pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def _template(work: Path, notebook: str, solutions: Path, limits: Limits, env: dict) -> Path:
    """A course with one assignment named like the notebook, generated by nbgrader (gradebook included); its
    ``source/`` (the solutions and hidden tests as a file) is deleted once the release is built, so that no
    learner's kernel, which runs a few folders below, finds it."""
    root = work / "templates" / notebook
    (root / "source" / notebook).mkdir(parents=True)
    shutil.copyfile(Path(solutions) / f"{notebook}.ipynb", root / "source" / notebook / f"{notebook}.ipynb")
    (root / "nbgrader_config.py").write_text(nbgrader_config(limits))
    log = root / "generate_assignment.log"
    state = _nbgrader(["generate_assignment", notebook, "--force"], root, env, log, time.monotonic() + 300)
    if state != "ok":
        raise RuntimeError(f"nbgrader generate_assignment failed for {notebook}; see the log:\n{log.read_text()}")
    shutil.rmtree(root / "source")
    return root


# ------------------------------------------------------------------------------------ one job
def _locked_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> source of the locked nbgrader cells (tolerant of whatever a learner did to metadata)."""
    cells = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        if isinstance(meta, dict) and meta.get("locked") and isinstance(meta.get("grade_id"), str):
            cells[meta["grade_id"]] = str(cell.get("source", ""))
    return cells


def _nbgrader_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> source of every cell with nbgrader metadata and a grade id, locked or not."""
    cells = {}
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
            cells[meta["grade_id"]] = str(cell.get("source", ""))
    return cells


def _tampering(
    submission: nbformat.NotebookNode, release: nbformat.NotebookNode, source: nbformat.NotebookNode
) -> tuple[list[str], list[str]]:
    """(edited, deleted, older) grade ids of locked cells: unlike both the released cell and the solutions' cell
    (an instructor may submit a solution notebook itself), missing from the submission, or unlike them but
    unchanged since an earlier release (its nbgrader checksum still matches its text: the learner worked from an
    older release, and did not edit it)."""
    from nbgrader.utils import compute_checksum

    given = _locked_cells(submission)
    unlocked = _nbgrader_cells(submission)  # every cell with a grade id, locked or not
    originals = _locked_cells(source)
    edited, deleted, older = [], [], []
    cells = {
        cell["metadata"]["nbgrader"]["grade_id"]: cell
        for cell in submission.get("cells", [])
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in given
    }
    for grade_id, text in _locked_cells(release).items():
        if grade_id not in given and grade_id in unlocked:  # still there, its "locked" flag taken off
            same = unlocked[grade_id].strip() in {text.strip(), originals.get(grade_id, "").strip()}
            edited.append(f"{grade_id} (unlocked{'' if same else ' and changed'})")
        elif grade_id not in given:
            deleted.append(grade_id)
        elif given[grade_id].strip() not in {text.strip(), originals.get(grade_id, "").strip()}:
            cell = cells[grade_id]
            try:
                unchanged = cell["metadata"]["nbgrader"].get("checksum") == compute_checksum(cell)
            except Exception:  # metadata a learner mangled: count it as edited
                unchanged = False
            (older if unchanged else edited).append(grade_id)
    for grade_id, copies in _pasted_copies(submission, release).items():  # nbgrader runs them as plain cells
        if grade_id in given and any(
            str(c.get("source", "")).strip()
            not in {_locked_cells(release)[grade_id].strip(), originals.get(grade_id, "").strip()}
            for c in copies
        ):
            edited.append(f"{grade_id} (a pasted copy)")
    return edited, deleted, older


def _pasted_copies(submission: nbformat.NotebookNode, release: nbformat.NotebookNode) -> dict[str, list]:
    """grade id -> the cells that carry a locked cell's grade id before its last one (JupyterLab's copy and paste
    keeps the metadata): nbgrader's DeduplicateIds makes them plain cells, which run as the learner wrote them."""
    locked = set(_locked_cells(release))
    carrying: dict[str, list] = {}
    for cell in submission.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if grade_id in locked:
            carrying.setdefault(grade_id, []).append(cell)
    return {grade_id: cells[:-1] for grade_id, cells in carrying.items() if len(cells) > 1}


# Learner code that changes what a test cell calls: assignments into the checks module (``checks.x = ...``,
# ``setattr(checks, ...)``, ``vars(checks)``, ``checks.__dict__``, ``mock.patch('...checks...')``), a rebound name the
# checks module exports (``check_encoder = ...``), ``sys.modules[...] = ...``. ``{mods}`` is every name the notebook
# gives the checks module or one of its lesson modules, ``{names}`` the module's exported names. A heuristic read of
# the text, not a proof: see _suspicious.
_PATCHING = (
    r"\b(?:{mods})\s*\.\s*[\w.]+\s*(?:=(?!=)|[-+*/|&]=)|\.\s*(?:{names})\s*(?:=(?!=)|[-+*/|&]=)"
    r"|(?<![\w.])(?:{names})\s*(?:=(?!=)|[-+*/|&]=)|\bdef\s+(?:{names})\b"
    r"|\b(?:setattr|delattr|vars|patch\s*\.\s*object|patch\s*\.\s*dict)\s*\(\s*(?:{mods})\b|\b(?:{mods})\s*\.\s*__dict__"
    r"|\bsys\s*\.\s*modules\s*(?:\[[^\]]*\]\s*=(?!=)|\.\s*(?:update|setdefault|__setitem__)\b)"
)
# The same, on text strings name: mock.patch('cvae_course.checks.lesson01.check_encoder', ...), monkeypatch.setattr('...')
_PATCHING_BY_NAME = re.compile(r"\b(?:patch|setattr|delattr)\s*\(\s*[rbuRBU]?[\"'][^\"']*\bchecks\b")
_ALIASES = (
    re.compile(  # import cvae_course.checks[.lessonNN] as X; from cvae_course[.checks] import checks|lessonNN as X
        r"\bimport\s+cvae_course\s*\.\s*checks(?:\s*\.\s*\w+)?\s+as\s+(\w+)"
        r"|\bfrom\s+cvae_course(?:\s*\.\s*checks)?\s+import\s+(?:checks|lesson\d+)\s+as\s+(\w+)"
    )
)
_MARKERS = ("### BEGIN SOLUTION", "BEGIN HIDDEN TESTS")
# Learner code that reads what the hidden tests leave behind: the kernel's input history (In, _ih, the history
# manager), which holds every test cell once it ran, and nbgrader's gradebook, which holds them all. Read in the
# code without its text strings ("In [3]" in a message is not a read).
_PEEKING = re.compile(r"\bin\s+In\b|\bIn\s*\[|\b_ih\b|\b_i\d+\b|history_manager")
_FSTRING_PARTS = re.compile(r"\{[^{}]*\}")


def _without_strings(code: str) -> str:
    """Python code without its comments and the text of its string literals (an f-string keeps its {...}
    expressions); code Python cannot read (an IPython magic, a syntax error) only loses what follows a #."""
    import io
    import tokenize

    lines = code.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    spans = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type in (tokenize.STRING, tokenize.COMMENT):
                begin = starts[tok.start[0] - 1] + tok.start[1]
                end = starts[tok.end[0] - 1] + tok.end[1]
                prefix = re.match(r"[A-Za-z]*", tok.string).group(0).lower()
                kept = " ".join(_FSTRING_PARTS.findall(tok.string)) if "f" in prefix else ""
                spans.append((begin, end, '""' if tok.type == tokenize.STRING and not kept else kept))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return "\n".join(line.split("#", 1)[0] for line in code.splitlines())
    for begin, end, text in reversed(spans):
        code = code[:begin] + text + code[end:]
    return code


def _checks_patterns(code: str) -> re.Pattern:
    """_PATCHING for a notebook: the names it gives the checks module, and the names the module exports."""
    from cvae_course import checks

    mods = {"checks", *checks.lessons()} | {alias for pair in _ALIASES.findall(code) for alias in pair if alias}
    exported = [name for name in checks.__all__ if name.startswith("check_")]  # what the test cells call
    names = "|".join(sorted(map(re.escape, exported), key=len, reverse=True))
    return re.compile(_PATCHING.format(mods="|".join(sorted(map(re.escape, mods))), names=names))


def _suspicious(submission: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Why a submission's points cannot be trusted without a look: cells of the learner's (not locked in the
    released notebook) that look like they patch the course's checks or read the kernel's input history or the
    gradebook (where the hidden tests are), and solution or hidden-test markers anywhere
    (a copy of the solutions notebook). A heuristic: it flags, the instructor decides."""
    locked = set(_locked_cells(release))
    copies = {id(c) for cells in _pasted_copies(submission, release).values() for c in cells}
    patching, peeking, markers = [], [], False
    cells = []
    for index, cell in enumerate(submission.get("cells", [])):
        text = str(cell.get("source", ""))
        markers = markers or any(marker in text for marker in _MARKERS)
        meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if cell.get("cell_type") != "code" or (grade_id in locked and id(cell) not in copies):
            continue  # a locked cell nbgrader puts back as released; an earlier copy of it runs as written
        if id(cell) in copies:
            grade_id = f"cell {index + 1} (a pasted copy of {grade_id})"
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        cells.append((grade_id if isinstance(grade_id, str) else f"cell {index + 1}", code, _without_strings(text)))
    patches = _checks_patterns("\n".join(bare for _, _, bare in cells))
    for where, code, bare in cells:
        if patches.search(bare) or _PATCHING_BY_NAME.search(code):
            patching.append(where)
        if _PEEKING.search(bare) or "gradebook" in code:  # the gradebook's path is a string
            peeking.append(where)
    notes = []
    if patching:
        notes.append(f"these cells look like they patch the checks the tests call: {', '.join(patching)}")
    if peeking:
        notes.append(
            "these cells read the kernel's input history or the gradebook, where the hidden tests are: "
            + ", ".join(peeking)
        )
    if markers:
        notes.append("the file holds ### BEGIN SOLUTION / BEGIN HIDDEN TESTS markers (a copy of the solutions?)")
    return notes


def _first_line(text: str, limit: int = 160) -> str:
    line = next((ln for ln in str(text).splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _read_outcome(autograded: Path) -> tuple[list[str], list[str], bool]:
    """(cells that timed out, failing tests and locked cells with their first error line, output truncated?)."""
    nb = nbformat.read(autograded, as_version=4)
    timed_out, failures, truncated = [], [], False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        name = meta.get("grade_id", f"cell {index + 1}")
        for out in cell.get("outputs", []):
            if out.output_type == "error" and out.ename in TIMEOUT_ERRORS:
                timed_out.append(name)
            elif out.output_type == "error" and (meta.get("grade") or meta.get("locked")):
                # tests, and the locked setup and training cells (e.g. MNIST missing on the grading machine)
                failures.append(f"{name}: {out.ename}: {_first_line(out.evalue)}")
            elif out.output_type == "stream" and "... Output truncated ..." in out.text:
                truncated = True
    return timed_out, failures, truncated


def _describe(
    timed_out: list[str], failures: list[str], truncated: bool, edited: list[str], deleted: list[str], limits: Limits
) -> tuple[str, str]:
    """Status and reason of a notebook that nbgrader autograded."""
    notes = []
    if timed_out:
        status = "cell-timeout"
        notes.append(f"cells over the {limits.cell_timeout} s limit (interrupted, scored 0): {', '.join(timed_out)}")
    else:
        status = "tests-restored" if edited or deleted else "graded"
    if edited or deleted:
        parts = [f"{what}: {', '.join(ids)}" for what, ids in (("edited", edited), ("deleted", deleted)) if ids]
        notes.append(f"locked cells restored from the solutions ({'; '.join(parts)}); graded with the original tests")
    if failures:
        notes.append("failed: " + " | ".join(failures))
    if truncated:
        notes.append(f"some output was cut to {limits.max_output_lines} lines")
    return status, "; ".join(notes)


def _scores(course: Path, notebook: str, student: str) -> tuple[dict[str, float], float, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission_notebook(notebook, notebook, student)
        tasks = {g.name: float(g.score) for g in sorted(sub.grades, key=lambda g: g.name)}
        return tasks, float(sub.score), float(sub.max_score)


def _max_scores(course: Path, notebook: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {c.name: float(c.max_score) for c in gb.find_notebook(notebook, notebook).grade_cells}


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _run_job(
    job: _Job,
    template: Path,
    maxima: dict[str, float],
    work: Path,
    out: Path,
    limits: Limits,
    env: dict,
    hidden: list[str],
    source: nbformat.NotebookNode,
) -> Row:
    course = work / "jobs" / f"{job.student_id}__{job.notebook}"
    # the learner's code runs in this folder's autograded/<student>/<notebook>/; grade() deletes the folder once the
    # row is made, so that the next learners' kernels do not find this learner's work
    shutil.copytree(template, course, ignore=shutil.ignore_patterns("*.log"))
    target = course / "submitted" / job.student_id / job.notebook / f"{job.notebook}.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copyfile(job.source, target)  # nbgrader only ever sees this copy
    log = out / "logs" / job.student_id / f"{job.notebook}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    row = Row(
        job.student_id,
        job.notebook,
        "error",
        0.0,
        sum(maxima.values()),
        {k: 0.0 for k in maxima},
        submitted_at=job.submitted_at,
        nbgrader_dir=job.nbgrader_dir,
    )
    release = nbformat.read(template / "release" / job.notebook / f"{job.notebook}.ipynb", as_version=4)
    edited, deleted, older = _tampering(job.submission, release, source)
    job_env = {**env, settings.CACHE_ENV: str(course / "cache")}
    deadline = time.monotonic() + limits.notebook_timeout
    state = _nbgrader(
        ["autograde", job.notebook, "--student", job.student_id, "--force"], course, job_env, log, deadline
    )
    if state == "timeout":
        row.status = "notebook-timeout"
        row.reason = _join(
            job.note,
            (
                f"the notebook ran longer than {limits.notebook_timeout} s and was stopped (per-cell limit "
                f"{limits.cell_timeout} s). Look for a loop or heavy training the learner added; rerun with a larger "
                "--notebook-timeout if the work is legitimate."
            ),
        )
        return row
    log_text = log.read_text(errors="replace")
    if state == "failed":
        if "DeadKernelError" in log_text or "Kernel died" in log_text:
            row.status = "kernel-died"
            row.reason = _join(
                job.note,
                (
                    "the Python kernel died while the notebook ran (os._exit, a crash in native code or running out "
                    "of memory), so nbgrader could not grade it. Run the notebook top to bottom to find the cell; "
                    f"the log is logs/{job.student_id}/{job.notebook}.log."
                ),
            )
        else:
            error = next((ln for ln in reversed(log_text.splitlines()) if "Error" in ln), "see the log")
            row.reason = _join(
                job.note,
                f"nbgrader autograde failed ({_first_line(error)}); see logs/{job.student_id}/{job.notebook}.log.",
            )
        return row
    row.tasks, row.score, row.max_score = _scores(course, job.notebook, job.student_id)
    autograded = course / "autograded" / job.student_id / job.notebook / f"{job.notebook}.ipynb"
    dest = out / "autograded" / job.student_id / f"{job.notebook}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(autograded, dest)
    row.status, outcome = _describe(*_read_outcome(autograded), edited, deleted, limits)
    if older:
        outcome = _join(
            f"locked cells from an older release (unchanged by the learner; graded with the current ones): "
            f"{', '.join(older)}",
            outcome,
        )
    status_before = row.status
    from cvae_course.tools.nbgrader_plugins import layout_kept

    if not layout_kept(job.submission, release):
        outcome = _join(
            outcome,
            "none of the handed-out answer cells were found (the work was typed into a new notebook?): the locked "
            "cells were put back after the learner's cells",
        )
    row.reason = _join(job.note, outcome)
    flags = _suspicious(job.submission, release)
    if flags:  # points kept: the checks are a heuristic read of the text; the instructor decides
        row.status = "flagged"
        row.reason = _join(
            "FLAGGED for review, points kept until you decide: " + "; ".join(flags) + f" (was {status_before})",
            row.reason,
        )
    state = _nbgrader(
        ["generate_feedback", job.notebook, "--student", job.student_id, "--force"],
        course,
        job_env,
        log,
        time.monotonic() + 300,
    )
    feedback = course / "feedback" / job.student_id / job.notebook / f"{job.notebook}.html"
    if state != "ok" or not feedback.is_file():
        error = next((ln for ln in reversed(log.read_text(errors="replace").splitlines()) if "Error" in ln), state)
        row.reason = _join(
            row.reason,
            (
                f"the detailed feedback page could not be made (nbgrader generate_feedback: {_first_line(error)}; see "
                f"logs/{job.student_id}/{job.notebook}.log); the learner's page shows the score of each task"
            ),
        )
        return row
    page = feedback.read_text(errors="replace")
    from cvae_course.tools.nbgrader_plugins import leaked_lines

    if leaked_lines(page, hidden):  # HideHiddenTests should make this impossible; never hand such a page out
        row.reason = _join(
            row.reason,
            "the detailed feedback page was withheld because it showed hidden-test code "
            "(a bug: please report it); the learner's page shows the score of each task",
        )
        return row
    _write_page(out, row, page)
    return row


# ------------------------------------------------------------------------------------ feedback pages
def _write_page(out: Path, row: Row, page: str) -> None:
    """``out/feedback/<student>/<notebook>.html``; for nbgrader's layout also what ``nbgrader release_feedback``
    reads: ``out/feedback/<student>/<notebook>/<notebook>.html`` beside the submission's timestamp and secret."""
    path = out / "feedback" / row.student_id / f"{row.notebook}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page)
    if row.nbgrader_dir is not None:
        folder = path.parent / row.notebook
        folder.mkdir(exist_ok=True)
        (folder / f"{row.notebook}.html").write_text(page)
        for name in ("timestamp.txt", "submission_secret.txt"):
            shutil.copyfile(row.nbgrader_dir / name, folder / name)


def _plain_page(row: Row, maxima: dict[str, float], misnamed: list[str]) -> str:
    """A short page for a learner whose notebook has no nbgrader feedback page: the score, the points of each task
    and what to do; never the grading machine's details."""
    text = LEARNER_TEXT.get(row.status, LEARNER_TEXT["error"])
    if row.status == "missing" and misnamed:
        text += (
            f" Found instead: {', '.join(misnamed)}. Name your notebook {row.notebook}.ipynb (as it was handed "
            "out) and submit again."
        )
    tasks = ""
    if row.tasks and row.status in {"graded", "tests-restored", "flagged", "cell-timeout"}:
        cells = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{points:g} / {maxima.get(name, 0):g}</td></tr>"
            for name, points in row.tasks.items()
        )
        tasks = f"<table><tr><th>task</th><th>points</th></tr>{cells}</table>"
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{0}</title></head><body><h1>{0}</h1>"
        "<p>Score: {1:g} / {2:g}</p>{3}<p>{4}</p></body></html>"
    ).format(html.escape(row.notebook), row.score, row.max_score, tasks, html.escape(text))


def _plain_feedback(out: Path, row: Row, maxima: dict[str, float], misnamed: list[str]) -> None:
    """Write the short page for a learner whose notebook has no nbgrader feedback page (or whose page was kept)."""
    if row.status == "wrong-name" or (out / "feedback" / row.student_id / f"{row.notebook}.html").exists():
        return
    _write_page(out, row, _plain_page(row, maxima, misnamed))


# ------------------------------------------------------------------------------------ grades.csv
def write_csv(rows: list[Row], path: Path, order: list[str] | None = None, keep: list[dict[str, str]] = ()) -> None:
    """grades.csv: student, notebook, status, score, maximum, submission time, one column per task (in
    ``order``, the course's task order; others after), reason. ``keep`` are rows of an earlier grades.csv
    (as :func:`read_csv` gives them) written unchanged, after dropping any that ``rows`` replace."""
    fresh = {(r.student_id, r.notebook) for r in rows}
    kept = [k for k in keep if (k.get("student_id"), k.get("notebook")) not in fresh]
    known = {t for r in rows for t in r.tasks} | {k for r in kept for k in r if k not in FIELDS + ["reason"]}
    tasks = [t for t in (order or []) if t in known] + sorted(known - set(order or []))
    table = [
        [r.student_id, r.notebook, r.status, f"{r.score:g}", f"{r.max_score:g}", r.submitted_at]
        + [f"{r.tasks[t]:g}" if t in r.tasks else "" for t in tasks]
        + [r.reason]
        for r in rows
    ]
    table += [[k.get(c, "") or "" for c in FIELDS + tasks + ["reason"]] for k in kept]
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS + tasks + ["reason"])
        writer.writerows(sorted(table, key=lambda line: (line[0], line[1])))


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a grades.csv as dictionaries (for scripts and tests)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _replaced(old: list[dict[str, str]], students: set[str], notebooks: list[str]) -> list[dict[str, str]]:
    """Rows of an earlier grades.csv that this run does not replace: other students, other notebooks."""
    return [
        r
        for r in old
        if not (r.get("student_id") in students and (r.get("notebook") in notebooks or r.get("status") == "wrong-name"))
    ]


# ------------------------------------------------------------------------------------ the batch
def grade(
    submissions: Path,
    out: Path,
    *,
    solutions: Path = SOLUTIONS,
    notebooks: list[str] | None = None,
    students: list[str] | None = None,
    jobs: int = 1,
    limits: Limits = Limits(),
    fast: bool = True,
    report: Callable[[str], None] = print,
) -> list[Row]:
    """Autograde every ``submissions/<student_id>/<notebook>.ipynb`` and write ``out/grades.csv`` and feedback.

    Args:
        submissions: one folder per student, holding ``<notebook>.ipynb`` (or nbgrader's
            ``<student>/<notebook>/<notebook>.ipynb``); only read, never changed.
        out: where ``grades.csv``, ``feedback/``, ``autograded/`` and ``logs/`` go (outside ``submissions``). An
            existing ``grades.csv`` there keeps its rows of other students and notebooks.
        solutions: the source notebooks in nbgrader's format (default: ``solutions/``).
        notebooks: grade only these notebook names (default: every notebook in ``solutions``).
        students: grade only these students (folder names; default: every student).
        jobs: notebooks graded in parallel.
        limits: seconds per cell, seconds per notebook and output lines per cell.
        fast: grade in the course's fast mode (small data, few epochs; what the tests are written for).
        report: called with one line per graded notebook.

    Returns the rows graded now, sorted by student and notebook.
    """
    need_nbgrader("grade")
    from cvae_course.tools.nbgrader_plugins import hidden_lines

    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    jobs = check_positive_int(jobs, "jobs")
    if out == submissions or submissions in out.parents:
        raise ValueError(
            f"out must be outside the submissions folder (got {out} inside {submissions}); "
            "otherwise the results would look like a student's folder next time"
        )
    course = _notebook_names(solutions)
    names = _notebook_names(solutions, notebooks)
    work_jobs, rows = collect(submissions, names, course, students)
    graded_students = {j.student_id for j in work_jobs} | {r.student_id for r in rows}
    out.mkdir(parents=True, exist_ok=True)
    old = read_csv(out / "grades.csv") if (out / "grades.csv").is_file() else []
    # nbgrader runs the `alembic` executable found on PATH: put this environment's scripts first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    # JUPYTER_NO_CONFIG: nbgrader reads only the throw-away course's nbgrader_config.py, never the instructor's
    # own (~/.jupyter, /etc/jupyter, JUPYTER_CONFIG_PATH), whose CourseDirectory.root would point it at their real
    # nbgrader course.
    env = {
        **os.environ,
        "PATH": path,
        settings.FAST_ENV: "1" if fast else "0",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONUNBUFFERED": "1",
        "JUPYTER_NO_CONFIG": "1",
    }
    originals = {n: nbformat.read(Path(solutions) / f"{n}.ipynb", as_version=4) for n in names}
    hidden = {n: hidden_lines(nb) for n, nb in originals.items()}
    misnamed = {  # (student, notebook): the student's misnamed files that look like that notebook
        (s, n): [
            r.notebook + ".ipynb"
            for r in rows
            if r.student_id == s and r.status == "wrong-name" and _looks_like(r.notebook + ".ipynb", names) == n
        ]
        for s in graded_students
        for n in names
    }
    with tempfile.TemporaryDirectory(prefix="cvae-course-grade-") as tmp:
        work = Path(tmp)
        needed = sorted({j.notebook for j in work_jobs} | {r.notebook for r in rows if r.status != "wrong-name"})
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            built = pool.map(lambda name: _template(work, name, solutions, limits, env), needed)
            templates = dict(zip(needed, built))
        maxima = {name: _max_scores(root, name) for name, root in templates.items()}
        for r in rows:  # ungraded rows still show what the notebook was worth
            if r.notebook in maxima:
                r.max_score, r.tasks = sum(maxima[r.notebook].values()), {k: 0.0 for k in maxima[r.notebook]}

        def run(job: _Job) -> Row:
            start = time.monotonic()
            try:
                row = _run_job(
                    job,
                    templates[job.notebook],
                    maxima[job.notebook],
                    work,
                    out,
                    limits,
                    env,
                    hidden[job.notebook],
                    originals[job.notebook],
                )
            except Exception as err:  # one broken job must not stop the batch
                row = Row(
                    job.student_id,
                    job.notebook,
                    "error",
                    reason=_join(
                        job.note,
                        f"grading failed on this machine ({type(err).__name__}: {_first_line(err)}); "
                        "fix the cause and regrade this student with --student",
                    ),
                    max_score=sum(maxima[job.notebook].values()),
                    tasks={k: 0.0 for k in maxima[job.notebook]},
                    submitted_at=job.submitted_at,
                    nbgrader_dir=job.nbgrader_dir,
                )
            finally:  # the next learners' kernels must not find this learner's work
                shutil.rmtree(work / "jobs" / f"{job.student_id}__{job.notebook}", ignore_errors=True)
            _plain_feedback(out, row, maxima[job.notebook], misnamed.get((row.student_id, row.notebook), []))
            flag = f" -- {row.reason.split(' (was ', 1)[0]}" if row.status == "flagged" else ""
            report(
                f"{row.student_id}/{row.notebook}: {row.status}, {row.score:g}/{row.max_score:g} "
                f"({time.monotonic() - start:.0f} s){flag}"
            )
            return row

        for job in work_jobs:  # a regrade must not leave an earlier page beside a newer grade
            for stale in (
                out / "feedback" / job.student_id / f"{job.notebook}.html",
                out / "feedback" / job.student_id / job.notebook,
            ):
                if stale.is_dir():
                    shutil.rmtree(stale)
                elif stale.exists():
                    stale.unlink()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rows += list(pool.map(run, work_jobs))
    for r in rows:
        if r.status != "wrong-name" and r.notebook in maxima:
            page = out / "feedback" / r.student_id / f"{r.notebook}.html"
            if page.exists() and r.status in {"missing", "invalid-notebook"}:
                page.unlink()  # an earlier run's page for a notebook that is gone now
            _plain_feedback(out, r, maxima[r.notebook], misnamed.get((r.student_id, r.notebook), []))
    write_csv(rows, out / "grades.csv", task_order(solutions), _replaced(old, graded_students, names))
    return sorted(rows, key=lambda r: (r.student_id, r.notebook))
