"""What nbgrader must do differently for this course: put deleted locked cells back, keep hidden tests out of feedback.

Both routes of grading use these, ``cvae-course grade`` (:mod:`cvae_course.tools.grading`) and an instructor's own
nbgrader course (the README's second route), through two nbgrader preprocessors named in ``nbgrader_config.py``:

* :class:`RestoreLockedCells` (in ``Autograde.sanitize_preprocessors``, before ``OverwriteCells``) puts back every
  locked cell a learner deleted (setup, training and test cells), copied from the released notebook, each after the
  cell it followed there. nbgrader 0.9.6 restores only test cells, and crashes (``KeyError`` in
  ``OverwriteCells.add_missing_grade_cells``) when the deleted test cell followed a locked cell that is not a test
  or an answer, such as a training cell. It also makes a pasted copy of an nbgrader cell (the last copy keeps the
  grade id: nbgrader's ``DeduplicateIds`` empties the others' metadata) and a cell pasted from another exercise
  plain cells, on which ``OverwriteCells`` crashed with ``KeyError: 'grade_id'``.
* :class:`HideHiddenTests` (in ``GenerateFeedback.preprocessors``, instead of nbgrader's ``ClearHiddenTests``)
  removes the hidden tests from the test cells' code, as nbgrader's does, and also from every output: a traceback
  shows the lines around the failing call, a timeout shows a preview of the cell, and a learner's code can print
  the cells it was run with. A traceback entry that shows hidden-test code is dropped; any other output keeps its
  text with each hidden line replaced by ``[hidden test]``. The grading machine's paths (the grading folder,
  Python's and this package's folders, the MNIST file, the home folder) are replaced by short placeholders, and
  each long run of library frames in a traceback is cut to its ends (the learner's own frames are all kept).

The functions under them (:func:`restore_locked_cells`, :func:`hidden_lines`, :func:`scrub_output`,
:func:`leaked_lines`) work on plain notebooks and are what the tests check.
"""

from __future__ import annotations

import copy
import html
import os
import re
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor

__all__ = [
    "HIDDEN",
    "HideHiddenTests",
    "RestoreLockedCells",
    "hidden_lines",
    "layout_kept",
    "leaked_lines",
    "machine_paths",
    "plain_foreign_cells",
    "restore_locked_cells",
    "scrub_output",
    "tidy_output",
    "visible_text",
]

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
HIDDEN = "[hidden test]"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ------------------------------------------------------------------------------------ deleted locked cells
def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return grade_id if isinstance(grade_id, str) else None


def _locked(cell) -> bool:
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    return isinstance(nbgrader, dict) and bool(nbgrader.get("locked"))


def _anchor_keys(nb: NotebookNode) -> set[str]:
    keys = set()
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        keys.add(f"grade:{grade_id}" if grade_id is not None else f"id:{cell.get('id')}")
    return keys - {"id:None", "id:"}


def layout_kept(submission: NotebookNode, released: NotebookNode) -> bool:
    """Whether the submission still holds any answer cell of the released notebook (by its grade id); False for
    work re-typed into a new notebook, also when a few handed-out cells (the title, the setup cell) were pasted in.
    A released notebook without answer cells: whether any of its cells is there (by grade id, else cell id)."""
    answers = {f"grade:{_grade_id(c)}" for c in released.cells if _grade_id(c) and _nbgrader(c).get("solution")}
    return bool(_anchor_keys(submission) & (answers or _anchor_keys(released)))


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata", {})
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    return nbgrader if isinstance(nbgrader, dict) else {}


def restore_locked_cells(submission: NotebookNode, released: NotebookNode) -> tuple[NotebookNode, list[str]]:
    """The submission with every locked cell of ``released`` that it lacks put back, and their grade ids.

    Each missing cell is copied from the released notebook and placed right after the cell it followed there
    (the nearest earlier released cell that the submission still has: nbgrader cells by their grade id, others by
    their cell id), so that cells keep the released order even when several in a row were deleted. Cells the
    learner added, moved or edited stay as they are (nbgrader overwrites edited locked cells itself). When the
    submission holds none of the released answer cells (the learner re-typed the work into a new notebook, perhaps
    with the title or setup cell pasted in), the missing cells go after all of the learner's cells, in the released
    order, as nbgrader places the task cells it adds: at the top they would run before the learner's code. The input
    is left unchanged.
    """
    nb = copy.deepcopy(submission)
    restored: list[str] = []
    kept = layout_kept(nb, released)
    after = -1 if kept else len(nb.cells) - 1  # index in nb after which the next missing cell goes
    for cell in released.cells:
        grade_id = _grade_id(cell)
        if grade_id is not None:
            where = next((i for i, c in enumerate(nb.cells) if _grade_id(c) == grade_id), None)
        else:  # a markdown or free cell: found by its cell id (JupyterLab keeps it), if it has one
            cell_id = cell.get("id")
            where = next((i for i, c in enumerate(nb.cells) if cell_id and c.get("id") == cell_id), None)
        if where is not None:
            after = where if kept else after
        elif grade_id is not None and _locked(cell):
            after += 1
            nb.cells.insert(after, copy.deepcopy(cell))
            restored.append(grade_id)
    return nb, restored


