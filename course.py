#!/usr/bin/env python3
"""Set up the course and run it: ``python3 course.py lab`` or ``python3 course.py test``.

Both commands first make sure ``.venv/`` exists and holds the course with its dependencies (installed
from pyproject.toml; re-installed only when that file changes), then:

* ``lab``  opens the course in JupyterLab at the welcome lesson;
* ``test`` runs the whole test suite (extra arguments go to pytest, e.g. ``-k quality``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".cvae-course-installed"


def _run(cmd: list[str], **kw) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], **kw)


def setup() -> None:
    """Create .venv and install the course into it (editable, with the test extras)."""
    if sys.version_info < (3, 11):
        sys.exit(f"cvae-course needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PYTHON.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    print("Installing the course and its dependencies (a few minutes the first time) ...", flush=True)
    if _run([PYTHON, "-m", "pip", "install", "--upgrade", "pip"]) != 0:
        sys.exit("Upgrading pip failed; see the output above.")
    if _run([PYTHON, "-m", "pip", "install", "-e", f"{ROOT}[test]"]) != 0:
        sys.exit("Installing the course failed; see the output above (network? disk space?).")
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"lab", "test"}:
        print(__doc__)
        return 2
    setup()
    command, rest = argv[0], argv[1:]
    if command == "lab":
        return _run([BIN / "cvae-course", "lab", *rest])
    return _run([PYTHON, "-m", "pytest", *rest], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
