"""Ruff keeps the code, the tests and the notebooks in one style: lint (pyflakes, pycodestyle, imports, upgrades)
and format, with the rules in pyproject.toml's [tool.ruff]. `python3 course.py format` fixes what it can.

Ruff is a developer tool (the `dev` extra): without it the tests are skipped, except under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff() -> list[str]:
    beside = Path(sys.executable).with_name("ruff")
    found = str(beside) if beside.exists() else shutil.which("ruff")
    if found is None:
        reason = "ruff is not installed: `python3 course.py test` installs the dev set, which has it."
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return [found]


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([*_ruff(), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_ruff_finds_no_lint_problem_in_the_package_tests_scripts_and_notebooks():
    result = _run("check", "--output-format", "concise", ".")
    assert result.returncode == 0, (
        f"ruff check found problems (fix them, or run `python3 course.py format` for "
        f"the fixable ones):\n{result.stdout}{result.stderr}"
    )


def test_ruff_format_would_change_no_file():
    result = _run("format", "--check", ".")
    assert result.returncode == 0, (
        f"ruff format would reformat these files: run `python3 course.py format`.\n{result.stdout}{result.stderr}"
    )


def test_ruff_checks_the_notebooks_and_the_package_not_the_environment():
    files = set(_run("check", "--show-files", ".").stdout.split())
    names = {str(Path(f).relative_to(ROOT)) for f in files if f.startswith(str(ROOT))}
    for expected in (
        "course.py",
        "cvae_course/models.py",
        "notebooks/00_welcome.ipynb",
        "solutions/01_autoencoder.ipynb",
        "exercises/01_autoencoder.ipynb",
        "tests/test_style.py",
    ):
        assert expected in names, f"ruff does not check {expected}: see [tool.ruff] in pyproject.toml"
    assert not [n for n in names if n.startswith((".venv/", "test-artifacts/", "_build/"))]


def test_the_lint_rules_catch_an_unused_import_and_unsorted_imports(tmp_path):
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text("import sys\nimport os\n\nprint(os.sep)\n")
    result = _run("check", "--output-format", "concise", "bad.py", cwd=tmp_path)
    assert result.returncode == 1
    assert "F401" in result.stdout and "I001" in result.stdout, result.stdout
