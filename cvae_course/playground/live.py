"""Watch a CVAE learn: a Keras callback that redraws its latent space and its digits after every epoch.

Lesson 03 passes :class:`LiveView` to the training call: after each epoch the view encodes a fixed set of test
digits (the same ones every epoch) and shows where their codes lie, coloured by digit, beside one generated row of
0-9 drawn from fixed codes, so the learner sees the space organise and the digits sharpen while it trains. One
``ipywidgets.Image`` per picture, updated in place (PNG bytes; no figure piles up in the notebook). Outside a
notebook nothing is displayed and the pictures are still kept (``frames``).
"""

from __future__ import annotations

import io

import numpy as np

from cvae_course._keras import keras
from cvae_course.models import CVAE
from cvae_course.playground.pictures import tile, to_png
from cvae_course.validation import NUM_CLASSES, as_images, as_labels, check_model, check_positive_int, check_same_length

__all__ = ["LiveView"]

SCATTER_PIXELS = 320  # side of the latent scatter, in screen pixels
AX_LIMIT = 4.0  # the scatter shows codes in [-4, 4]^2: the prior N(0, 1) is well inside


class LiveView(keras.callbacks.Callback):
    """Redraws the latent codes of ``images`` and one row of generated digits 0-9 after every epoch.

    Args:
        images: test digits (N, 28, 28, 1) in [0, 1] to place in the latent space (the first ``n_points``).
        labels: their digits 0-9, shape (N,), for the colours.
        n_points: how many digits to encode each epoch.
        seed: fixes the codes of the generated row (the same codes every epoch, so only the model changes).
        show: display the pictures (in a notebook); False keeps them in :attr:`frames` only.

    Attributes:
        frames: one ``(epoch, scatter PNG bytes, digits PNG bytes)`` per epoch seen.
    """

    def __init__(self, images, labels, *, n_points: int = 1000, seed: int = 0, show: bool = True):
        super().__init__()
        n = check_positive_int(n_points, "n_points")
        x, y = as_images(images), as_labels(labels)
        check_same_length(x, y, "images", "labels")
        self.images, self.labels = x[:n], y[:n]
        self.codes_of_row = np.random.default_rng(seed).standard_normal((1, 2)).astype(np.float32)
        self.frames: list[tuple[int, bytes, bytes]] = []
        self._show = bool(show)
        self._widgets = None

    def _widgets_now(self):
        if self._widgets is None:
            import ipywidgets as widgets
            from IPython.display import display

            scatter, digits, caption = widgets.Image(format="png"), widgets.Image(format="png"), widgets.HTML()
            scatter.add_class("cvae-live-scatter")
            digits.add_class("cvae-live-digits")
            box = widgets.VBox([caption, widgets.HBox([scatter, digits])])
            box.add_class("cvae-live")
            display(box)
            self._widgets = scatter, digits, caption
        return self._widgets

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        model = check_model(self.model, CVAE, kind="CVAE being trained")
        codes = model.encode(self.images, self.labels)
        z = np.zeros((NUM_CLASSES, model.latent_dim), dtype=np.float32)
        z[:, : min(2, model.latent_dim)] = self.codes_of_row[0, : min(2, model.latent_dim)]
        row = model.generate(np.arange(NUM_CLASSES), z=z)
        scatter = _scatter_png(codes, self.labels, f"epoch {epoch + 1}: codes of {len(codes)} test digits")
        digits = to_png(tile(row, 5, scale=2, captions=[str(k) for k in range(NUM_CLASSES)]))
        self.frames.append((epoch + 1, scatter, digits))
        if self._show:
            scatter_image, digits_image, caption = self._widgets_now()
            loss = (logs or {}).get("loss")
            caption.value = (
                f"After epoch {epoch + 1}"
                + (f": -ELBO {loss:.1f} nats per training image" if loss is not None else "")
                + ". Left: the test digits' codes z[0], z[1], coloured by digit; "
                "right: 0-9 drawn from one fixed code."
            )
            scatter_image.value, digits_image.value = scatter, digits


def _scatter_png(codes: np.ndarray, labels: np.ndarray, title: str) -> bytes:
    """The first two code dimensions as a scatter coloured by digit, as PNG bytes (matplotlib, no pyplot state)."""
    from matplotlib.figure import Figure

    inches = SCATTER_PIXELS / 100
    fig = Figure(figsize=(inches, inches), dpi=100)
    ax = fig.add_subplot()
    ys = codes[:, 1] if codes.shape[1] > 1 else np.zeros(len(codes))
    points = ax.scatter(codes[:, 0], ys, c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=5)
    fig.colorbar(points, ax=ax, ticks=range(NUM_CLASSES), label="digit")
    ax.set(xlim=(-AX_LIMIT, AX_LIMIT), ylim=(-AX_LIMIT, AX_LIMIT), xlabel="z[0]", ylabel="z[1]")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
