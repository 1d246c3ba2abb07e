"""The lock (uv.lock, requirements/*.txt, environment.yml) agrees with pyproject.toml and with itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cvae_course.tools import ROOT, lock


def test_the_lock_files_agree_with_pyproject_and_with_each_other():
    assert lock.problems() == []


def test_environment_yml_pins_exactly_the_learner_set_as_it_applies_on_linux_with_python_311():
    python, conda = lock.yml_pins(ROOT / "environment.yml")
    locked = lock.pins(lock.requirements_path("learner"), lock.BINDER)
    assert python == "3.11"
    assert conda == {name: v for name, v in locked.items() if name not in lock.BOOTSTRAP}
    assert "tensorflow" in conda and "nbgrader" not in conda


def _copy_of_the_lock(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "environment.yml", "uv.lock"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_a_changed_pin_in_environment_yml_is_reported(tmp_path):
    root = _copy_of_the_lock(tmp_path)
    yml = root / "environment.yml"
    python, conda = lock.yml_pins(yml)
    yml.write_text(yml.read_text().replace(f"keras=={conda['keras']}", "keras==3.3.0"))
    assert lock.problems(root) == [
        f"environment.yml pins keras==3.3.0, requirements/learner.txt {conda['keras']}: run `python3 course.py lock`"
    ]


def test_a_dependency_added_to_pyproject_but_not_locked_is_reported(tmp_path):
    root = _copy_of_the_lock(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('    "psutil>=5.9",\n', '    "psutil>=5.9",\n    "scipy>=1.10",\n')
    )
    found = lock.problems(root)
    assert len(found) == 3 and all("does not pin scipy" in line for line in found), found


def test_a_pin_outside_pyprojects_range_is_reported(tmp_path):
    root = _copy_of_the_lock(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"keras>=3.3"', '"keras>=99"'))
    assert any("outside pyproject.toml's keras>=99" in line for line in lock.problems(root))


def test_the_learner_set_has_no_nbgrader_and_the_instructor_set_has_it():
    assert "nbgrader" not in lock.pins(lock.requirements_path("learner"))
    assert "nbgrader" in lock.pins(lock.requirements_path("instructor"))
    assert {"pytest", "ruff", "sphinx", "jupyterhub", "nbgrader"} <= set(lock.pins(lock.requirements_path("dev")))


def _uv() -> str:
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv is not installed here (course.py installs it into .venv/)")
    return str(uv)


def test_uv_lock_is_up_to_date_with_pyproject():
    result = subprocess.run(
        [_uv(), "lock", "--check", "--offline"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"uv.lock is stale: run `python3 course.py lock`.\n{result.stderr}"


@pytest.mark.parametrize("name", sorted(lock.SETS))
def test_each_requirements_file_is_what_uv_exports_from_uv_lock(name):
    flags = [a for extra in lock.SETS[name] for a in ("--extra", extra)]
    result = subprocess.run(
        [_uv(), "export", "--frozen", "--no-emit-project", "--no-header", "--group", "bootstrap", *flags, "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    committed = lock.requirements_path(name).read_text().split("\n", 2)[2]  # after the two header lines
    assert committed == result.stdout, f"requirements/{name}.txt differs from uv.lock: run `python3 course.py lock`"
