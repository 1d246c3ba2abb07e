"""Test-session settings: fast mode and a fresh model cache, set before anything imports the course.

At the repository root so that they also apply to `pytest notebooks/01_autoencoder.ipynb` on its own.
Variables already set win (e.g. CVAE_COURSE_CACHE to reuse trained models between runs).
"""

import os
import tempfile

os.environ.setdefault("CVAE_COURSE_FAST", "1")
os.environ.setdefault("CVAE_COURSE_CACHE", tempfile.mkdtemp(prefix="cvae-course-cache-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
