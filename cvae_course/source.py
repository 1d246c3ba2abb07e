"""Show the source of course code inside a lesson, so a learner reads the real thing, not a copy of it."""

from __future__ import annotations

import inspect
import textwrap

__all__ = ["source_of", "show_source"]


def source_of(obj) -> str:
    """The source code of a function, class or method, dedented."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise ValueError(f"no source available for {obj!r}; pass a function, class or method") from err


class _Code:
    """Displays as highlighted Python in a notebook and as plain text elsewhere (and to nbval)."""

    def __init__(self, code: str):
        self.code = code

    def _repr_markdown_(self) -> str:
        return f"```python\n{self.code}```"

    def __repr__(self) -> str:
        return self.code


def show_source(obj) -> _Code:
    """Make the source of ``obj`` the output of a cell, e.g. ``show_source(Sampling.call)``."""
    return _Code(source_of(obj))
