"""Lesson 06's playground panel: complete part of a test digit with Sohn et al.'s CVAE, again and again.

:class:`Completions` is an ``ipywidgets.VBox``: pick a test digit and how many quadrants the models see (1, 2 or 3),
press "sample" for new completions. One picture shows, left to right, the whole digit, the visible part (hidden
quadrants light grey), the baseline's prediction (one blurry average, the same at every press) and ``n_samples``
completions, each drawn with a new z from the prior network p(z | x). ``last_images`` holds what it drew, in that
order, as pixel probabilities (what :func:`cvae_course.quadrants.complete` returns for the same seed).
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from cvae_course.playground.pictures import tile, to_png
from cvae_course.quadrants import SETTINGS, Baseline, QuadrantCVAE, complete, fill, make_task
from cvae_course.validation import as_images, check_index, check_model, check_positive_int

__all__ = ["Completions"]

SHOWN_HIDDEN = 0.25  # how a hidden pixel is drawn: light grey, so that the hidden quadrants show as a patch


class Completions(widgets.VBox):
    """Pick a test digit and the visible quadrants; "sample" draws new completions beside the baseline's mean.

    Args:
        model: a trained :class:`~cvae_course.quadrants.QuadrantCVAE` (``recipes.train_quadrant_cvae``).
        baseline: a trained :class:`~cvae_course.quadrants.Baseline` (``recipes.train_quadrant_baseline``).
        images: the test digits to choose from, (N, 28, 28, 1) in [0, 1].
        n_samples: completions per press.
        index: the digit shown first; n_visible: 1, 2 or 3 visible quadrants at first.
    """

    def __init__(
        self, model: QuadrantCVAE, baseline: Baseline, images, *, n_samples: int = 8, index: int = 0, n_visible: int = 1
    ):
        self.model = check_model(model, QuadrantCVAE, kind="trained quadrants.QuadrantCVAE")
        self.baseline = check_model(baseline, Baseline, kind="trained quadrants.Baseline")
        self.images = as_images(images)
        self.n_samples = check_positive_int(n_samples, "n_samples")
        self.presses = 0
        self.last_images = np.zeros((0, 28, 28, 1), dtype=np.float32)
        self.index = widgets.BoundedIntText(
            value=check_index(index, len(self.images), "index", "test digit"),
            min=0,
            max=len(self.images) - 1,
            description="test digit",
        )
        self.visible = widgets.ToggleButtons(
            options=[(f"{k} visible", k) for k in SETTINGS], value=n_visible, description="quadrants"
        )
        self.sample = widgets.Button(description="sample", tooltip="draw new completions", icon="refresh")
        self.picture = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.index.observe(self._render, names="value")
        self.visible.observe(self._render, names="value")
        self.sample.on_click(self._press)
        super().__init__([widgets.HBox([self.index, self.visible, self.sample]), self.picture, self.caption])
        self._render()

    def _press(self, _button=None) -> None:
        self.presses += 1
        self._render()

    def _render(self, _change=None) -> None:
        image = self.images[self.index.value : self.index.value + 1]
        x, _ = make_task(image, self.visible.value)
        mean = fill(x, self.baseline.predict_hidden(x))
        samples = complete(self.model, x, self.n_samples, seed=self.presses)[:, 0]
        shown = np.where(x < 0, np.float32(SHOWN_HIDDEN), x)
        self.last_images = np.concatenate([image, shown, mean, samples]).astype(np.float32)
        self.picture.value = to_png(tile(self.last_images, len(self.last_images)))
        self.caption.value = (
            f"digit, what the models see, the baseline's prediction, then {self.n_samples} "
            f"CVAE completions (press {self.presses}: each press draws new codes z ~ p(z | x))"
        )
