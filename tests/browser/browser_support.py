"""Support for the JupyterLab end-to-end test: a throwaway JupyterLab server and a headless Chromium page on it.

Why a real browser: a widget that renders in a test kernel can still reach the learner as "Loading widget..."
or a raw text repr when the front-end extension is missing or does not match the kernel's ipywidgets. Only
JupyterLab in a browser shows that. Everything here is local: Debian's Chromium (no browser download), a
loopback JupyterLab with a token, and a sandboxed Jupyter config so the learner's own settings play no part.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"

# Chromium with nothing that reaches for the network or a GPU (the test machines have neither).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-proxy-server",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--metrics-recording-only",
]

# JupyterLab settings for the sandbox: no news feed or update check (no internet, and no consent toast over the
# notebook), and no autosave, so a test run never writes outputs into a notebook.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}

# Files of the course the server needs; the rest (the venv, git, caches, artifacts) stays out of the copy.
COPY_IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "test-artifacts",
    "__pycache__",
    ".ipynb_checkpoints",
    ".pytest_cache",
    "*.egg-info",
    "*.npz",
    "*.keras",
    "results",
)


def chromium_executable() -> str | None:
    """Debian's Chromium on PATH (``chromium`` or ``chromium-browser``), or None when it is not installed."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def free_loopback_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def copy_course(dest: Path) -> Path:
    """Copy the course (notebooks, exercises, solutions, package sources) into ``dest`` and return it."""
    shutil.copytree(ROOT, dest, ignore=COPY_IGNORE)
    return dest


# Loopback calls never go through an HTTP proxy a CI machine may have configured.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class LabServer:
    """A running JupyterLab: its base URL, token, process and log file."""

    url: str
    token: str
    process: subprocess.Popen
    log_path: Path
    root_dir: Path
    runtime_dir: Path
    notes: list[str] = field(default_factory=list)

    def lab_url(self, notebook: str, workspace: str) -> str:
        """The address a learner would open for ``notebook`` (relative to the root), in a fresh workspace."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def api(self, path: str, method: str = "GET", timeout: float = 5.0) -> object:
        """Call the server's REST API with the token; returns the decoded JSON (or None for an empty body)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with _DIRECT.open(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def kernel_processes(self) -> dict[int, list[str]]:
        """pid -> command line of this server's running kernels (Linux /proc; their connection files are in our
        runtime dir)."""
        found = {}
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                argv = cmdline.read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue  # the process ended meanwhile
            if any(arg.startswith(str(self.runtime_dir)) and "kernel-" in arg for arg in argv):
                found[int(cmdline.parent.name)] = [arg for arg in argv if arg]
        return found

    def kernel_commands(self) -> list[list[str]]:
        """Command lines of this server's running kernels, to check which Python the kernels really run."""
        return list(self.kernel_processes().values())

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the server log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])


