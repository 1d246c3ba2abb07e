"""A notebook written on the fly, open in JupyterLab in headless Chromium: shared by the browser-decoder test and
the in-browser latency benchmark (benchmarks/browser_latency.py).

Built on browser_support (the same loopback JupyterLab with a token and a sandboxed config, Debian's Chromium with
nothing that reaches for the network). The notebook lives in a temporary folder, so nothing is written into the
course; the kernel runs this environment's Python with this process's environment (fast mode, MNIST, model cache).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from browser_support import CHROMIUM_ARGS, NotebookPage, chromium_executable, running_jupyterlab

NOTEBOOK = "session.ipynb"


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """A Python 3 notebook at ``path`` with one code cell per source in ``cells``."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@contextmanager
def notebook_in_lab(
    cells: Sequence[str],
    artifacts: Path,
    prefix: str,
    *,
    viewport: tuple[int, int] = (1400, 1000),
    before_open: Callable | None = None,
) -> Iterator[NotebookPage]:
    """JupyterLab on a fresh notebook made of ``cells``, opened (kernel idle, cells not run yet) in Chromium.

    ``before_open(page)`` is called with the Playwright page before JupyterLab loads (e.g. to watch its websockets).
    Raises RuntimeError when Debian's chromium is not installed."""
    from playwright.sync_api import sync_playwright

    chromium = chromium_executable()
    if chromium is None:
        raise RuntimeError("Debian's chromium is not installed (apt-get install chromium).")
    artifacts.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cvae-course-lab-") as tmp:
        root = Path(tmp) / "course"
        root.mkdir()
        write_notebook(root / NOTEBOOK, cells)
        with running_jupyterlab(root, Path(tmp) / "jupyter") as server, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                str(Path(tmp) / "chromium-profile"),
                executable_path=chromium,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": viewport[0], "height": viewport[1]},
            )
            try:
                raw = context.new_page()
                if before_open is not None:
                    before_open(raw)
                page = NotebookPage(raw, server, artifacts, prefix)
                with page.step(f"open {NOTEBOOK} in JupyterLab and wait for its kernel"):
                    page.open(NOTEBOOK)
                yield page
            finally:
                context.close()


def run_cell(page: NotebookPage, index: int, timeout_ms: float = 60_000) -> str:
    """Run code cell ``index`` (0-based) alone (Ctrl+Enter, as a learner would) and return its output text."""
    cell = page.panel.locator(".jp-CodeCell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text().strip()
    cell.locator(".jp-InputArea-editor").click()
    page.page.keyboard.press("Control+Enter")  # run in place: the active cell stays where it is
    page.page.wait_for_function(
        "([prompt, before]) => { const t = prompt.textContent.trim(); return t !== before && /\\[\\d+\\]/.test(t); }",
        arg=[prompt.element_handle(), before],
        timeout=timeout_ms,
        polling=50,
    )
    return "\n".join(cell.locator(".jp-OutputArea-output").all_inner_texts()).strip()