def plain_foreign_cells(submission: NotebookNode, released: NotebookNode) -> NotebookNode:
    """The submission with the nbgrader metadata taken off every cell that has no grade id of the released notebook:
    a pasted copy DeduplicateIds emptied, or a cell pasted from another exercise with its metadata. nbgrader's
    ``OverwriteCells`` deletes such a cell's grade id and then raises ``KeyError: 'grade_id'``; as a plain cell it
    runs like any cell of the learner's. The input is left unchanged."""
    nb = copy.deepcopy(submission)
    known = {_grade_id(cell) for cell in released.cells} - {None}
    for cell in nb.cells:
        if "nbgrader" in cell.get("metadata", {}) and _grade_id(cell) not in known:
            del cell.metadata["nbgrader"]
    return nb


def _course_root(preprocessor) -> Path:
    """The nbgrader course a preprocessor runs in: its converter's course directory, else the working directory."""
    converter = getattr(getattr(preprocessor, "parent", None), "parent", None)
    root = getattr(getattr(converter, "coursedir", None), "root", None)
    return Path(root or os.getcwd())


class RestoreLockedCells(NbGraderPreprocessor):
    """Put back the locked cells a learner deleted, from ``release/<assignment>/<notebook>.ipynb``, before
    nbgrader's ``OverwriteCells`` (use in ``c.Autograde.sanitize_preprocessors``)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        path = _course_root(self) / "release" / info["assignment"] / f"{info['notebook']}.ipynb"
        if not path.is_file():
            raise FileNotFoundError(
                f"RestoreLockedCells needs the released notebook {path}: run "
                f"`nbgrader generate_assignment {info['assignment']}` first"
            )
        released = nbformat.read(path, as_version=4)
        nb = plain_foreign_cells(nb, released)
        nb, restored = restore_locked_cells(nb, released)
        if restored:
            self.log.warning(
                "Locked cells deleted by %s, put back from %s: %s", info.get("student"), path, ", ".join(restored)
            )
        return nb, resources


# ------------------------------------------------------------------------------------ hidden tests in feedback
def hidden_lines(nb: NotebookNode) -> list[str]:
    """Every non-empty line of every hidden-test block of a notebook, stripped, longest first."""
    lines: set[str] = set()
    for cell in nb.cells:
        inside = False
        for line in str(cell.get("source", "")).splitlines():
            if BEGIN in line:
                inside = True
            elif END in line:
                inside = False
            elif inside and line.strip():
                lines.add(line.strip())
    return sorted(lines, key=len, reverse=True)


def visible_text(page: str) -> str:
    """Text as a reader of an HTML page (or a terminal) sees it: no tags, no colour codes, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", _ANSI.sub("", page)))


def leaked_lines(text: str, hidden: list[str]) -> list[str]:
    """The hidden-test lines (or markers) that ``text`` shows, read as a person sees it (HTML or plain)."""
    seen = visible_text(text)
    return [line for line in [BEGIN, END, *hidden] if line in text or line in seen]


def _scrub_text(text: str, hidden: list[str]) -> str:
    for line in [BEGIN, END, *hidden]:
        text = text.replace(line, HIDDEN)
    if leaked_lines(text, hidden):  # still there between colour codes or HTML tags: drop the whole text
        return f"{HIDDEN} (this output is not shown: it would show the hidden tests)\n"
    return text


def scrub_output(output: NotebookNode, hidden: list[str]) -> NotebookNode:
    """An output without hidden-test code: traceback entries showing it are dropped, other text has it replaced."""
    if not hidden:
        return output
    output = copy.deepcopy(output)
    if output.get("output_type") == "error":
        kept = [entry for entry in output.get("traceback", []) if not leaked_lines(entry, hidden)]
        if len(kept) < len(output.get("traceback", [])):
            kept.insert(min(1, len(kept)), "(Part of this traceback is not shown: it would show the hidden tests.)")
        output["traceback"] = [_scrub_text(entry, hidden) for entry in kept]
        output["evalue"] = _scrub_text(str(output.get("evalue", "")), hidden)
    if "text" in output:
        output["text"] = _scrub_text(str(output["text"]), hidden)
    for kind, value in list(output.get("data", {}).items()):
        if isinstance(value, str) and (kind.startswith("text/") or kind.endswith("json")):
            output["data"][kind] = _scrub_text(value, hidden)
    return output


