"""The committed state of the lesson notebooks: outputs cleared, except the reference outputs nbval checks.

A learner should first see a notebook with no outputs, and watch each picture appear. But nbval (run with
``--nbval-lax``) only compares a cell marked ``nbval-check-output`` against a stored output that has an
execution count: a marked cell with its output cleared is never compared, so its check could not fail.
So the rule is: every cell is cleared except the marked ones, which keep the output every run gives them
(shapes, parameter counts, quiz text; nothing that depends on fast or full mode or on randomness).

``cvae-course refresh [NOTEBOOK ...]`` (:func:`refresh`) runs each notebook in fast mode and writes it back in
that state; :func:`problems` says what is wrong with a notebook as committed (``cvae-course refresh --check``).

Two rules serve the tools that read the cells rather than run them:

* a checked cell is marked by the cell tag ``nbval-check-output`` (:data:`CHECK_TAG`), which the learner does not
  see in the code, not by a ``# NBVAL_CHECK_OUTPUT`` comment in it (nbval honours both; the comment is still
  accepted from lessons not yet converted, with ``strict=False``);
* a cell that trains a model carries the tag ``train`` (:data:`TRAIN_TAG`), so that the full-course report
  (``cvae-course report``) can time every training cell: a cell calling ``training.train``, a recipe that trains
  or may train (``recipes.train_*``, ``recipes.load_*``) or ``.fit(`` (:data:`TRAINS`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat

from cvae_course import settings

__all__ = [
    "CHECK_MARK",
    "CHECK_TAG",
    "CLAIM_TAG",
    "TRAIN_TAG",
    "TRAINS",
    "WIDGET_VIEW",
    "has_check_comment",
    "is_checked",
    "is_claim_cell",
    "problems",
    "refresh",
    "strip",
    "trains",
]

CHECK_MARK = "NBVAL_CHECK_OUTPUT"  # the comment form of the mark, still accepted from lessons not yet converted
CHECK_TAG = "nbval-check-output"  # the mark: nbval compares the stored output of a cell with this tag
CLAIM_TAG = "claim"  # the tag of a claim cell (cvae_course.claims); its input is hidden in JupyterLab
TRAIN_TAG = "train"  # the tag of a cell that trains a model (timed by the full-course report)
TRAINS = re.compile(r"\b(?:training\.train|recipes\.(?:train|load)_\w+)\s*\(|\.fit\s*\(")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _tags(cell) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def has_check_comment(cell) -> bool:
    """True for a code cell whose first line is the comment ``# NBVAL_CHECK_OUTPUT``."""
    first = cell.get("source", "").lstrip().splitlines()[:1]
    return cell.get("cell_type") == "code" and bool(first and CHECK_MARK in first[0])


def is_checked(cell) -> bool:
    """True for a code cell whose output nbval compares (marked by the nbval tag, or the comment)."""
    return cell.get("cell_type") == "code" and (CHECK_TAG in _tags(cell) or has_check_comment(cell))


def trains(cell) -> bool:
    """True for a code cell that trains a model, or may (a recipe that trains what is not cached)."""
    return cell.get("cell_type") == "code" and bool(TRAINS.search(cell.get("source", "")))


def is_claim_cell(cell) -> bool:
    """True for a code cell tagged as a claim cell."""
    return cell.get("cell_type") == "code" and CLAIM_TAG in cell.get("metadata", {}).get("tags", [])


def _claim_problems(i: int, cell) -> list[str]:
    """A claim cell is tagged, has its input hidden, and is the only kind of cell that calls claim(...)."""
    calls_claim = "claim(" in cell.get("source", "")
    if is_claim_cell(cell):
        hidden = cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
        found = (
            []
            if hidden
            else [
                f"cell {i} is a claim cell whose input is not hidden "
                '(set metadata "jupyter": {"source_hidden": true})'
            ]
        )
        if not calls_claim:
            found.append(f"cell {i} is tagged {CLAIM_TAG!r} but checks no claim(...)")
        return found
    if calls_claim:
        return [f"cell {i} calls claim(...) but is not tagged {CLAIM_TAG!r} (claims go in hidden claim cells)"]
    return []


def _tag_problems(i: int, cell) -> list[str]:
    """The rules of a converted lesson: the tag marks a checked cell, and a training cell is tagged."""
    found = []
    if has_check_comment(cell):
        found.append(
            f"cell {i} marks its output with the comment # {CHECK_MARK}; remove the comment and tag the "
            f"cell {CHECK_TAG!r} instead"
        )
    if trains(cell) and TRAIN_TAG not in _tags(cell):
        found.append(
            f"cell {i} trains a model but is not tagged {TRAIN_TAG!r} (the full-course report times the "
            "cells so tagged)"
        )
    return found


def problems(nb, *, strict: bool = True) -> list[str]:
    """What keeps ``nb`` from the committed state; empty when it is right.

    ``strict=False`` skips the two tag rules (see the module docstring) for a lesson not yet converted to them.
    """
    found = ["the notebook stores widget state (metadata.widgets)"] if "widgets" in nb.metadata else []
    for i, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        found += _claim_problems(i, cell)
        if strict:
            found += _tag_problems(i, cell)
        outputs = cell.get("outputs", [])
        for out in outputs:
            if out.get("output_type") == "error":
                found.append(f"cell {i} stores an error ({out.get('ename')})")
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append(f"cell {i} stores stderr output")
            if WIDGET_VIEW in out.get("data", {}):
                found.append(f"cell {i} stores a widget view that cannot show before the cell runs")
        if is_checked(cell):
            if not outputs or cell.get("execution_count") is None:
                found.append(f"cell {i} is marked {CHECK_TAG} but has no stored output to compare against")
        elif outputs or cell.get("execution_count") is not None:
            found.append(f"cell {i} is not marked {CHECK_TAG} but keeps an output or execution count")
    return found


def strip(nb):
    """Clear every unmarked cell and the run's metadata, in place; returns ``nb``."""
    nb.metadata.pop("widgets", None)  # saved widget state: large, and stale until the learner runs the cells
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        if cell.get("cell_type") != "code":
            continue
        if not is_checked(cell):
            cell["outputs"] = []
            cell["execution_count"] = None
        for out in cell.get("outputs", []):
            # A widget view refers to a model that exists only once the cell runs: before that JupyterLab
            # would say "model not found". Keep the text, which nbval compares anyway.
            out.get("data", {}).pop(WIDGET_VIEW, None)
    return nb


def refresh(path: str | os.PathLike, timeout: int = 1200) -> list[str]:
    """Run the notebook at ``path`` in fast mode, keep only the marked outputs, write it back.

    Fast mode is set in the kernel's own environment (this process's environment is left alone). ``timeout`` is
    in seconds per cell. Returns :func:`problems` of the result (empty when all is well).
    """
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    kernel_env = {**os.environ, settings.FAST_ENV: "1"}
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute(env=kernel_env)
    strip(nb)
    nbformat.write(nb, path)
    return problems(nb)
