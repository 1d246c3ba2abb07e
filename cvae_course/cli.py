"""The ``cvae-course`` command: ``lab`` opens the course; other subcommands serve instructors."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def _lab(args: argparse.Namespace) -> int:
    if not NOTEBOOKS.is_dir():
        print(f"No notebooks/ folder next to the package ({NOTEBOOKS}); run this from a clone of the course "
              "installed with `pip install -e .`.", file=sys.stderr)
        return 2
    start = NOTEBOOKS / "00_welcome.ipynb"
    cmd = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT}"]
    if start.exists():
        cmd.append(str(start.relative_to(ROOT)))
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        cmd.append("--ServerApp.allow_root=True")
    cmd += args.jupyter_args
    return subprocess.call(cmd, cwd=ROOT, env=os.environ.copy())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cvae-course", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lab = sub.add_parser("lab", help="open the course in JupyterLab (other options go to `jupyter lab`)")
    lab.set_defaults(func=_lab, passes_extra_args=True)
    _add_instructor_commands(sub)
    return parser


def _release(args: argparse.Namespace) -> int:
    from cvae_course import exercises

    if args.check:
        stale = exercises.stale_exercises(args.solutions, args.exercises)
        if stale:
            print(f"exercises/ is out of date: {', '.join(stale)}. Run `cvae-course release`.")
            return 1
        print("exercises/ matches solutions/.")
        return 0
    for path in exercises.release(args.solutions, args.exercises):
        print(f"wrote {path}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from cvae_course import grading

    try:
        limits = grading.Limits(args.cell_timeout, args.notebook_timeout, args.max_output_lines)
        rows = grading.grade(args.submissions, args.out, solutions=args.solutions, notebooks=args.notebook,
                             jobs=args.jobs, limits=limits, fast=not args.full)
    except (ValueError, RuntimeError) as err:  # bad arguments, or solutions nbgrader cannot generate from
        print(f"cvae-course grade: {err}", file=sys.stderr)
        return 2
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status] = counts.get(row.status, 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"{len(rows)} rows ({summary}) -> {Path(args.out) / 'grades.csv'}; feedback in {Path(args.out) / 'feedback'}")
    return 0


def _add_instructor_commands(sub) -> None:
    from cvae_course.exercises import EXERCISES, SOLUTIONS

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
    grade.add_argument("--solutions", type=Path, default=SOLUTIONS, help="source notebooks (default: solutions/)")
    grade.add_argument("--cell-timeout", type=int, default=120, help="seconds per cell (default 120)")
    grade.add_argument("--notebook-timeout", type=int, default=900, help="seconds per notebook (default 900)")
    grade.add_argument("--max-output-lines", type=int, default=1000, help="output lines kept per cell (default 1000)")
    grade.add_argument("--full", action="store_true", help="grade in full mode (all data, more epochs; slower)")
    grade.set_defaults(func=_grade)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passes_extra_args", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.jupyter_args = extra
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