def _write_sandbox_config(sandbox: Path) -> dict[str, str]:
    """Create empty Jupyter config/data/runtime dirs and lab settings under ``sandbox``; return the env vars."""
    dirs = {name: sandbox / name for name in ("config", "data", "runtime", "settings", "workspaces")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for relative, values in LAB_SETTINGS.items():
        target = dirs["settings"] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    return {
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
    }


@contextmanager
def running_jupyterlab(root_dir: Path, sandbox: Path, start_timeout: float = 90.0) -> Iterator[LabServer]:
    """Start JupyterLab from this environment on a free loopback port with a token; always stop it afterwards.

    The server runs ``sys.executable -m jupyter lab``, so its ``python3`` kernel runs this environment's Python
    (Jupyter swaps a kernelspec's bare ``python`` for its own interpreter), with this process's environment (fast mode,
    offline MNIST, the session's model cache). It gets its own process group, killed whatever happens.
    """
    token = secrets.token_hex(16)
    port = free_loopback_port()
    env = dict(os.environ)
    env.update(_write_sandbox_config(sandbox))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("JUPYTER_PATH", None)
    log_path = sandbox / "jupyterlab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.allow_remote_access=False",
        f"--LabApp.user_settings_dir={sandbox / 'settings'}",
        f"--LabApp.workspaces_dir={sandbox / 'workspaces'}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root; Jupyter refuses that unless told
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd,
            cwd=root_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(f"http://127.0.0.1:{port}", token, process, log_path, root_dir, sandbox / "runtime")
    try:
        _wait_until_ready(server, start_timeout)
        yield server
    finally:
        _stop(server)


def _wait_until_ready(server: LabServer, timeout: float) -> None:
    """Poll /api/status until the server answers; fail with its log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with code {server.process.returncode} before it was ready.\n"
                f"Server log ({server.log_path}):\n{server.log_tail()}"
            )
        try:
            server.api("/api/status", timeout=2.0)
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"JupyterLab did not answer on {server.url} within {timeout:.0f} s.\n"
                f"Server log ({server.log_path}):\n{server.log_tail()}"
            )
        time.sleep(0.25)


def _stop(server: LabServer) -> None:
    """Shut the kernels and the server down politely, then kill the process group if anything is left."""
    if server.process.poll() is None:
        try:
            for kernel in server.api("/api/kernels") or []:
                server.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=10.0)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError) as exc:
            server.notes.append(f"kernel shutdown through the API failed: {exc}")
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        if server.process.poll() is not None:
            break
        try:
            os.killpg(server.process.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    # Anything the server started in its group (not kernels: they have their own sessions and were shut down above).
    try:
        os.killpg(server.process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    # Kernels the API could not shut down (a dead server, a failed request) would outlive the test run.
    for pid in server.kernel_processes():
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _short(exc: BaseException, max_lines: int = 12) -> str:
    """An exception's message without Playwright's page-wide accessibility dump (the screenshot shows the page)."""
    text = str(exc).split("Aria snapshot:")[0].rstrip()
    lines = text.splitlines()
    return "\n".join(lines[:max_lines] + (["..."] if len(lines) > max_lines else []))


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


# --- Driving JupyterLab in the page --------------------------------------------------------------------------------

WIDGET_PROBLEMS = ("Loading widget...", "Error displaying widget")

# True once "Run All Cells" has finished: nothing queued or running, and every non-empty code cell has an execution
# count, or an error stopped the run. (A fresh notebook starts with blank prompts, so a click not yet picked up
# never looks finished.)
_RUN_FINISHED_JS = """(panel) => {
  const cells = [...panel.querySelectorAll('.jp-CodeCell')];
  const prompt = (c) => (c.querySelector('.jp-InputPrompt')?.textContent || '').trim();
  const source = (c) => (c.querySelector('.jp-Editor')?.textContent || '').trim();
  if (cells.some((c) => prompt(c).includes('*'))) return false;
  const stopped = panel.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  const done = cells.length > 0 && cells.every((c) => source(c) === '' || /\\[\\d+\\]/.test(prompt(c)));
  return done || stopped !== null;
}"""

# "ready" once the notebook's kernel runs and is idle, "dialog" when JupyterLab asks which kernel to start.
_KERNEL_READY_JS = """(panel) => {
  if (document.querySelector('.jp-Dialog')) return 'dialog';
  const name = (panel.querySelector('.jp-Toolbar-kernelName')?.textContent || '').trim();
  const status = panel.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status;
  return name !== '' && name !== 'No Kernel' && status === 'idle' ? 'ready' : false;
}"""

# The pixels behind an <img>, as a data URL: ipywidgets.Image shows a blob: URL (new on every update), matplotlib
# output a data: URL; comparing the bytes says whether the picture really changed.
_IMAGE_DATA_JS = """async (img) => {
  const src = img.currentSrc || img.src;
  if (src.startsWith('data:')) return src;
  const blob = await (await fetch(src)).blob();
  return await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}"""


class NotebookPage:
    """One notebook open in JupyterLab in a browser page, with screenshots and step-by-step failure messages."""

    def __init__(self, page, server: LabServer, artifacts: Path, prefix: str) -> None:
        self.page = page
        self.server = server
        self.artifacts = artifacts
        self.prefix = prefix
        self.console: list[str] = []
        self.shots = 0
        page.on(
            "console",
            lambda msg: self.console.append(f"{msg.type}: {msg.text}") if msg.type in ("error", "warning") else None,
        )
        page.on("pageerror", lambda exc: self.console.append(f"pageerror: {exc}"))

    @property
    def panel(self):
        """The notebook panel that is showing."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Run one step of the scenario; on failure, save a screenshot and fail with a message naming the step."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - every failure becomes a readable AssertionError below
            shot = self.screenshot(f"FAILED-{description}")
            console = "\n".join(list(dict.fromkeys(self.console))[-12:]) or "(none)"
            raise AssertionError(
                f"Browser step failed: {description}\n{type(exc).__name__}: {_short(exc)}\n"
                f"{self._widget_diagnosis()}"
                f"Screenshot: {shot}\nBrowser console errors and warnings (last 12 distinct):\n{console}\n"
                f"JupyterLab server log (last lines):\n{self.server.log_tail(15)}"
            ) from exc

    def _widget_diagnosis(self) -> str:
        """Outputs that show a widget as text ("Loading widget...", an error, a raw repr), if any."""
        try:
            texts = self.panel.locator(".jp-OutputArea-output").all_inner_texts()
        except Exception:  # noqa: BLE001 - diagnosis only; the page may be gone
            return ""
        bad = [
            t.strip()[:200]
            for t in texts
            if any(p in t for p in WIDGET_PROBLEMS) or re.match(r"^[A-Z]\w*\((children|value|description)=", t)
        ]
        if not bad:
            return ""
        return (
            "Widget outputs shown as text (is the JupyterLab widget extension installed and matching "
            "ipywidgets?):\n" + "\n".join(bad[:3]) + "\n"
        )

    def screenshot(self, name: str, locator=None) -> Path:
        """Save a PNG of the page (or of ``locator``) in the artifacts folder; returns its path."""
        self.shots += 1
        path = self.artifacts / f"{self.prefix}-{self.shots:02d}-{slug(name)}.png"
        try:
            (locator or self.page).screenshot(path=str(path), animations="disabled")
        except Exception as exc:  # noqa: BLE001 - a failed screenshot must not hide the real failure
            self.console.append(f"screenshot {path.name} failed: {exc}")
        return path

    def open(self, notebook: str, timeout_ms: float = 90_000) -> None:
        """Open ``notebook`` as a learner would (its URL) and wait until its kernel has started and is idle.

        The toolbar says "idle" before any kernel exists (next to "No Kernel"), so both are checked. If JupyterLab
        asks which kernel to start, the learner's answer is the default: "Select"."""
        from playwright.sync_api import expect

        self.page.goto(self.server.lab_url(notebook, workspace=slug(self.prefix)), wait_until="domcontentloaded")
        expect(self.panel.locator(".jp-Cell").first).to_be_visible(timeout=timeout_ms)
        state = self.page.wait_for_function(
            _KERNEL_READY_JS, arg=self.panel.element_handle(), timeout=timeout_ms, polling=250
        ).json_value()
        if state == "dialog":
            self.page.locator(".jp-Dialog").get_by_role("button", name="Select").click()
            self.page.wait_for_function(
                _KERNEL_READY_JS, arg=self.panel.element_handle(), timeout=timeout_ms, polling=250
            )

    def run_all(self, timeout_ms: float = 150_000) -> None:
        """Run > Run All Cells from the menu bar, and wait until the run has finished (or stopped on an error)."""
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-item:visible", has_text=re.compile(r"^Run All Cells")).click()
        self.page.wait_for_function(_RUN_FINISHED_JS, arg=self.panel.element_handle(), timeout=timeout_ms, polling=250)

    def errors(self) -> list[str]:
        """Text of every error or stderr output in the notebook, with its cell number."""
        found = []
        cells = self.panel.locator(".jp-CodeCell")
        for index in range(cells.count()):
            bad = cells.nth(index).locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
            for k in range(bad.count()):
                found.append(f"code cell {index + 1}: {bad.nth(k).inner_text().strip()[-1500:]}")
        return found

    def code_cell(self, source_snippet: str):
        """The code cell whose source contains ``source_snippet``."""
        return self.panel.locator(".jp-CodeCell", has=self.page.locator(".jp-Editor", has_text=source_snippet))

    def image_data(self, img) -> str:
        """The bytes shown by the <img> ``img`` as a data URL."""
        return img.evaluate(_IMAGE_DATA_JS)

    def wait_for_new_image(self, img, old_src: str | None, timeout_ms: float = 30_000) -> str:
        """Wait until ``img`` shows a new picture (its src changes) and the kernel is idle again; return its data."""
        self.page.wait_for_function(
            "([img, old]) => img.isConnected && img.src && img.src !== old",
            arg=[img.element_handle(), old_src],
            timeout=timeout_ms,
            polling=100,
        )
        self.page.wait_for_function(
            "(panel) => panel.querySelector('.jp-Notebook-ExecutionIndicator')?.dataset.status === 'idle'",
            arg=self.panel.element_handle(),
            timeout=timeout_ms,
            polling=100,
        )
        return self.image_data(img)

    def drag_slider(self, slider, fraction: float) -> None:
        """Drag the handle of an ipywidgets slider with the mouse to ``fraction`` (0..1) of its track."""
        slider.scroll_into_view_if_needed()
        track = slider.locator(".noUi-target").first
        handle = slider.locator(".noUi-handle").first
        box, grip = track.bounding_box(), handle.bounding_box()
        if box is None or grip is None:
            raise AssertionError("the slider has no visible track or handle to drag")
        self.page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(box["x"] + fraction * box["width"], grip["y"] + grip["height"] / 2, steps=8)
        self.page.mouse.up()
