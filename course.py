#!/usr/bin/env python3
"""Set up the course in .venv/ from the lock and run it.

    python3 course.py lab [JUPYTER LAB OPTIONS]         open the course in JupyterLab (learners)
    python3 course.py test [PYTEST OPTIONS]             run the whole test suite (developers)
    python3 course.py instructor [JUPYTER LAB OPTIONS]  JupyterLab with nbgrader's tools (instructors)
    python3 course.py site [--fast] [--executed DIR]    build the course site into _build/site/html
    python3 course.py lock [--upgrade]                  refresh uv.lock, requirements/*.txt and environment.yml
    python3 course.py format                            ruff: fix what it can and format the code and notebooks

Each command first makes sure that .venv/ holds exactly the locked packages (requirements/<set>.txt, exported
from uv.lock) of the set it needs, plus the course itself (editable):

* learner    (lab): the course: TensorFlow, Keras, JupyterLab, ipywidgets ... and no nbgrader;
* instructor (instructor): the learner set and nbgrader with its JupyterLab extensions;
* dev        (test, site, lock, format): the instructor set, the site tools and the test and lint tools.

A larger set, once installed, stays (`lab` after `test` keeps the dev set), and `lab` always hides nbgrader's tools.
The installer is uv, itself installed from the lock with pip. Its output goes to .venv/install.log, shown only when
something fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
UV = BIN / ("uv.exe" if os.name == "nt" else "uv")
STAMP = VENV / ".cvae-course-installed"
LOG = VENV / "install.log"
REQUIREMENTS = ROOT / "requirements"

SETS = ("learner", "instructor", "dev")  # each holds the one before it
NEEDS = {"lab": "learner", "instructor": "instructor", "test": "dev", "site": "dev", "lock": "dev", "format": "dev"}
PYTHONS = ((3, 11), (3, 13))  # what the lock covers: the Python versions TensorFlow ships wheels for


class Phase:
    """One line of progress: what is being done, then how it ended and how long it took.

    On a terminal the line counts the seconds while the step runs; in a log (CI) it is printed once at the start
    and once at the end."""

    def __init__(self, number: int, total: int, text: str) -> None:
        self.label = f"[{number}/{total}] {text}"
        self.tty = sys.stdout.isatty()
        self.start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._tick, daemon=True) if self.tty else None

    def __enter__(self) -> Phase:
        print(self.label + (" ..." if not self.tty else ""), end="" if self.tty else "\n", flush=True)
        if self._thread:
            self._thread.start()
        return self

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            print(f"\r{self.label} ... {time.monotonic() - self.start:.0f} s", end="", flush=True)

    def __exit__(self, kind, error, trace) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        seconds = time.monotonic() - self.start
        verdict = "done" if kind is None else "FAILED"
        print(f"\r{self.label}: {verdict} in {seconds:.0f} s" + " " * 8, flush=True)


def _logged(cmd: list, what: str) -> None:
    """Run ``cmd`` with its output appended to the install log; on failure, stop with the log's last lines."""
    with open(LOG, "a") as log:
        log.write(f"\n$ {' '.join(str(c) for c in cmd)}\n")
        log.flush()
        code = subprocess.call(
            [str(c) for c in cmd], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    if code != 0:
        tail = LOG.read_text(errors="replace").splitlines()[-25:]
        sys.exit(
            f"\n{what} failed (exit code {code}). The full log is {LOG}; its last lines:\n  "
            + "\n  ".join(tail)
            + "\n(Network down? Disk full? Delete .venv/ and run the command again.)"
        )


def _requirements(name: str) -> Path:
    path = REQUIREMENTS / f"{name}.txt"
    if not path.is_file():
        sys.exit(f"{path} is missing: this clone has no lock for the {name} set (run `python3 course.py lock`).")
    return path


def _digest(*paths: Path) -> str:
    return hashlib.sha256(b"".join(p.read_bytes() for p in paths)).hexdigest()


def _installed() -> dict:
    try:
        return json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return {}


def _locked_entry(requirements: Path, name: str) -> str:
    """The lines of ``name``'s entry (pin, markers and hashes) in a requirements file exported by uv."""
    lines = requirements.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f"{name}=="):
            entry = [line]
            for more in lines[i + 1 :]:
                if not more.startswith("    --hash="):
                    break
                entry.append(more)
            return "\n".join(entry) + "\n"
    sys.exit(f"{requirements} does not pin {name}; run `python3 course.py lock`.")


