"""Course-wide settings: the environment variables, the budget of each mode, seeding and the model cache folder.

Everything here is read from environment variables so that a notebook, a test run and CI can differ without
editing code (the names are the constants below; the tools use them too):

* ``CVAE_COURSE_FAST=1`` (:data:`FAST_ENV`) switches fast mode on: smaller data, fewer epochs. CI sets it;
  learners don't.
* ``CVAE_COURSE_MNIST=/path/to/mnist.npz`` (:data:`DATA_ENV`) names a local copy of MNIST (see
  :mod:`cvae_course.data`).
* ``CVAE_COURSE_CACHE=/path/to/dir`` (:data:`CACHE_ENV`) says where trained models are cached
  (default: ``~/.cache/cvae-course``).
* ``CVAE_COURSE_TF_THREADS`` (:data:`THREADS_ENV`) chooses TensorFlow's thread pools (see :func:`tf_threads`):
  unset or ``auto`` for the course's measured choice, ``default`` for TensorFlow's own, or ``INTRA,INTER``.

What each mode costs: :func:`budget` returns one :class:`Budget`, the only place where the course's epoch counts
and data sizes live. Full mode is what learners run; fast mode is what CI and grading run.

==========================  ======  ======  ==============================================================
field                       full    fast    used by
==========================  ======  ======  ==============================================================
train_size                  all     6000    data.load_mnist: training images (all: the whole split)
test_size                   all     2000    data.load_mnist: test images (all: the whole split)
autoencoder_epochs          4       2       lesson 01: the autoencoder
vae_epochs                  4       2       lesson 02: the VAE (lesson 03 reuses it)
buggy_vae_epochs            2       1       lesson 02: the VAE trained on the buggy loss
cvae_epochs                 3       3       lesson 03: the course CVAE (lessons 04, 05 and 07 reuse it)
holdout_vae_epochs          6       3       lesson 05: the VAE trained without some digits
beta_sweep_epochs           6       3       lesson 07: CVAEs of the beta sweep (after the warm-up's epochs)
kl_warmup_epochs            2       2       lesson 07: KL annealing warm-up (every sweep model trains as long)
n_writers                   1000    200     lesson 05: test digits rewritten as every other digit
report_samples_per_label    200     20      lesson 07: samples per label behind a collapse report
quadrant_epochs             2       2       lesson 06: the baseline, passes over every image x 3 settings
quadrant_cvae_epochs        3       3       lesson 06: the CVAEs (built on the baseline), passes as above
quadrant_test_size          10000   500     lesson 06: test images scored by importance sampling (S = 100)
exercise_train_size         12000   2000    exercises: training images of a graded notebook
exercise_test_size          2000    500     exercises: test images of a graded notebook
exercise_epochs             3       2       exercises: training epochs of a graded notebook
==========================  ======  ======  ==============================================================

How long each lesson takes in full mode, measured: the README's table, written by ``cvae-course report`` from the
full-course report (``docs/full-course-report.md``). The full mode's epochs are few because
:func:`cvae_course.training.train` trains on a one-cycle schedule, except the held-out VAE's, which keeps its
constant rate (:mod:`cvae_course.recipes`). The held-out VAE ranks the unseen 0s worse when it is trained on the
one-cycle schedule, although it fits the other digits better (AUROC 0.913 after 6 one-cycle epochs peaking at 2e-3,
0.909 at 3e-3 in batches of 256, against 0.938 after 6 constant-rate epochs; the constant rate's AUROC rises with
every epoch: 0.894, 0.903, 0.915, 0.929, 0.935, 0.938 after 1-6, 0.945 after 10), so it keeps Adam at a constant
1e-3 for 6 epochs (10 before: 40 % less training for an AUROC 0.007 lower). The course CVAE trains 3 one-cycle
epochs in batches of 128 (fast mode: of 256), its decoder starting at the average training image
(models.build_cvae's start_images; before: 5 such epochs in batches of 256, 6 from Keras's initialisation, and 10
constant-rate epochs at 3e-3 before that). Its test -ELBO after epochs 1-3 (full mode): 140.2, 135.5, 133.7 at seed 42,
142.7, 136.1, 134.0 at seed 1, 141.7, 135.9, 134.1 at seed 2: the benchmark's bar (135) after epoch 3 at every seed. An
epoch in batches of 128 costs about 1.2 of one in batches of 256 (3.43 against 2.85 CPU s, medians of 6, load 5.5-7),
so the bar costs about 3.6 epochs of 256 instead of 4. In batches of 256 the 5-epoch cycle gave 142.7, 137.9, 135.4,
133.7, 133.1 at seed 42 (133.8, 134.2 after epoch 4 at seeds 1, 2); the same cycle from Keras's initialisation 147.2,
140.2, 137.1, 135.2, 134.7; a 4-epoch cycle reached the bar after epoch 3 at seed 42 only in a first run (134.9,
135.05, 135.35 at seeds 42, 1, 2) and only just or not at all in a second (135.0, 135.3, 135.5, rounded). Batches of
512 are cheaper per epoch (0.77 of 256) but
learn less per epoch: 135.7 and 135.2 after 5 epochs at seed 42 (peak 1.5e-2, 2e-2); a 3-epoch cycle in batches of 192
missed the bar at seed 1 (134.5, 135.8, 134.9 at seeds 42, 1, 2), a 2-epoch cycle in batches of 64 at seed 42 (135.6,
134.8, 134.9). With this recipe lesson 05's
slant correlation is 0.863 at seed 42 (ink 0.342), 0.868 at seed 1 (ink 0.357). With the 5-epoch cycle
lesson 05's slant correlation was 0.855 at seed 42 (its ink 0.312); before, measured after every epoch as lesson 03
trains it, with the test set as validation data: which style the 2-D code carries is settled in the first epoch or
two and depends on the seed, not on the last learning rate: the slant correlation of lesson 05 was 0.87 and
0.86 after 6 one-cycle epochs at seeds 42 and 1 but 0.43 at seed 2 (0.51 already after its first epoch); with the
constant rate 0.66 after epoch 1, then 0.85-0.88 for epochs 2-10; one-cycle in batches of 128 (the earlier session)
gave 0.40-0.86 for 4-8 epochs. Fast mode trained 5 epochs from Keras's initialisation: on its 6,000 images the
one-cycle CVAE carried the slant over with 0.08, 0.29, 0.76, 0.67 after 3, 4, 5, 6 epochs (lesson 05 says above 0.1 in
both modes). Starting at the average image it trains 3: slant 0.72, 0.61, 0.75, 0.71 after 3-6 epochs (seed 42, no
validation data; lesson 05's run: 0.71), and after 5 its KL (4.04) was above the 2-epoch lesson-02 VAE's (3.95),
which lesson 03 says it is not (after 3: 2.75 in lesson 03's run). It keeps batches of 256: in batches of 128 its KL
was 4.11 after 3 epochs, and after 2 only 2 of lesson 05's ten least typical translations were 1s (the lesson says at
least 5). The ten
least typical translations (smudged 1s) are read as 1s by the judge only late in the constant-rate run (none of ten
after epochs 1-7, 3 after 8 and 9, 4 after 10) and after none of 5-8 one-cycle epochs at seed 42 (7 of ten at seed
2): lesson 05 now says the judge reads most of them as another digit.

The beta sweep (lesson 07) trains 2 + 6 epochs on hidden layers of 128 and 64 units (recipes.BETA_HIDDEN), one-cycle to
1e-2 in batches of 256 (the course CVAE's batches until 23f7847); until issue 15 it trained the course CVAE's 512
and 256 units, to 5e-3 in
batches of 128. CPU seconds of its training call (one process, in alternation, full mode, load 8-13 from other work):
wide 117.9 and 105.1 s, narrow in batches of 128 52.1 and 47.3 s (0.44, 0.45), narrow in batches of 256 34.9 and 34.5 s
(0.30, 0.33); about 10 of the narrow sweep's seconds are spent before its first steps, tracing the four models' step
(one epoch of 2,048 images: 10.0 CPU s). Since then the four train as one stacked network (training._Stacked: each
weight array holds the four members' copies), traced once: one epoch of 2,048 images 9.6, 9.7, 9.4 -> 4.1, 3.9, 2.8 CPU
s, the whole sweep 46.0, 38.4 -> 32.7, 31.9 CPU s (one process, old and new alternated, full mode, load 3-7). The same
updates up to float32 rounding, which tips one model at seed 42: beta = 4 now keeps 5 active dimensions and 3.62 nats
of KL (3 and 3.20 before), inside the range the seeds gave; every claim of lesson 07 held at seeds 42 and 1 and in
fast mode. What lesson 07 claims was measured at seeds 42, 1, 2 and 3 in full mode and at
42 and 1 in fast mode. Narrow, batches of 256: the collapse and warm-up claims held at every seed (full mode: KL
10.4-11.6, 3.2-3.6 and 0.04-0.40 nats at beta 1, 4, 16; active dimensions 7-8, 3-5 and 1-2; with the warm-up KL 4.6-4.7
and reconstruction 122.7-123.5 nats against 3.2-3.6 and 128.6-132.2 without). Narrow, batches of 128 (landed first,
0b83f5e): the same claims held at every seed (active 8, 4-6, 1). The traversal gaps did not hold at every seed with any
recipe: beta = 4 had the larger ink gap at 2 of the 4 seeds in batches of 256 (none in batches of 128) and the larger
slant gap at 3 of 4 with both; the wide sweep's slant claim held at seed 42 only (seed 1: 0.42 against 0.76, seed 2:
0.53 against 0.58). Lesson 07 now claims what held at every seed of every recipe: beta = 4 steers the style with fewer
dimensions (moving the ink or the slant by more than 0.1: 3-4 of 8 against 6-7 at beta = 1 in batches of 256; the wide
sweep 4 against 7 and 8 at seeds 1 and 2), and says that the gaps change with the seed. Variants that failed a claim at
seed 42: peak 5e-3 in batches of 256 (beta = 16 kept 6 active dimensions; lesson 07 says at most 2; on 256 and 128 units
it kept 4), 2 + 4 epochs on 256 and 128 units in batches of 128 (beta = 4 kept 8, as many as beta = 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "DATA_ENV",
    "DEFAULT_SEED",
    "FAST_ENV",
    "MEASURED_THREADS",
    "MODES",
    "THREADS_ENV",
    "Budget",
    "budget",
    "cache_dir",
    "fast_mode",
    "mode_name",
    "seed_everything",
    "tf_threads",
]

FAST_ENV = "CVAE_COURSE_FAST"
DATA_ENV = "CVAE_COURSE_MNIST"
CACHE_ENV = "CVAE_COURSE_CACHE"
THREADS_ENV = "CVAE_COURSE_TF_THREADS"
DEFAULT_SEED = 42
MODES = ("full", "fast")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Budget:
    """Every epoch count and data size of one mode (see the table in the module docstring).

    Sizes are numbers of images; ``None`` means the whole split. Epochs are passes over the training images.
    """

    mode: str
    train_size: int | None
    test_size: int | None
    autoencoder_epochs: int
    vae_epochs: int
    buggy_vae_epochs: int
    cvae_epochs: int
    holdout_vae_epochs: int
    beta_sweep_epochs: int
    kl_warmup_epochs: int
    n_writers: int
    report_samples_per_label: int
    exercise_train_size: int
    exercise_test_size: int
    exercise_epochs: int
    quadrant_epochs: int
    quadrant_cvae_epochs: int
    quadrant_test_size: int


_BUDGETS = {
    "full": Budget(
        mode="full",
        train_size=None,
        test_size=None,
        autoencoder_epochs=4,
        vae_epochs=4,
        buggy_vae_epochs=2,
        cvae_epochs=3,
        holdout_vae_epochs=6,
        beta_sweep_epochs=6,
        kl_warmup_epochs=2,
        n_writers=1000,
        report_samples_per_label=200,
        exercise_train_size=12000,
        exercise_test_size=2000,
        exercise_epochs=3,
        quadrant_epochs=2,
        quadrant_cvae_epochs=3,
        quadrant_test_size=10_000,
    ),
    "fast": Budget(
        mode="fast",
        train_size=6000,
        test_size=2000,
        autoencoder_epochs=2,
        vae_epochs=2,
        buggy_vae_epochs=1,
        cvae_epochs=3,
        holdout_vae_epochs=3,
        beta_sweep_epochs=3,
        kl_warmup_epochs=2,
        n_writers=200,
        report_samples_per_label=20,
        exercise_train_size=2000,
        exercise_test_size=500,
        exercise_epochs=2,
        quadrant_epochs=2,
        quadrant_cvae_epochs=3,
        quadrant_test_size=500,
    ),
}


def fast_mode() -> bool:
    """True when ``CVAE_COURSE_FAST`` asks for the quick, CI-sized run."""
    raw = os.environ.get(FAST_ENV, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(
        f"{FAST_ENV}={os.environ[FAST_ENV]!r} is not understood; "
        f"set it to 1 for fast mode or 0 (or unset it) for the full course."
    )


def mode_name() -> str:
    """'fast' or 'full', from ``CVAE_COURSE_FAST``: used in cache file names so the two modes never share a model."""
    return "fast" if fast_mode() else "full"


def budget(mode: str | None = None) -> Budget:
    """The epochs and data sizes of ``mode`` ('full' or 'fast'; None: the current mode, see :func:`mode_name`)."""
    mode = mode_name() if mode is None else mode
    if mode not in _BUDGETS:
        raise ValueError(f"mode must be one of {MODES} (or None for the current mode), got {mode!r}")
    return _BUDGETS[mode]


def cache_dir() -> Path:
    """Folder for cached models (created on first use)."""
    raw = os.environ.get(CACHE_ENV)
    path = Path(raw).expanduser() if raw else Path.home() / ".cache" / "cvae-course"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(
            err.errno,
            f"the model cache folder {path} cannot be created ({err.strerror or err}): set {CACHE_ENV} to a folder "
            f"you can write (or unset it to use ~/.cache/cvae-course)",
        ) from err
    return path


def seed_everything(seed: int = DEFAULT_SEED) -> int:
    """Seed Python, NumPy and Keras (and so TensorFlow) so that a run can be repeated; returns the seed."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    from cvae_course._keras import keras  # here, not at the top: settings serves the tools too, without TensorFlow

    keras.utils.set_random_seed(seed)
    return seed


