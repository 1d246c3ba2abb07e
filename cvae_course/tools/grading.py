"""Grade learners' notebooks with nbgrader's real autograde, without setting up an nbgrader course.

``grade(submissions, out)`` reads ``submissions/<student_id>/<notebook>.ipynb``, builds a throw-away
nbgrader course in a temporary folder whose source is ``solutions/``, and for each student and notebook
runs ``nbgrader autograde`` and ``nbgrader generate_feedback`` in their own copy of that course (so
``-j N`` jobs never share a gradebook). nbgrader restores every test cell from the solutions (edited or
deleted ones included) and puts the hidden tests back. The results go to ``out/grades.csv`` (one row per
student and notebook), ``out/feedback/<student>/<notebook>.html`` and, for a closer look,
``out/autograded/`` and ``out/logs/``.

A bad submission never stops the batch: it gets a row whose ``status`` says what happened and whose
``reason`` says what to do. The learners' files are only ever read.
"""

from __future__ import annotations

import csv
import difflib
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import nbformat

from cvae_course import settings
from cvae_course.tools import SOLUTIONS
from cvae_course.validation import check_positive_int

__all__ = ["FIELDS", "STATUSES", "Limits", "Row", "collect", "grade", "read_csv", "write_csv"]

STATUSES = {
    "graded": "autograded normally; the points are the learner's",
    "tests-restored": "autograded after restoring test cells the learner edited or deleted",
    "cell-timeout": "autograded, but a cell hit the per-cell time limit and scored 0",
    "notebook-timeout": "stopped at the per-notebook time limit; no points",
    "kernel-died": "the Python kernel died while running the notebook; no points",
    "invalid-notebook": "the file is not a readable notebook; no points",
    "wrong-name": "a notebook whose name is not one of the course's; not graded",
    "missing": "the student has no notebook of this name; no points",
    "error": "nbgrader failed for another reason; no points",
}
FIELDS = ["student_id", "notebook", "status", "score", "max_score"]
TIMEOUT_ERRORS = {"CellTimeoutError"}


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


# ------------------------------------------------------------------------------------ collecting
def _notebook_names(solutions: Path, only: list[str] | None) -> list[str]:
    names = sorted(p.stem for p in Path(solutions).glob("*.ipynb"))
    if not names:
        raise ValueError(f"solutions must hold the source notebooks (*.ipynb); found none in {solutions}")
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise ValueError(f"notebooks {unknown} are not in {solutions}; choose from {names}")
        names = [n for n in names if n in only]
    return names


