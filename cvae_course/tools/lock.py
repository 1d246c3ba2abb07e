"""The lock: the exact version and hashes of every package each install uses, made by uv from pyproject.toml.

pyproject.toml keeps ranges (``tensorflow>=2.16``): what the course works with. The stored reference outputs that
nbval compares, the claims and the timings depend on exact versions, so every install uses the lock instead:

* ``uv.lock``: uv's universal lock of all sets at once (one version per package per Python, shared by every set),
  for Linux (x86-64 and aarch64), macOS on Apple silicon and Windows (x86-64), Python 3.11 to 3.13 (pyproject's
  ``[tool.uv] environments``; TensorFlow has no wheels beyond 3.13);
* ``requirements/<set>.txt``: each set exported from it for ``uv pip sync`` and ``pip install --require-hashes``
  (pins, environment markers and sha256 hashes): ``learner`` (the course), ``instructor`` (+ nbgrader),
  ``dev`` (+ the site and the test and lint tools); each also pins the ``bootstrap`` group (pip, setuptools, uv);
* ``environment.yml``: conda and Binder: Python 3.11 and the learner set's pins as they apply on Linux x86-64.

``python3 course.py lock`` re-locks after a change to pyproject.toml (keeping every other pin);
``python3 course.py lock --upgrade`` moves every pin to the newest version the ranges allow. Both rewrite all of the
files above; commit them together with pyproject.toml. :func:`problems` is what the tests check: the files agree
with each other and with pyproject.toml.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from cvae_course.tools import ROOT

__all__ = ["BINDER", "SETS", "environment_yml", "pins", "problems", "refresh", "yml_pins"]

# Each set: the extras it installs (the base dependencies always; the bootstrap group always).
SETS = {"learner": (), "instructor": ("instructor",), "dev": ("dev",)}
BOOTSTRAP = ("pip", "setuptools", "uv")  # course.py's tools: in every requirements file, not in environment.yml

# The platform environment.yml is for (conda-forge's current Python 3.11 on Linux x86-64, as Binder runs it).
BINDER = {
    "implementation_name": "cpython",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_system": "Linux",
    "python_full_version": "3.11.11",
    "python_version": "3.11",
    "sys_platform": "linux",
}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")
_HEADER = (
    "# The {name} set, locked: generated from uv.lock by `python3 course.py lock`; do not edit.\n"
    "# Install with `python3 course.py {command}` (uv pip sync) or `pip install --require-hashes -r {path}`.\n"
)
_YML_HEADER = """\
# conda and Binder environment for learners: Python 3.11 and the learner set's exact versions on Linux x86-64.
# Generated from requirements/learner.txt by `python3 course.py lock`; do not edit (a test checks they agree).
# No nbgrader: learners never see the instructors' tools. Instructors: pip install -r requirements/instructor.txt.
"""
_COMMANDS = {"learner": "lab", "instructor": "instructor", "dev": "test"}


def requirements_path(name: str, root: Path = ROOT) -> Path:
    """The requirements file of the set ``name`` (``learner``, ``instructor`` or ``dev``)."""
    return root / "requirements" / f"{name}.txt"


def pins(path: Path, environment: dict[str, str] | None = None) -> dict[str, str]:
    """Package name (canonical) -> pinned version, for the entries of a requirements file whose environment markers
    hold in ``environment`` (default: this interpreter's)."""
    found = {}
    for line in Path(path).read_text().splitlines():
        match = _PIN.match(line)
        if not match:
            continue
        name, version, marker = match.groups()
        if marker and not Marker(marker).evaluate(environment):
            continue
        found[canonicalize_name(name)] = version
    return found


def yml_pins(path: Path) -> tuple[str | None, dict[str, str]]:
    """environment.yml's conda Python version (e.g. ``3.11``) and its pip pins (canonical name -> version)."""
    python, found = None, {}
    for line in Path(path).read_text().splitlines():
        item = line.strip()
        if item.startswith("- python="):
            python = item.split("=", 1)[1].strip()
        elif item.startswith("- ") and "==" in item:
            name, version = item[2:].split("==", 1)
            found[canonicalize_name(name)] = version.strip()
    return python, found


def environment_yml(learner: Path) -> str:
    """The text of environment.yml for the learner set's requirements file ``learner``."""
    locked = pins(learner, BINDER)
    lines = [f"      - {name}=={version}" for name, version in sorted(locked.items()) if name not in BOOTSTRAP]
    return (
        _YML_HEADER + "name: cvae-course\nchannels:\n  - conda-forge\ndependencies:\n"
        f"  - python={BINDER['python_version']}\n  - pip\n  - pip:\n" + "\n".join(lines) + "\n      - -e .\n"
    )


def _project(root: Path) -> dict:
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]


