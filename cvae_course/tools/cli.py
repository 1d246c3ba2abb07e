"""The cvae-course command: lab opens the course; release, grade, refresh and report serve instructors and maintainers.

Building the parser imports nothing heavy (no TensorFlow, no nbgrader, no nbformat): each subcommand imports what it
needs when it runs, so ``cvae-course --help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from cvae_course.tools import EXERCISES, NOTEBOOKS, ROOT, SOLUTIONS

__all__ = ["build_parser", "lab_command", "learner_environment", "main"]


LEARNER_JUPYTER = Path(__file__).with_name("learner_jupyter")


def learner_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the learners' Jupyter configuration first on ``JUPYTER_CONFIG_PATH``: nbgrader's JupyterLab and
    server extensions off (no Nbgrader menu, Create Assignment, Validate or Formgrader), wherever nbgrader is installed."""
    env = dict(env)
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(filter(None, [str(LEARNER_JUPYTER), env.get("JUPYTER_CONFIG_PATH")]))
    return env


# Options that choose where JupyterLab opens. A learner's root replaces the course's (traitlets refuses a second
# root_dir); any of them replaces the welcome lesson, which need not lie under the learner's folder.
_ROOT_OPTIONS = ("--ServerApp.root_dir", "--ServerApp.notebook_dir", "--notebook-dir")
_WHERE_OPTIONS = (*_ROOT_OPTIONS, "--ServerApp.preferred_dir")


def _given(jupyter_args: list[str], options: tuple[str, ...]) -> bool:
    return any(arg.split("=", 1)[0] in options for arg in jupyter_args)


def lab_command(jupyter_args: list[str]) -> list[str]:
    """The ``jupyter lab`` command that ``cvae-course lab`` runs: the course's root, the welcome lesson, then
    ``jupyter_args`` (e.g. ``--port 8899``). A learner's ``--ServerApp.root_dir`` or ``--notebook-dir`` replaces the
    course's root, and with ``--ServerApp.preferred_dir`` too JupyterLab opens there instead of at the welcome lesson.
    """
    cmd = [sys.executable, "-m", "jupyter", "lab"]
    if not _given(jupyter_args, _ROOT_OPTIONS):
        cmd.append(f"--ServerApp.root_dir={ROOT}")
    start = NOTEBOOKS / "00_welcome.ipynb"
    if start.exists() and not _given(jupyter_args, _WHERE_OPTIONS):
        cmd.append(str(start.relative_to(ROOT)))
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        cmd.append("--ServerApp.allow_root=True")
    return cmd + list(jupyter_args)


def _lab(args: argparse.Namespace) -> int:
    if not NOTEBOOKS.is_dir():
        print(
            f"No notebooks/ folder next to the package ({NOTEBOOKS}); run this from a clone of the course "
            "installed with `pip install -e .`.",
            file=sys.stderr,
        )
        return 2
    env = os.environ.copy() if args.instructor else learner_environment(os.environ)
    # A learner's own root: their relative folders mean folders under their working directory, as with `jupyter
    # lab`. Without one the root stays the course's, and a relative preferred_dir (which must lie inside the root)
    # means a folder of the course, e.g. --ServerApp.preferred_dir=notebooks.
    cwd = None if _given(args.jupyter_args, _ROOT_OPTIONS) else ROOT
    return subprocess.call(lab_command(args.jupyter_args), cwd=cwd, env=env)