def _read_submission(path: Path) -> tuple[nbformat.NotebookNode | None, str]:
    """The parsed notebook, or None and the reason it cannot be graded."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, (f"{path.name} is not UTF-8 text (byte {err.start}); it is not a notebook. "
                      "Ask the learner to download it again from Jupyter (File > Download) and resubmit.")
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return None, (f"{path.name} is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                      "it was probably damaged when copied or edited by hand. Ask the learner to download it "
                      "again from Jupyter (File > Download) and resubmit.")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as err:  # nbformat's own errors: not a notebook structure, unknown version ...
        return None, (f"{path.name} is JSON but not a Jupyter notebook ({type(err).__name__}: "
                      f"{str(err).splitlines()[0][:200]}). Ask the learner to resubmit the .ipynb from Jupyter.")
    if not isinstance(nb.get("cells"), list):
        return None, f"{path.name} has no list of cells; ask the learner to resubmit the .ipynb from Jupyter."
    return nb, ""


def collect(submissions: Path, notebooks: list[str]) -> tuple[list[_Job], list[Row]]:
    """Jobs to autograde and rows for what cannot be graded (missing, misnamed, unreadable)."""
    submissions = Path(submissions)
    if not submissions.is_dir():
        raise ValueError(f"submissions must be a folder of <student_id>/<notebook>.ipynb, got {submissions}")
    jobs: list[_Job] = []
    rows: list[Row] = []
    wanted = {f"{n}.ipynb": n for n in notebooks}
    for student_dir in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        student = student_dir.name
        found = set()
        # <student>/<notebook>.ipynb, or nbgrader's submitted/<student>/<assignment>/<notebook>.ipynb layout
        nested = [p for p in sorted(student_dir.glob("*/*.ipynb")) if p.parent.name == p.stem]
        for path in sorted(student_dir.glob("*.ipynb")) + nested:
            if wanted.get(path.name) in found:
                continue
            name = wanted.get(path.name)
            if name is None:
                close = difflib.get_close_matches(path.name, list(wanted), n=1, cutoff=0.6)
                guess = f"; it looks like {close[0]}: rename it and grade again" if close else ""
                rows.append(Row(student, path.stem, "wrong-name", reason=(
                    f"{path.name} is not one of the notebooks being graded ({', '.join(wanted)}){guess}.")))
                continue
            found.add(name)
            nb, problem = _read_submission(path)
            if nb is None:
                rows.append(Row(student, name, "invalid-notebook", reason=problem))
            else:
                jobs.append(_Job(student, name, path, nb))
        for name in notebooks:
            if name not in found:
                misnamed = [r.notebook for r in rows if r.student_id == student and r.status == "wrong-name"]
                extra = f" (but see {', '.join(m + '.ipynb' for m in misnamed)})" if misnamed else ""
                rows.append(Row(student, name, "missing", reason=f"no {name}.ipynb in {student_dir.name}/{extra}."))
    return jobs, rows


# ------------------------------------------------------------------------------------ the course
def _config(limits: Limits) -> str:
    return "\n".join([
        "# Written by cvae-course grade: nbgrader settings of this grading run.",
        "c = get_config()",
        "c.CourseDirectory.course_id = 'cvae-course'",
        f"c.Execute.timeout = {limits.cell_timeout}",
        "c.Execute.startup_timeout = 180",
        "c.Execute.iopub_timeout = 30",
        "c.Execute.raise_on_iopub_timeout = False",
        "c.OverwriteCells.add_missing_cells = True",
        f"c.LimitOutput.max_lines = {limits.max_output_lines}",
        "c.LimitOutput.max_traceback = 100",
        "# Feedback shows the tests' results, not the hidden tests' code (the next cohort gets the same tests).",
        "from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor",
        "from nbgrader.preprocessors import ClearHiddenTests, GetGrades",
        "c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]",
        "",
    ])


def _nbgrader(args: list[str], cwd: Path, env: dict, log: Path, deadline: float) -> str:
    """Run an nbgrader command; returns 'ok', 'failed' or 'timeout' (the whole process tree is killed)."""
    import psutil

    with open(log, "ab") as out:
        out.write(f"$ nbgrader {' '.join(args)}\n".encode())
        out.flush()
        proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
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
    """A course with one assignment named like the notebook, generated by nbgrader (gradebook included)."""
    root = work / "templates" / notebook
    (root / "source" / notebook).mkdir(parents=True)
    shutil.copyfile(Path(solutions) / f"{notebook}.ipynb", root / "source" / notebook / f"{notebook}.ipynb")
    (root / "nbgrader_config.py").write_text(_config(limits))
    log = root / "generate_assignment.log"
    state = _nbgrader(["generate_assignment", notebook, "--force"], root, env, log, time.monotonic() + 300)
    if state != "ok":
        raise RuntimeError(f"nbgrader generate_assignment failed for {notebook}; see the log:\n{log.read_text()}")
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


def _tampering(submission: nbformat.NotebookNode, release: nbformat.NotebookNode,
               source: nbformat.NotebookNode) -> tuple[list[str], list[str]]:
    """(edited, deleted) grade ids of locked cells: missing from the submission, or unlike both the
    released cell and the solutions' cell (an instructor may submit a solution notebook itself)."""
    given = _locked_cells(submission)
    originals = _locked_cells(source)
    edited, deleted = [], []
    for grade_id, text in _locked_cells(release).items():
        if grade_id not in given:
            deleted.append(grade_id)
        elif given[grade_id].strip() not in {text.strip(), originals.get(grade_id, "").strip()}:
            edited.append(grade_id)
    return edited, deleted


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


def _describe(timed_out: list[str], failures: list[str], truncated: bool, edited: list[str], deleted: list[str],
              limits: Limits) -> tuple[str, str]:
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


def _run_job(job: _Job, template: Path, maxima: dict[str, float], work: Path, out: Path, limits: Limits,
             env: dict) -> Row:
    course = work / "jobs" / f"{job.student_id}__{job.notebook}"
    shutil.copytree(template, course, ignore=shutil.ignore_patterns("*.log"))
    target = course / "submitted" / job.student_id / job.notebook / f"{job.notebook}.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copyfile(job.source, target)  # nbgrader only ever sees this copy
    log = out / "logs" / job.student_id / f"{job.notebook}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    row = Row(job.student_id, job.notebook, "error", 0.0, sum(maxima.values()), {k: 0.0 for k in maxima})
    release = nbformat.read(template / "release" / job.notebook / f"{job.notebook}.ipynb", as_version=4)
    source = nbformat.read(template / "source" / job.notebook / f"{job.notebook}.ipynb", as_version=4)
    edited, deleted = _tampering(job.submission, release, source)
    job_env = {**env, settings.CACHE_ENV: str(course / "cache")}
    deadline = time.monotonic() + limits.notebook_timeout
    state = _nbgrader(["autograde", job.notebook, "--student", job.student_id, "--force"], course, job_env, log, deadline)
    if state == "timeout":
        row.status = "notebook-timeout"
        row.reason = (f"the notebook ran longer than {limits.notebook_timeout} s and was stopped (per-cell limit "
                      f"{limits.cell_timeout} s). Look for a loop or heavy training the learner added; rerun "
                      "with a larger --notebook-timeout if the work is legitimate.")
        return row
    log_text = log.read_text(errors="replace")
    if state == "failed":
        if "DeadKernelError" in log_text or "Kernel died" in log_text:
            row.status = "kernel-died"
            row.reason = ("the Python kernel died while the notebook ran (os._exit, a crash in native code "
                          "or running out of memory), so nbgrader could not grade it. Run the notebook "
                          f"top to bottom to find the cell; the log is logs/{job.student_id}/{job.notebook}.log.")
        else:
            error = next((ln for ln in reversed(log_text.splitlines()) if "Error" in ln), "see the log")
            row.reason = f"nbgrader autograde failed ({_first_line(error)}); see logs/{job.student_id}/{job.notebook}.log."
        return row
    row.tasks, row.score, row.max_score = _scores(course, job.notebook, job.student_id)
    autograded = course / "autograded" / job.student_id / job.notebook / f"{job.notebook}.ipynb"
    dest = out / "autograded" / job.student_id / f"{job.notebook}.ipynb"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(autograded, dest)
    row.status, row.reason = _describe(*_read_outcome(autograded), edited, deleted, limits)
    if _nbgrader(["generate_feedback", job.notebook, "--student", job.student_id, "--force"], course, job_env, log,
                 time.monotonic() + 300) == "ok":
        feedback = course / "feedback" / job.student_id / job.notebook / f"{job.notebook}.html"
        if feedback.is_file():
            target = out / "feedback" / job.student_id / f"{job.notebook}.html"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(feedback, target)
    return row