def _wanted(project: dict, extras: tuple[str, ...]) -> list[Requirement]:
    """The project's requirements for ``extras``, with its own extras (``cvae-course[instructor]``) expanded."""
    name = canonicalize_name(project["name"])
    wanted, todo, seen = [], [Requirement(r) for r in project["dependencies"]], set()
    for extra in extras:
        todo += [Requirement(r) for r in project["optional-dependencies"][extra]]
    while todo:
        requirement = todo.pop()
        if canonicalize_name(requirement.name) == name:
            for extra in requirement.extras - seen:
                seen.add(extra)
                todo += [Requirement(r) for r in project["optional-dependencies"][extra]]
        else:
            wanted.append(requirement)
    return wanted


def problems(root: Path = ROOT, environment: dict[str, str] | None = None) -> list[str]:
    """What keeps the lock files from agreeing with pyproject.toml and with each other (empty when they agree).

    Checks that every set's file exists and pins each of pyproject's requirements of that set within its range, that
    the sets pin one version per package, and that environment.yml pins exactly the learner set (Linux x86-64, Python
    3.11) and that Python."""
    found = []
    project = _project(root)
    sets = {}
    for name, extras in SETS.items():
        path = requirements_path(name, root)
        if not path.is_file():
            found.append(f"{path.relative_to(root)} is missing")
            continue
        sets[name] = locked = pins(path, environment)
        for requirement in _wanted(project, extras):
            if requirement.marker and not requirement.marker.evaluate(environment):
                continue
            version = locked.get(canonicalize_name(requirement.name))
            if version is None:
                found.append(
                    f"{path.relative_to(root)} does not pin {requirement.name}, which pyproject.toml "
                    f"asks for ({requirement})"
                )
            elif not requirement.specifier.contains(Version(version), prereleases=True):
                found.append(
                    f"{path.relative_to(root)} pins {requirement.name}=={version}, outside pyproject.toml's "
                    f"{requirement}"
                )
        for tool in BOOTSTRAP:
            if tool not in locked:
                found.append(f"{path.relative_to(root)} does not pin {tool} (the bootstrap group)")
    for small, large in (("learner", "instructor"), ("instructor", "dev")):
        if small in sets and large in sets:
            for package, version in sorted(sets[small].items()):
                if sets[large].get(package) != version:
                    found.append(
                        f"the {small} set pins {package}=={version} but the {large} set "
                        f"{'pins ' + sets[large][package] if package in sets[large] else 'lacks it'}"
                    )
    yml = root / "environment.yml"
    learner = requirements_path("learner", root)
    if learner.is_file():
        python, conda = yml_pins(yml) if yml.is_file() else (None, {})
        locked = {k: v for k, v in pins(learner, BINDER).items() if k not in BOOTSTRAP}
        if python != BINDER["python_version"]:
            found.append(f"environment.yml asks for python={python}, the lock is made for {BINDER['python_version']}")
        for package in sorted(set(conda) | set(locked)):
            if conda.get(package) != locked.get(package):
                found.append(
                    f"environment.yml pins {package}=={conda.get(package, '(nothing)')}, "
                    f"requirements/learner.txt {locked.get(package, '(nothing)')}"
                )
    return [f"{p}: run `python3 course.py lock`" for p in found]


def _uv(*args: str, root: Path = ROOT) -> None:
    uv = Path(sys.executable).with_name("uv")
    result = subprocess.run([str(uv), *args], cwd=root)
    if result.returncode != 0:
        sys.exit(f"uv {' '.join(args)} failed (exit code {result.returncode}); see above.")


def refresh(upgrade: bool = False, root: Path = ROOT) -> list[Path]:
    """Re-lock with uv (``upgrade``: newest versions within pyproject's ranges), export every set and rewrite
    environment.yml; returns the files written."""
    _uv("lock", *(["--upgrade"] if upgrade else []), root=root)
    written = [root / "uv.lock"]
    for name, extras in SETS.items():
        path = requirements_path(name, root)
        path.parent.mkdir(exist_ok=True)
        flags = [a for extra in extras for a in ("--extra", extra)]
        _uv(
            "export",
            "--frozen",
            "--no-emit-project",
            "--no-header",
            "--group",
            "bootstrap",
            *flags,
            "--quiet",
            "-o",
            str(path),
            root=root,
        )
        relative = path.relative_to(root).as_posix()
        path.write_text(_HEADER.format(name=name, command=_COMMANDS[name], path=relative) + path.read_text())
        written.append(path)
    (root / "environment.yml").write_text(environment_yml(requirements_path("learner", root)))
    written.append(root / "environment.yml")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 course.py lock", description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest version allowed")
    args = parser.parse_args(argv)
    for path in refresh(upgrade=args.upgrade):
        print(f"wrote {path.relative_to(ROOT)}")
    left = problems()
    for line in left:
        print(line, file=sys.stderr)
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