# (intra-op, inter-op) threads by the number of cores this process may use: only where benchmarks/tf_settings.py
# measured a setting faster than TensorFlow's defaults, repeatably (see tf_threads). Empty: no setting was.
MEASURED_THREADS: dict[int, tuple[int, int]] = {}


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what TensorFlow counts too: ``taskset`` and containers can limit it
    except (AttributeError, OSError):  # no affinity on macOS and Windows
        return os.cpu_count() or 1


def tf_threads(cores: int | None = None) -> tuple[int, int] | None:
    """TensorFlow's (intra-op, inter-op) thread counts for the course, or None for TensorFlow's own defaults.

    TensorFlow runs each op (a matrix product, a convolution) on a pool of intra-op threads and independent ops side
    by side on inter-op threads; by default both pools are as large as the number of cores. :mod:`cvae_course._keras`
    applies this choice once, right after importing TensorFlow and before its runtime starts (if something ran
    TensorFlow before the course was imported, its threads are already fixed and stay as they are; a warning
    says so).

    ``CVAE_COURSE_TF_THREADS`` (:data:`THREADS_ENV`):

    * unset or ``auto``: the measured choice for this number of cores, :data:`MEASURED_THREADS`; for core counts not
      measured, None (TensorFlow's defaults);
    * ``default``: None, TensorFlow's defaults;
    * ``INTRA,INTER``: two positive integers, e.g. ``2,2``.

    Measured on 2 cores with ``benchmarks/tf_settings.py`` (fresh processes in alternation, medians of 3 rounds,
    relative to TensorFlow's defaults; the machine was shared with other work, so each run's load is given):

    * an earlier run, load 0.8-3.4, the course CVAE's training in batches of 128 (images per second): intra 1 /
      inter 2 1.26x, intra 1 / inter 1 1.08x, intra 2 / inter 1 0.80x;
    * a later run, load 5.3-8.8, time ratios (below 1 is faster) of the course CVAE's training in batches of 256 as
      lesson 03 trains it (from its images per second), one epoch of lesson 06's quadrant CVAE on 8,000 images, its
      importance-sampled scoring of 1,000 test images, then the judge's labels, the course CVAE's codes and its
      -ELBO of the 10,000 test images: intra 1 / inter 2 1.36, 0.70, 0.55, 0.99, 0.77, 1.49; intra 1 / inter 1
      1.32, 0.53, 0.66, 0.99, 1.12, 0.84; intra 2 / inter 1 0.91, 0.82, 0.47, 0.54, 0.51, 0.47;
    * a third run, load 3.7-6.6, the same time ratios: intra 1 / inter 2 0.98, 0.75, 2.16, 1.54, 1.31, 1.35;
      intra 2 / inter 1 0.96, 0.73, 1.14, 1.68, 1.82, 1.57;
    * a fourth run on a nearly quiet machine, load 1.1-2.1, the same time ratios: intra 1 / inter 2 1.07, 0.84,
      1.51, 1.42, 1.01, 0.90; intra 1 / inter 1 1.47, 1.03, 1.63, 1.53, 1.03, 0.98; intra 2 / inter 1 1.49, 1.16,
      1.13, 1.03, 0.97, 0.88 (TensorFlow's defaults: 16,576 training images/s).

    Under load the setting that was best in one run was worst in another, and one setting's single runs varied up
    to 2x between rounds. On the nearly quiet machine TensorFlow's defaults trained the course CVAE fastest and
    scored fastest (one intra-op thread makes lesson 06's scoring and the judge 1.4-1.6 times slower); only lesson
    06's quadrant epoch ran faster with intra 1 / inter 2 (0.84). So the course keeps TensorFlow's defaults on every
    core count (:data:`MEASURED_THREADS` is empty); other core counts were not measured. (Lesson 06's quadrant CVAE
    in these runs was the one of its time: batches of 128, a 32-D code; the benchmark now times today's, in batches of
    256 with a 16-D code, which was not rerun.)

    Args:
        cores: the cores TensorFlow will use (default: the cores this process may run on).
    """
    raw = os.environ.get(THREADS_ENV, "").strip().lower()
    if raw in ("", "auto"):
        return MEASURED_THREADS.get(_usable_cores() if cores is None else cores)
    if raw == "default":
        return None
    parts = raw.replace(" ", "").split(",")
    if len(parts) == 2 and all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        return int(parts[0]), int(parts[1])
    raise ValueError(
        f"{THREADS_ENV}={os.environ[THREADS_ENV]!r} is not understood; set it to two positive integers INTRA,INTER "
        f"(TensorFlow's intra-op and inter-op threads, e.g. 2,2), to 'default' for TensorFlow's own thread counts, "
        f"or to 'auto' (or unset it) for the course's measured choice."
    )