# ------------------------------------------------------------------------------------ the grading machine
KEEP_FRAMES = 3  # library frames kept at each end of a long run of them in a traceback
_LEARNER_FRAME = re.compile(r"\bCell In\s*\[|\bInput In\s*\[")  # IPython's name for a frame of a notebook cell
_LIBRARIES = ("<site-packages>", "<python>", "<cvae_course>")
MAX_ENTRY = 3000  # characters kept of one traceback entry


def machine_paths(course: Path | str | None = None) -> list[tuple[str, str]]:
    """(path, placeholder) for the grading machine's folders a learner's page must not show, longest first: the
    grading folder (``course``), the installed packages, Python's prefix, this package, the MNIST file, home."""
    import site
    import sysconfig

    import cvae_course
    from cvae_course import settings

    pairs = [
        (Path(course).resolve() if course else None, "<grading folder>"),
        (os.environ.get(settings.DATA_ENV), "<mnist.npz>"),
        (Path(cvae_course.__file__).resolve().parent, "<cvae_course>"),
        (sysconfig.get_paths().get("purelib"), "<site-packages>"),
        (sysconfig.get_paths().get("platlib"), "<site-packages>"),
        *((p, "<site-packages>") for p in getattr(site, "getsitepackages", list)()),
        (sys.prefix, "<python>"),
        (sys.base_prefix, "<python>"),
        (Path.home(), "~"),
    ]
    found: dict[str, str] = {}
    for path, placeholder in pairs:
        if not path or str(path) in ("/", "."):
            continue
        for form in {str(path), str(Path(path).resolve())}:
            found.setdefault(form.rstrip("/"), placeholder)
    return sorted(found.items(), key=lambda pair: len(pair[0]), reverse=True)


def _strip_paths(text: str, paths: list[tuple[str, str]]) -> str:
    for path, placeholder in paths:
        text = text.replace(path, placeholder)
    return text


def _cut_library_frames(entries: list[str], paths: list[tuple[str, str]]) -> list[str]:
    """Traceback entries with each run of more than ``2 * KEEP_FRAMES + 1`` library frames (in Python's, the
    installed packages' or this package's files) cut to its first and last ``KEEP_FRAMES``; every other entry (the
    learner's cells and files, IPython's header, the error line) is kept."""
    libraries = [path for path, placeholder in paths if placeholder in _LIBRARIES]

    def library(entry: str) -> bool:
        plain = _ANSI.sub("", entry)
        return not _LEARNER_FRAME.search(plain) and any(path in plain for path in libraries)

    kept: list[str] = []
    run: list[str] = []
    for entry in [*entries, None]:
        if entry is not None and library(entry):
            run.append(entry)
            continue
        if len(run) > 2 * KEEP_FRAMES + 1:
            cut = len(run) - 2 * KEEP_FRAMES
            run = [*run[:KEEP_FRAMES], f"... ({cut} more frames, inside libraries, not shown) ...", *run[-KEEP_FRAMES:]]
        kept += run + ([entry] if entry is not None else [])
        run = []
    return kept


def tidy_output(output: NotebookNode, paths: list[tuple[str, str]]) -> NotebookNode:
    """An output as a learner's page shows it: the grading machine's paths replaced by placeholders, and in a
    traceback each long run of library frames cut to its ends (the learner's own frames all kept; each entry at most
    ``MAX_ENTRY`` characters)."""
    output = copy.deepcopy(output)
    if output.get("output_type") == "error":
        entries = _cut_library_frames([str(entry) for entry in output.get("traceback", [])], paths)
        entries = [e if len(e) <= MAX_ENTRY else f"{e[: MAX_ENTRY // 2]}\n...\n{e[-MAX_ENTRY // 2 :]}" for e in entries]
        output["traceback"] = [_strip_paths(entry, paths) for entry in entries]
        output["evalue"] = _strip_paths(str(output.get("evalue", "")), paths)
    if "text" in output:
        output["text"] = _strip_paths(str(output["text"]), paths)
    for kind, value in list(output.get("data", {}).items()):
        if isinstance(value, str) and (kind.startswith("text/") or kind.endswith("json")):
            output["data"][kind] = _strip_paths(value, paths)
    return output


class HideHiddenTests(ClearHiddenTests):
    """nbgrader's ClearHiddenTests, plus: no output of any cell shows hidden-test code, the grading machine's
    paths or a library's whole traceback (for ``c.GenerateFeedback.preprocessors``, in ClearHiddenTests' place)."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        self._hidden = hidden_lines(nb)
        self._paths = machine_paths(_course_root(self))
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell: NotebookNode, resources: dict, cell_index: int) -> tuple[NotebookNode, dict]:
        if cell.cell_type == "code":
            cell.outputs = [
                tidy_output(scrub_output(out, self._hidden), self._paths) for out in cell.get("outputs", [])
            ]
        return super().preprocess_cell(cell, resources, cell_index)
