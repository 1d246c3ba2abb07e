"""Test-session settings: fast mode and a fresh model cache, set before anything imports the course.

At the repository root so that they also apply to `pytest notebooks/01_autoencoder.ipynb` on its own.
Variables already set win (e.g. CVAE_COURSE_CACHE to reuse trained models between runs).
"""

import os
import shutil
import tempfile

os.environ.setdefault("CVAE_COURSE_FAST", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_OWN_CACHE = None if "CVAE_COURSE_CACHE" in os.environ else tempfile.mkdtemp(prefix="cvae-course-cache-")
if _OWN_CACHE:
    os.environ["CVAE_COURSE_CACHE"] = _OWN_CACHE


def pytest_unconfigure(config):
    """Remove the session's model cache (trained models are large); a cache the caller named is kept."""
    if _OWN_CACHE:
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)