def _plain_feedback(out: Path, row: Row) -> None:
    """A short HTML page for a learner whose notebook could not be autograded."""
    path = out / "feedback" / row.student_id / f"{row.notebook}.html"
    if path.exists() or row.status == "wrong-name":
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{0}</title></head><body>"
        "<h1>{0}</h1><p>Score: {1:g} / {2:g}</p><p>This notebook could not be graded automatically "
        "({3}).</p><p>{4}</p></body></html>".format(
            html.escape(row.notebook), row.score, row.max_score, html.escape(STATUSES[row.status]),
            html.escape(row.reason)))


# ------------------------------------------------------------------------------------ the batch
def write_csv(rows: list[Row], path: Path) -> None:
    """grades.csv: student, notebook, status, score, maximum, one column per task, reason."""
    tasks = sorted({t for r in rows for t in r.tasks})
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS + tasks + ["reason"])
        for r in sorted(rows, key=lambda r: (r.student_id, r.notebook)):
            writer.writerow([r.student_id, r.notebook, r.status, f"{r.score:g}", f"{r.max_score:g}"]
                            + [f"{r.tasks[t]:g}" if t in r.tasks else "" for t in tasks] + [r.reason])


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a grades.csv as dictionaries (for scripts and tests)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def grade(
    submissions: Path,
    out: Path,
    *,
    solutions: Path = SOLUTIONS,
    notebooks: list[str] | None = None,
    jobs: int = 1,
    limits: Limits = Limits(),
    fast: bool = True,
    report: Callable[[str], None] = print,
) -> list[Row]:
    """Autograde every ``submissions/<student_id>/<notebook>.ipynb`` and write ``out/grades.csv`` and feedback.

    Args:
        submissions: one folder per student, holding ``<notebook>.ipynb`` (or nbgrader's
            ``<student>/<notebook>/<notebook>.ipynb``); only read, never changed.
        out: where ``grades.csv``, ``feedback/``, ``autograded/`` and ``logs/`` go (outside ``submissions``).
        solutions: the source notebooks in nbgrader's format (default: ``solutions/``).
        notebooks: grade only these notebook names (default: every notebook in ``solutions``).
        jobs: notebooks graded in parallel.
        limits: seconds per cell, seconds per notebook and output lines per cell.
        fast: grade in the course's fast mode (small data, few epochs; what the tests are written for).
        report: called with one line per graded notebook.

    Returns the rows of ``grades.csv``, sorted by student and notebook.
    """
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    jobs = check_positive_int(jobs, "jobs")
    if out == submissions or submissions in out.parents:
        raise ValueError(f"out must be outside the submissions folder (got {out} inside {submissions}); "
                         "otherwise the results would look like a student's folder next time")
    names = _notebook_names(solutions, notebooks)
    work_jobs, rows = collect(submissions, names)
    out.mkdir(parents=True, exist_ok=True)
    # nbgrader runs the `alembic` executable found on PATH: put this environment's scripts first.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "PATH": path, settings.FAST_ENV: "1" if fast else "0", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONUNBUFFERED": "1"}
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
                row = _run_job(job, templates[job.notebook], maxima[job.notebook], work, out, limits, env)
            except Exception as err:  # one broken job must not stop the batch
                row = Row(job.student_id, job.notebook, "error", reason=f"{type(err).__name__}: {_first_line(err)}",
                          max_score=sum(maxima[job.notebook].values()),
                          tasks={k: 0.0 for k in maxima[job.notebook]})
            report(f"{row.student_id}/{row.notebook}: {row.status}, {row.score:g}/{row.max_score:g} "
                   f"({time.monotonic() - start:.0f} s)")
            return row

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            rows += list(pool.map(run, work_jobs))
    for r in rows:
        _plain_feedback(out, r)
    write_csv(rows, out / "grades.csv")
    return sorted(rows, key=lambda r: (r.student_id, r.notebook))
