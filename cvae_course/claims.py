"""Claims: the sentences of a lesson that state a result, checked by the run that produced the result.

A lesson may write "the means spread more than 1" in its prose only if the code next to it prints that number, or a
**claim cell** right after it checks the sentence against what the lesson just computed::

    claim("the means spread more than 1 in both directions", spread.min() > 1, measured=spread, full_only=True)

A claim cell is a code cell tagged ``claim`` whose input is hidden in JupyterLab (cell metadata
``{"jupyter": {"source_hidden": true}, "tags": ["claim"]}``): the learner sees one line per claim, with a tick and
the measured value, not the code. :func:`claim` then

* prints ``✔ <sentence> (measured ...)`` when the claim holds;
* raises :class:`ClaimFailed`, naming the sentence and the measured value, when it does not: the run contradicts
  the prose, and nbval (CI) or the full-course report (``cvae-course report``) says which sentence;
* for a ``full_only`` claim in fast mode (few epochs, a few thousand images), prints that it is not checked and
  why, with the value measured here, instead of failing: such claims are checked by the full-course report.

Every call also attaches a machine-readable record (MIME type :data:`MIME`) to the cell's output, so that the
report lists every claim of every lesson with its measured value and status.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cvae_course import settings

__all__ = ["MIME", "TAG", "Claim", "ClaimFailed", "claim", "format_measured", "records"]

MIME = "application/vnd.cvae-course.claim+json"
TAG = "claim"
TICK, SKIP = "\u2714", "\u2013"
DEFAULT_FAST_REASON = "fast mode trains on a few thousand images for a few epochs"


class ClaimFailed(AssertionError):
    """The run contradicts a sentence of the lesson. Shown in a notebook as its message alone (no traceback)."""

    def _render_traceback_(self) -> list[str]:
        # Bold in the theme's own text colour, as the exercise checks' "Check failed:": bold ANSI red on
        # JupyterLab's dark error background is hard to read.
        return [f"\x1b[1mClaim failed:\x1b[0m {self}"]


@dataclass(frozen=True)
class Claim:
    """One checked sentence: what it says, what this run measured, and how the check came out."""

    sentence: str
    measured: str
    status: str  # "holds", "fails" or "not checked"
    mode: str
    full_only: bool
    reason: str = ""

    def _ipython_display_(self) -> None:
        """Nothing: :func:`claim` has shown the line already, so a claim cell ending in ``claim(...)`` shows it once."""

    def line(self) -> str:
        """The line the learner reads under the claim cell."""
        measured = f" (measured {self.measured})" if self.measured else ""
        if self.status == "holds":
            return f"{TICK} {self.sentence}{measured}"
        if self.status == "not checked":
            return f"{SKIP} not checked in {self.mode} mode ({self.reason}): {self.sentence}{measured}"
        return f"{self.sentence}{measured}"


def format_measured(value: Any) -> str:
    """A short, readable rendering of a measured value: numbers to 3 significant digits, arrays as lists."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{k} {format_measured(v)}" for k, v in value.items())
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    arr = np.asarray(value)
    if arr.dtype.kind in "iuf" and arr.ndim == 0:
        x = float(arr)
        if arr.dtype.kind in "iu" or (math.isfinite(x) and x == round(x) and abs(x) >= 1000):
            return f"{int(round(x)):,}"
        return f"{x:.3g}" if math.isfinite(x) else str(x)
    if arr.dtype.kind in "iuf" and arr.ndim == 1 and arr.size <= 12:
        return "[" + ", ".join(format_measured(v) for v in arr) + "]"
    return str(value)


def _display(record: Claim) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python: the printed line is all there is
        get_ipython = None
    if get_ipython is not None and get_ipython() is not None:
        display({"text/plain": record.line(), MIME: asdict(record)}, raw=True)
    else:
        print(record.line())


def claim(
    sentence: str, holds: bool, *, measured: Any = None, full_only: bool = False, reason: str = DEFAULT_FAST_REASON
) -> Claim:
    """Check one sentence of the lesson against this run; see the module docstring.

    Args:
        sentence: the claim as the prose makes it, e.g. "the KL term is above 1 nat per image".
        holds: the check itself, computed from the lesson's variables (a bool or a NumPy bool).
        measured: the number(s) the check is about, shown to the learner and recorded in the report.
        full_only: True when the sentence describes the full course (all images, all epochs): in fast mode it is
            shown as not checked, with ``reason``, instead of failing.
        reason: why fast mode cannot back the sentence (shown only for a ``full_only`` claim in fast mode).

    Returns:
        The :class:`Claim` record (also displayed as one line).

    Raises:
        ClaimFailed: the claim does not hold in a mode where it is checked.
    """
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence must be the lesson's claim as a non-empty string, got {sentence!r}")
    verdict = np.asarray(holds)
    if verdict.shape != () or verdict.dtype != bool:
        raise ValueError(
            f"holds must be a single True/False (e.g. spread.min() > 1), got {holds!r}; "
            "reduce an array with .all() or .any() first"
        )
    mode = settings.mode_name()
    skipped = full_only and mode != "full"
    status = "not checked" if skipped else ("holds" if bool(verdict) else "fails")
    record = Claim(
        sentence.strip(), format_measured(measured), status, mode, bool(full_only), reason if skipped else ""
    )
    _display(record)
    if status == "fails":
        scope = "a full-mode claim" if full_only else f"checked in {mode} mode"
        raise ClaimFailed(
            f'the lesson says "{record.sentence}", but this run measured '
            f"{record.measured or 'otherwise'} ({scope}). Re-run the cells above it in order; if it "
            "still fails, the prose is wrong: please report it."
        )
    return record


def records(outputs: list[dict]) -> list[dict]:
    """The claim records stored in a notebook cell's outputs (for the full-course report and tests)."""
    found = []
    for out in outputs:
        data = out.get("data", {}) if isinstance(out, dict) else {}
        if MIME in data:
            value = data[MIME]
            found.append(json.loads(value) if isinstance(value, str) else dict(value))
    return found
