"""Sphinx configuration of the course site (Sphinx + MyST-NB + the book theme).

Do not run sphinx-build on this folder by hand: ``python3 course.py site`` (cvae_course/tools/site.py) stages the
lessons and docs/ into _build/site/src, sets the variables read below and builds. They say how to execute the lessons:

* ``CVAE_COURSE_SITE_EXECUTE``: ``cache`` (run each lesson once and keep its outputs in
  ``CVAE_COURSE_SITE_CACHE`` until its code changes) or ``off`` (the staged notebooks already hold their outputs,
  e.g. from ``cvae-course report --executed DIR``);
* ``CVAE_COURSE_SITE_TIMEOUT``: seconds per cell;
* ``CVAE_COURSE_SITE_REPOSITORY`` (optional): the repository's web address, for the repository button.
"""

import os

project = "cvae-course"
author = "the cvae-course authors"
copyright = "the cvae-course authors; code MIT, MNIST CC BY-SA 3.0"  # noqa: A001 - Sphinx's name
root_doc = "docs/index"
extensions = ["myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# Executing the lessons: every error fails the build (a cell tagged raises-exception may raise).
nb_execution_mode = os.environ.get("CVAE_COURSE_SITE_EXECUTE", "cache")
nb_execution_cache_path = os.environ.get("CVAE_COURSE_SITE_CACHE", "")
nb_execution_timeout = int(os.environ.get("CVAE_COURSE_SITE_TIMEOUT", "1800"))
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
# A claim cell's output carries a machine-readable record for the report (application/vnd.cvae-course.claim+json)
# beside its text line; the page shows the text, and the record may not warn (-W makes a warning an error).
suppress_warnings = ["mystnb.unknown_mime_type"]
# Widgets (the playground, progress bars) are shown in the state the run left them in, with ipywidgets' HTML manager
# (loaded from a CDN by the reader's browser, like MathJax); moving them needs a kernel: the launch links.

html_theme = "sphinx_book_theme"
html_title = "cvae-course"
html_theme_options = {
    "use_download_button": True,
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
repository = os.environ.get("CVAE_COURSE_SITE_REPOSITORY", "")
if repository:
    html_theme_options.update(repository_url=repository, use_repository_button=True)
html_last_updated_fmt = ""
