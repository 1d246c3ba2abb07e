"""The course site: built from the lessons in fast mode (as CI does), with launch links, no broken link or image.

The whole-site test executes every lesson once more (about as long as their nbval run); the others build tiny sites
to show that a broken link and a cell error each fail the build.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest

from cvae_course.tools import NOTEBOOKS, site

try:
    import myst_nb  # noqa: F401
except ImportError:
    _REASON = "the site needs the dev set (`python3 course.py test` installs it)"
    if os.environ.get("CI") == "true":  # CI must build the site, never skip it
        raise ImportError(_REASON) from None
    pytest.skip(_REASON, allow_module_level=True)

LAUNCH = site.Launch("https://github.com/example/cvae-course", "main", "https://hub.example.edu")


def test_binder_and_nbgitpuller_links_have_the_documented_format():
    path = "notebooks/01_autoencoder.ipynb"
    assert LAUNCH.binder(path) == (
        "https://mybinder.org/v2/gh/example/cvae-course/main?urlpath=lab/tree/notebooks/01_autoencoder.ipynb"
    )
    assert LAUNCH.jupyterhub(path) == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fexample%2Fcvae-course"
        "&branch=main&urlpath=lab%2Ftree%2Fcvae-course%2Fnotebooks%2F01_autoencoder.ipynb"
    )
    assert site.launch_links(site.Launch(), path) == ""


def _page(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>")


def test_broken_links_finds_missing_pages_anchors_and_images_and_skips_other_sites(tmp_path):
    _page(
        tmp_path / "index.html",
        '<a href="a/page.html#there">ok</a> <a href="a/page.html#nowhere">bad anchor</a>'
        '<a href="missing.html">gone</a> <img src="_images/empty.png"> <img src="">'
        '<a href="https://example.org/x">other site</a> <a href="#top" id="top">top</a>',
    )
    _page(tmp_path / "a" / "page.html", '<h1 id="there">here</h1> <img src="../_images/full.png">')
    (tmp_path / "_images").mkdir()
    (tmp_path / "_images" / "empty.png").write_bytes(b"")
    (tmp_path / "_images" / "full.png").write_bytes(b"\x89PNG")
    report = site.broken_links(tmp_path)
    assert sorted(problem for _, problem in report.problems) == [
        "<a> points to a/page.html#nowhere: no element has that id",
        "<a> points to missing.html, which does not exist",
        "<img> with an empty address",
        "image _images/empty.png is an empty file",
    ]
    assert report.external == 1 and report.checked == 7


def _tiny_lessons(folder: Path, *cells: str) -> Path:
    folder.mkdir()
    for name, source in (("00_first.ipynb", cells[0]), ("01_second.ipynb", cells[1])):
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_markdown_cell(f"# {name}"), nbformat.v4.new_code_cell(source)]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / name)
    return folder


def _tiny_docs(folder: Path, text: str) -> Path:
    folder.mkdir()
    (folder / "index.md").write_text(f"# Tiny\n\n{text}\n\n```{{toctree}}\n:glob:\n\n../notebooks/*\n```\n")
    return folder


@pytest.mark.parametrize(
    ("link", "code", "expected"),
    [
        ("[next](../notebooks/02_gone.ipynb)", "print(1)", "02_gone"),
        ("[next](../notebooks/01_second.ipynb)", "raise ValueError('lesson bug')", "lesson bug"),
    ],
)
def test_a_broken_link_or_a_cell_error_fails_the_build(tmp_path, capfd, link, code, expected):
    lessons = _tiny_lessons(tmp_path / "notebooks", "print('first')", code)
    docs = _tiny_docs(tmp_path / "docs", link)
    code = site.build(tmp_path / "site", fast=True, notebooks=lessons, docs=docs, log=print)
    output = capfd.readouterr()
    assert code != 0
    assert expected in output.out + output.err


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    lines = []
    code = site.build(out, fast=True, launch=LAUNCH, log=lines.append)
    return code, out / "html", lines


def test_the_course_site_builds_in_fast_mode_without_a_warning_or_a_broken_link(built):
    code, html, lines = built
    assert code == 0, "\n".join(lines)
    assert re.search(r"Checked \d+ links and images inside the site .*: 0 broken", "\n".join(lines))


def test_every_lesson_has_a_page_with_its_outputs_and_its_launch_links(built):
    code, html, lines = built
    assert code == 0, "\n".join(lines)
    for lesson in sorted(NOTEBOOKS.glob("*.ipynb")):
        page = (html / "notebooks" / lesson.with_suffix(".html").name).read_text()
        path = f"notebooks/{lesson.name}"
        assert f'href="{LAUNCH.binder(path)}"' in page, f"{lesson.name}: no Binder link"
        assert f'href="{LAUNCH.jupyterhub(path).replace("&", "&amp;")}"' in page, f"{lesson.name}: no hub link"
        assert "cell_output" in page, f"{lesson.name}: the page shows no output: was the lesson executed?"
    assert list((html / "_images").glob("*.png")), "no figure made it to the site"
    assert (html / "index.html").read_text().count("docs/index.html") >= 1


def test_executed_notebooks_give_their_outputs_and_a_stale_one_is_refused(tmp_path):
    from nbclient import NotebookClient

    lessons = _tiny_lessons(tmp_path / "notebooks", "print('from the report run')", "print(2)")
    docs = _tiny_docs(tmp_path / "docs", "Two lessons.")
    executed = tmp_path / "executed"
    executed.mkdir()
    for lesson in lessons.glob("*.ipynb"):
        nb = nbformat.read(lesson, as_version=4)
        NotebookClient(nb, timeout=120).execute()
        nbformat.write(nb, executed / lesson.name)
    assert site.build(tmp_path / "site", executed=executed, notebooks=lessons, docs=docs, log=print) == 0
    assert "from the report run" in (tmp_path / "site" / "html" / "notebooks" / "00_first.html").read_text()
    assert not (tmp_path / "site" / "cache-full").exists()  # nothing was executed again
    stale = nbformat.read(executed / "01_second.ipynb", as_version=4)
    stale.cells[1].source = "print(3)"
    nbformat.write(stale, executed / "01_second.ipynb")
    with pytest.raises(SystemExit, match="does not have the code of"):
        site.build(tmp_path / "site", executed=executed, notebooks=lessons, docs=docs, log=print)
