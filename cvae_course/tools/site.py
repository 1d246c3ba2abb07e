"""The course site: every lesson as a web page with its outputs, built with Sphinx and MyST-NB from one command.

``python3 course.py site`` (or ``python -m cvae_course.tools.site``) stages the lessons (``notebooks/``) and the
pages in ``docs/`` into ``_build/site/src``, builds HTML into ``_build/site/html`` and checks it:

* outputs: by default every lesson is executed in **full mode** once and its outputs kept in a cache
  (``_build/site/cache-full``) until its code changes; ``--fast`` executes in fast mode (what CI does;
  ``_build/site/cache-fast``); ``--executed DIR`` takes the outputs of notebooks already executed, e.g. by
  ``cvae-course report --executed DIR`` (the same run as the full-course report), and executes nothing;
* launch links: with ``--repository https://github.com/OWNER/REPO`` (and ``--hub https://HUB``) each lesson page
  starts with a Binder link (and a JupyterHub link through nbgitpuller); docs/launching.md documents the formats;
* checks: a cell error fails the build (cells tagged ``raises-exception`` excepted), and so does every Sphinx
  warning (a link to a page that does not exist, an image file that is missing); then :func:`broken_links` reads
  every built page and fails on any link or image inside the site that points to nothing (the machine may be
  offline: links to other sites are counted, not followed).

The exit status is 0 only when the site built without a warning and no link is broken. This module imports no
TensorFlow: the lessons run in their own kernels.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import nbformat

from cvae_course import settings
from cvae_course.tools import NOTEBOOKS, ROOT

__all__ = ["BUILD", "Launch", "broken_links", "build", "launch_links", "main", "stage"]

BUILD = ROOT / "_build" / "site"
DOCS = ROOT / "docs"
LAUNCH_TAG = "launch-links"  # the markdown cell the site adds at the top of each lesson


@dataclass(frozen=True)
class Launch:
    """Where the launch links point: the repository's web address (GitHub), its branch, and a JupyterHub."""

    repository: str = ""
    branch: str = "main"
    hub: str = ""

    def binder(self, path: str) -> str:
        """The Binder link that opens ``path`` (relative to the repository, e.g. ``notebooks/01_autoencoder.ipynb``)."""
        owner_repo = urlsplit(self.repository).path.strip("/").removesuffix(".git")
        return f"https://mybinder.org/v2/gh/{owner_repo}/{self.branch}?urlpath=lab/tree/{path}"

    def jupyterhub(self, path: str) -> str:
        """The nbgitpuller link that clones the repository on the hub (once) and opens ``path`` there."""
        name = urlsplit(self.repository).path.strip("/").removesuffix(".git").rsplit("/", 1)[-1]
        repo = quote(self.repository, safe="")
        return (
            f"{self.hub.rstrip('/')}/hub/user-redirect/git-pull?repo={repo}&branch={quote(self.branch)}"
            f"&urlpath={quote(f'lab/tree/{name}/{path}', safe='')}"
        )


def launch_links(launch: Launch, path: str) -> str:
    """The markdown line of launch links for the notebook at ``path`` (empty without a repository)."""
    if not launch.repository:
        return ""
    links = [f"[Run it on Binder]({launch.binder(path)})"]
    if launch.hub:
        links.append(f"[Run it on your JupyterHub]({launch.jupyterhub(path)})")
    return "**Run this lesson:** " + " · ".join(links) + " ([what these links do](../docs/launching.md))"


def stage(
    src: Path, launch: Launch, executed: Path | None = None, *, notebooks: Path = NOTEBOOKS, docs: Path = DOCS
) -> list[Path]:
    """Copy docs/ and the lessons (from ``executed`` if given) into ``src`` for Sphinx; returns the lessons staged.

    Each lesson gets its launch links as a first markdown cell. With ``executed``, every lesson in notebooks/ must be
    there, with the same code (otherwise its outputs are not the lesson's)."""
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(docs, src / "docs", ignore=shutil.ignore_patterns("conf.py", "__pycache__", "*.json"))
    (src / "notebooks").mkdir(parents=True)
    staged = []
    for lesson in sorted(Path(notebooks).glob("*.ipynb")):
        nb = nbformat.read(lesson, as_version=4)
        if executed is not None:
            ran = Path(executed) / lesson.name
            if not ran.is_file():
                raise SystemExit(
                    f"{ran} is missing: --executed must hold every lesson of notebooks/ "
                    "(`cvae-course report --executed DIR` writes them)."
                )
            done = nbformat.read(ran, as_version=4)
            if _code(done) != _code(nb):
                raise SystemExit(
                    f"{ran} does not have the code of {lesson}: it was executed from "
                    "another version of the lesson; run the report again."
                )
            nb = done
        line = launch_links(launch, f"notebooks/{lesson.name}")
        if line:
            cell = nbformat.v4.new_markdown_cell(line)
            cell.metadata["tags"] = [LAUNCH_TAG]
            nb.cells.insert(0, cell)
        nbformat.write(nb, src / "notebooks" / lesson.name)
        staged.append(src / "notebooks" / lesson.name)
    return staged