def _release(args: argparse.Namespace) -> int:
    from cvae_course.tools import need_nbgrader

    try:
        need_nbgrader("release")
    except RuntimeError as err:
        print(f"cvae-course release: {err}", file=sys.stderr)
        return 2
    from cvae_course.tools import release

    if args.check:
        stale = release.stale_exercises(args.solutions, args.exercises)
        if stale:
            print(f"exercises/ is out of date: {', '.join(stale)}. Run `cvae-course release`.")
            return 1
        print("exercises/ matches solutions/.")
        return 0
    for path in release.release(args.solutions, args.exercises):
        print(f"wrote {path}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from cvae_course.tools import grading

    try:
        limits = grading.Limits(args.cell_timeout, args.notebook_timeout, args.max_output_lines)
        rows = grading.grade(
            args.submissions,
            args.out,
            solutions=args.solutions,
            notebooks=args.notebook,
            students=args.student,
            jobs=args.jobs,
            limits=limits,
            fast=not args.full,
        )
    except (ValueError, RuntimeError) as err:  # bad arguments, no nbgrader, or solutions nbgrader cannot generate from
        print(f"cvae-course grade: {err}", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(
        f"{len(rows)} rows graded ({summary}) -> {Path(args.out) / 'grades.csv'}; "
        f"feedback in {Path(args.out) / 'feedback'}"
    )
    return 0


def _refresh(args: argparse.Namespace) -> int:
    import nbformat

    from cvae_course.tools import notebook_state

    paths = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    status = 0
    for path in paths:
        if not Path(path).is_file():
            print(f"{path}: no such notebook", file=sys.stderr)
            status = 1
            continue
        if args.check:
            found = notebook_state.problems(nbformat.read(path, as_version=4))
        else:
            found = notebook_state.refresh(path, timeout=args.timeout)
        for line in found:
            print(f"{path}: {line}")
        status |= bool(found)
        if not found:
            print(f"{path}: ok")
    return status


def _report(args: argparse.Namespace) -> int:
    from cvae_course.tools import report

    return report.main_report(args)


def build_parser() -> argparse.ArgumentParser:
    """The ``cvae-course`` argument parser: ``lab``, ``release``, ``grade``, ``refresh`` and ``report``."""
    parser = argparse.ArgumentParser(prog="cvae-course", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser(
        "lab",
        help="open the course in JupyterLab (other options go to `jupyter lab`)",
        description="Open the course in JupyterLab at the welcome lesson. Every option not listed here goes to "
        "`jupyter lab` (e.g. --port 8899, --no-browser); --ServerApp.root_dir, --notebook-dir or "
        "--ServerApp.preferred_dir replace the course's own folder and welcome lesson (a root relative to where you are, "
        "a preferred_dir inside the root: relative to the course's folder unless you give a root).",
    )
    lab.add_argument(
        "--instructor",
        action="store_true",
        help="show nbgrader's tools (Nbgrader menu, Create Assignment, Formgrader), hidden from learners",
    )
    lab.set_defaults(func=_lab, passes_extra_args=True)

    release = sub.add_parser("release", help="generate exercises/ from solutions/ with nbgrader's preprocessors")
    release.add_argument("--solutions", type=Path, default=SOLUTIONS, help="source notebooks (default: solutions/)")
    release.add_argument("--exercises", type=Path, default=EXERCISES, help="output folder (default: exercises/)")
    release.add_argument("--check", action="store_true", help="only report whether exercises/ is up to date")
    release.set_defaults(func=_release)

    grade = sub.add_parser("grade", help="autograde SUBMISSIONS/<student_id>/<notebook>.ipynb with nbgrader")
    grade.add_argument("submissions", type=Path, help="folder with one sub-folder of notebooks per student")
    grade.add_argument("--out", type=Path, required=True, help="where grades.csv and feedback/ go")
    grade.add_argument("-j", "--jobs", type=int, default=1, help="notebooks graded in parallel (default 1)")
    grade.add_argument("--notebook", action="append", help="grade only this notebook (repeatable), e.g. 01_autoencoder")
    grade.add_argument(
        "--student",
        action="append",
        help="grade only this student's folder (repeatable); their rows "
        "replace their old ones in an existing grades.csv",
    )
    grade.add_argument("--solutions", type=Path, default=SOLUTIONS, help="source notebooks (default: solutions/)")
    grade.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    grade.add_argument("--notebook-timeout", type=int, default=900, help="seconds per notebook (default 900)")
    grade.add_argument("--max-output-lines", type=int, default=1000, help="output lines kept per cell (default 1000)")
    grade.add_argument("--full", action="store_true", help="grade in full mode (all data, more epochs; slower)")
    grade.set_defaults(func=_grade)

    refresh = sub.add_parser(
        "refresh",
        help="re-run lessons in fast mode and store them as committed: outputs "
        "cleared except the cells tagged nbval-check-output",
    )
    refresh.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to refresh (default: every lesson in notebooks/)"
    )
    refresh.add_argument(
        "--check",
        action="store_true",
        help="only report what keeps a notebook from its committed state; change nothing",
    )
    refresh.add_argument("--timeout", type=int, default=1200, help="seconds per cell (default 1200)")
    refresh.set_defaults(func=_refresh)

    report = sub.add_parser(
        "report",
        help="run every lesson in full mode, in order, each in a fresh kernel, from an "
        "empty model cache; write docs/full-course-report.md (times, claims, "
        "errors) and the README's time statements; exit 1 unless every claim held",
    )
    report.add_argument(
        "notebooks",
        nargs="*",
        type=Path,
        help="run only these notebooks, in this order (default: "
        "every lesson in notebooks/; then the README is "
        "left alone)",
    )
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the markdown report; a .json sidecar goes next to it (default: docs/full-course-report.md)",
    )
    report.add_argument("--executed", type=Path, help="also save the executed notebooks in this folder")
    report.add_argument(
        "--keep-cache",
        action="store_true",
        help="use the model cache as it is (CVAE_COURSE_CACHE) instead of an empty one: cached models load, not train",
    )
    report.add_argument(
        "--cell-timeout",
        type=int,
        default=900,
        help="seconds before a cell is interrupted and recorded as a time-out (default 900)",
    )
    report.add_argument(
        "--fast",
        action="store_true",
        help="run in fast mode (for trying the tool; the report says so and the README is left alone)",
    )
    report.add_argument(
        "--no-readme", dest="readme", action="store_false", help="do not rewrite the README's time statements"
    )
    report.set_defaults(func=_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``cvae-course`` command with ``argv`` (default: the command line); returns the exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passes_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.jupyter_args = extra
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
