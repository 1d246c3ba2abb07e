"""The page modules of the playground's anywidget panels: each ``static/<name>.js`` with ``static/kernel.js`` in front.

kernel.js defines ``watchKernel(model, el)``, which every panel's ``render`` calls: when the kernel restarts, the
panel says "run this cell again" and stops taking input. One copy of it, shared by the modules without an import
(an anywidget module is loaded from a string and may not import files of its own).
"""

from __future__ import annotations

import pathlib

STATIC = pathlib.Path(__file__).resolve().parent / "static"


def page_module(name: str) -> str:
    """The ES module for the panel whose own code is ``static/<name>`` (e.g. "draw.js"): kernel.js, then that file."""
    return (STATIC / "kernel.js").read_text() + "\n" + (STATIC / name).read_text()