def _count_packages(requirements: Path) -> int:
    return sum(1 for line in requirements.read_text().splitlines() if line and line[0].isalnum() and "==" in line)


def setup(command: str = "test") -> None:
    """Make .venv/ hold the locked set that ``command`` needs (or the larger one already there), and the course."""
    version = sys.version_info[:2]
    if not PYTHONS[0] <= version <= PYTHONS[1]:
        low, high = (".".join(map(str, v)) for v in PYTHONS)
        sys.exit(
            f"cvae-course installs from a lock made for Python {low} to {high} (the versions TensorFlow has "
            f"wheels for); this is Python {sys.version.split()[0]}. Run this file with one of those, e.g. "
            f"`python{low} course.py {command}`."
        )
    wanted = NEEDS[command]
    have = _installed()
    target = max(wanted, have.get("set", wanted), key=SETS.index)
    requirements = _requirements(target)
    fingerprint = _digest(requirements, ROOT / "pyproject.toml")
    if PYTHON.exists() and have.get("set") == target and have.get("fingerprint") == fingerprint:
        return

    steps = 3 + (not PYTHON.exists())
    step = 0
    if not PYTHON.exists():
        step += 1
        with Phase(step, steps, f"Creating the virtual environment .venv/ (Python {sys.version.split()[0]})"):
            venv.EnvBuilder(with_pip=True).create(VENV)
    LOG.write_text(f"cvae-course install log, {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    STAMP.unlink(missing_ok=True)

    step += 1
    with Phase(step, steps, "Installing uv, the installer, from the lock (with pip)"):
        pin = VENV / "uv-requirement.txt"
        pin.write_text(_locked_entry(requirements, "uv"))
        _logged(
            [
                PYTHON,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--no-deps",
                "-r",
                pin,
            ],
            "Installing uv",
        )

    step += 1
    count = _count_packages(requirements)
    with Phase(
        step,
        steps,
        f"Installing the {target} set ({count} packages pinned in {requirements.relative_to(ROOT)}; "
        "a minute or two the first time)",
    ):
        _logged(
            [
                UV,
                "pip",
                "sync",
                "--python",
                PYTHON,
                "--require-hashes",
                "--compile-bytecode",
                "--no-progress",
                requirements,
            ],
            "Installing the locked packages",
        )

    step += 1
    with Phase(step, steps, "Installing the course itself (editable)"):
        _logged(
            [
                UV,
                "pip",
                "install",
                "--python",
                PYTHON,
                "--no-deps",
                "--no-build-isolation",
                "--no-progress",
                "-e",
                ROOT,
            ],
            "Installing the course",
        )
    STAMP.write_text(json.dumps({"set": target, "fingerprint": fingerprint}))


def _run(cmd: list, **kw) -> int:
    return subprocess.call([str(c) for c in cmd], **kw)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in NEEDS:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    setup(command)
    if command == "lab":
        print("Starting JupyterLab at the welcome lesson (Ctrl+C twice to stop) ...", flush=True)
        return _run([BIN / "cvae-course", "lab", *rest])
    if command == "instructor":
        print("Starting JupyterLab with nbgrader's tools (Ctrl+C twice to stop) ...", flush=True)
        return _run([BIN / "cvae-course", "lab", "--instructor", *rest])
    if command == "test":
        print("Running the test suite with pytest (fast mode) ...", flush=True)
        return _run([PYTHON, "-m", "pytest", *rest], cwd=ROOT)
    if command == "site":
        return _run([PYTHON, "-m", "cvae_course.tools.site", *rest], cwd=ROOT)
    if command == "format":
        _run([BIN / "ruff", "check", "--fix", "--quiet", "."], cwd=ROOT)
        code = _run([BIN / "ruff", "format", "."], cwd=ROOT)
        code |= _run([BIN / "ruff", "check", "."], cwd=ROOT)  # what is left for a person (e.g. a long string)
        return code | _run([BIN / "cvae-course", "release"], cwd=ROOT)  # exercises/ follow the formatted solutions
    code = _run([PYTHON, "-m", "cvae_course.tools.lock", *rest], cwd=ROOT)  # lock
    if code == 0:
        setup(command)  # install what the new lock says
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