def _code(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


class _Links(HTMLParser):
    """The ids of a page and the links and images in it."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (tag, address)

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if values.get(key):
                self.ids.add(values[key])
        for key in ("href", "src"):
            if key in values and tag in {"a", "img", "link", "script", "source", "iframe"}:
                self.links.append((tag, values[key] or ""))


@dataclass
class LinkReport:
    """What :func:`broken_links` found: problems (page, what is wrong), and how many links it checked or skipped."""

    problems: list[tuple[str, str]] = field(default_factory=list)
    checked: int = 0
    external: int = 0


def broken_links(html: Path) -> LinkReport:
    """Every link and image inside the built site ``html`` that points to nothing: a missing file, an empty image,
    an anchor no element has. Links to other sites are counted in ``external``, not followed."""
    pages = {}
    for page in sorted(html.rglob("*.html")):
        if "_static" in page.relative_to(html).parts:
            continue  # the theme's template fragments, not pages
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        pages[page.resolve()] = parser
    report = LinkReport()
    for page, parser in pages.items():
        where = str(page.relative_to(html.resolve()))
        for tag, address in parser.links:
            parts = urlsplit(address)
            if parts.scheme or address.startswith("//"):
                report.external += parts.scheme not in {"data", "mailto", "javascript"}
                continue
            report.checked += 1
            if not address:
                report.problems.append((where, f"<{tag}> with an empty address"))
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                report.problems.append((where, f"<{tag}> points to {address}, which does not exist"))
            elif tag == "img" and target.stat().st_size == 0:
                report.problems.append((where, f"image {address} is an empty file"))
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    report.problems.append((where, f"<{tag}> points to {address}: no element has that id"))
    return report


def build(
    out: Path = BUILD,
    *,
    fast: bool = False,
    executed: Path | None = None,
    launch: Launch = Launch(),
    timeout: int | None = None,
    notebooks: Path = NOTEBOOKS,
    docs: Path = DOCS,
    log=print,
) -> int:
    """Stage, build and check the site into ``out``/html; returns 0 when it built without a warning or broken link."""
    started = time.monotonic()
    src, html = out / "src", out / "html"
    lessons = stage(src, launch, executed, notebooks=notebooks, docs=docs)
    env = dict(os.environ)
    if executed is not None:
        env["CVAE_COURSE_SITE_EXECUTE"] = "off"
        how = f"outputs from {executed}"
    else:
        env["CVAE_COURSE_SITE_EXECUTE"] = "cache"
        env["CVAE_COURSE_SITE_CACHE"] = str(out / ("cache-fast" if fast else "cache-full"))
        env[settings.FAST_ENV] = "1" if fast else "0"
        how = f"executed in {'fast' if fast else 'full'} mode (cached in {env['CVAE_COURSE_SITE_CACHE']})"
    env["CVAE_COURSE_SITE_TIMEOUT"] = str(timeout or (600 if fast else 1800))
    env["CVAE_COURSE_SITE_REPOSITORY"] = launch.repository
    if html.exists():
        shutil.rmtree(html)
    log(f"Building the course site: {len(lessons)} lessons, {how} -> {html}")
    code = subprocess.call(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-W",
            "--keep-going",
            "-q",
            "-c",
            str(DOCS),
            "-d",
            str(out / "doctrees"),
            str(src),
            str(html),
        ],
        env=env,
        cwd=ROOT,
    )
    if code != 0:
        log(f"The site did not build cleanly (sphinx exit code {code}): see the warnings and errors above.")
        return code
    (html / "index.html").write_text(
        '<!DOCTYPE html>\n<meta charset="utf-8">\n<title>cvae-course</title>\n'
        '<meta http-equiv="refresh" content="0; url=docs/index.html">\n'
        '<a href="docs/index.html">cvae-course</a>\n'
    )
    (html / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ and _images/ as they are
    links = broken_links(html)
    for page, problem in links.problems:
        log(f"broken: {page}: {problem}")
    log(
        f"Checked {links.checked} links and images inside the site ({links.external} to other sites, not followed): "
        f"{len(links.problems)} broken. {time.monotonic() - started:.0f} s."
    )
    if links.problems:
        return 1
    log(f"Open {html / 'index.html'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 course.py site", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="execute the lessons in fast mode (what CI checks)")
    parser.add_argument(
        "--executed",
        type=Path,
        help="take the outputs from these executed notebooks (e.g. "
        "`cvae-course report --executed DIR`) and execute nothing",
    )
    parser.add_argument("--out", type=Path, default=BUILD, help="build folder (default: _build/site)")
    parser.add_argument(
        "--repository",
        default=os.environ.get("CVAE_COURSE_SITE_REPOSITORY", ""),
        help="the repository on GitHub, https://github.com/OWNER/REPO, for the launch links",
    )
    parser.add_argument("--branch", default="main", help="the branch the launch links open (default: main)")
    parser.add_argument(
        "--hub",
        default=os.environ.get("CVAE_COURSE_SITE_HUB", ""),
        help="a JupyterHub's address, https://HUB, for nbgitpuller launch links",
    )
    parser.add_argument("--timeout", type=int, help="seconds per cell (default 600 in fast mode, 1800 in full)")
    args = parser.parse_args(argv)
    if args.fast and args.executed:
        parser.error("--fast executes the lessons; --executed takes outputs already made: give one of them")
    if args.hub and not args.repository:
        parser.error("--hub needs --repository: nbgitpuller clones the repository onto the hub")
    return build(
        args.out,
        fast=args.fast,
        executed=args.executed,
        timeout=args.timeout,
        launch=Launch(args.repository, args.branch, args.hub),
    )


if __name__ == "__main__":
    sys.exit(main())
